"""The Prometheus adapter against servers that fail: closed ports, slow, wrong answers; the fixture's own errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from webscale_local import prometheus as prometheus_fixture
from webscale_local.http_server import reply, serving
from webscale_local.ports import free_port
from webscale_local.prometheus import start_prometheus

from webscale.api.observation import Observation
from webscale.api.ref import AppRef
from webscale.metrics.prometheus import AppQuery, PrometheusSource

pytestmark = pytest.mark.e2e

SHOP, API = AppRef("default", "shop"), AppRef("default", "api")
TEMPLATE = 'sum(rate(http_requests_total{namespace={namespace},app={app},managed_by="webscale"}[{window}]))'


def query(url: str, key: AppRef, **kwargs: object) -> AppQuery:
    return AppQuery(key, url, **kwargs)  # type: ignore[arg-type]


def test_closed_port_is_connection_refused():
    url = f"http://127.0.0.1:{free_port()}"
    observed = PrometheusSource().observe([query(url, SHOP), query(url, API, request_rate_template=TEMPLATE)], now=5.0)
    assert {o.error for o in observed.values()} == {f"Prometheus unreachable at {url}: connection refused"}


class Misbehaving(BaseHTTPRequestHandler):
    """Answers /<mode>/api/v1/query the wrong way: slow, 503, not JSON, a matrix, 400, too large."""

    def do_GET(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        mode = self.path.split("/")[1]
        if mode == "redirect":  # to a path of this server that would answer like a good Prometheus
            self.send_response(302)
            self.send_header("Location", "/landing/api/v1/query?query=vector(1)")
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if mode == "landing":
            return self._send(200, b'{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}')
        if mode == "secret":
            return self._send(404, b"<html>internal admin page, token=s3cr3t</html>", "text/html")
        if mode == "slow":
            time.sleep(2.0)  # the behaviour under test: a Prometheus slower than the client's timeout
            return self._send(200, b'{"status":"success","data":{"resultType":"vector","result":[]}}')
        if mode == "unavailable":
            return self._send(503, b"Service Unavailable")
        if mode == "html":
            return self._send(200, b"<html>login</html>", "text/html")
        if mode == "matrix":
            body = {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": []}]}}
            return self._send(200, json.dumps(body).encode())
        if mode in ("huge", "hugestream"):  # a vector of 10,000 series, with or without a length
            series = [{"metric": {"i": str(i)}, "value": [1, "1"]} for i in range(10_000)]
            body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": series}}).encode()
            if mode == "huge":
                return self._send(200, body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()  # no Content-Length: the body ends when the connection closes
            self.wfile.write(body)
            return None
        if mode == "nodata":
            return self._send(200, b'{"status":"success"}')
        body = {"status": "error", "errorType": "bad_data", "error": "invalid parameter"}
        return self._send(400, json.dumps(body).encode())

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        reply(self, status, body, content_type)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def misbehaving() -> Iterator[ThreadingHTTPServer]:
    """The server; its `paths` are every path it was asked for."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    server.daemon_threads = True
    server.paths = []  # type: ignore[attr-defined]
    with serving(server):
        yield server


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("slow", "did not answer within 0.5s (timeout)"),
        ("unavailable", "answered HTTP 503: Service Unavailable"),
        ("html", "sent a malformed answer: not JSON"),
        (
            "matrix",
            "gave an unexpected answer: the query returned a range vector, expected an instant vector "
            "(take rate(...) or another *_over_time of it)",
        ),
        ("nodata", "gave an unexpected answer: no data.result in the answer"),
        ("huge", "sent an answer larger than 65536 bytes: refused (narrow the query)"),
        ("hugestream", "sent an answer larger than 65536 bytes: refused (narrow the query)"),
        ("bad", "rejected the query (HTTP 400): bad_data: invalid parameter"),
        ("redirect", "answered with a redirect (HTTP 302), which the operator does not follow"),
        ("secret", "rejected the query (HTTP 404): Not Found"),  # the page itself never shows
    ],
)
def test_misbehaving_server_gives_failures_not_exceptions(misbehaving: ThreadingHTTPServer, mode: str, reason: str):
    url = f"http://127.0.0.1:{misbehaving.server_address[1]}/{mode}"
    source = PrometheusSource(timeout=0.5, max_response_bytes=64 * 1024)
    started = time.monotonic()
    observed = source.observe([query(url, SHOP), query(url, API)], now=1.0)
    assert time.monotonic() - started < 4  # two queries, each bounded by the timeout, no retries
    assert source.last_poll_queries == 2
    for observation in observed.values():
        assert observation == Observation.failed(1.0, f"Prometheus at {url} {reason}")
    paths = misbehaving.paths  # type: ignore[attr-defined]
    assert len(paths) == 2 and all(p.startswith(f"/{mode}/api/v1/query?") for p in paths), paths  # no redirect followed


def test_missing_prometheus_is_a_clear_failure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(prometheus_fixture, "PROMETHEUS", str(tmp_path / "no-such-prometheus"))
    monkeypatch.setenv("PATH", str(tmp_path))
    missing = pytest.raises(prometheus_fixture.PrometheusMissing, match=r"make deps.*Debian package `prometheus`")
    with missing, start_prometheus(tmp_path, []):
        pass


def test_failed_start_shows_the_log(tmp_path: Path):
    failed = pytest.raises(RuntimeError, match=r"(?s)Prometheus did not start: process exited.*last log lines")
    with failed, start_prometheus(tmp_path, [("127.0.0.1:1", {"0-not-a-label-name": "x"})]):
        pass
