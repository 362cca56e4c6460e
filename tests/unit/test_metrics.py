"""The Prometheus adapter without a server: result parsing, failure reasons, batching and counting.

The adapter's HTTP side is exercised against a real Prometheus in
tests/e2e/test_metrics_prometheus.py; here a recording client stands in for
PrometheusConnect so grouping and counting can be checked exactly.
"""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Callable
from typing import Any

import pytest
import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ReadTimeoutError

from webscale import promql
from webscale.metrics import (
    AppQuery,
    MalformedResult,
    MetricsSource,
    PrometheusSource,
    cpu_usage,
    describe_failure,
    parse_vector,
    request_rates,
    template_rate,
)
from webscale.models import parse_spec
from webscale.observation import AppKey, Observation

URL = "http://prometheus.test:9090"
SHOP, API, OTHER_SHOP = AppKey("default", "shop"), AppKey("default", "api"), AppKey("billing", "shop")
WHAT = 'http_requests_total{managed_by="webscale"}'


def sample(namespace: str, app: str, value: str, **labels: str) -> dict[str, Any]:
    return {"metric": {"namespace": namespace, "app": app, **labels}, "value": [1700000000.0, value]}


# ---- parsing ---------------------------------------------------------------------------------


def test_multiple_apps_in_one_vector():
    result = [
        sample("default", "shop", "40.5"),
        sample("billing", "shop", "13"),
        sample("default", "api", "0"),
        sample("default", "not-asked-for", "99"),
    ]
    assert request_rates(result, [SHOP, API, OTHER_SHOP], WHAT) == {SHOP: 40.5, API: 0.0, OTHER_SHOP: 13.0}


def test_empty_result_is_a_failure_for_every_app_not_zero():
    assert request_rates([], [SHOP, API], WHAT) == {
        SHOP: 'no series for app "shop" in namespace "default" (http_requests_total{managed_by="webscale"})',
        API: 'no series for app "api" in namespace "default" (http_requests_total{managed_by="webscale"})',
    }


def test_zero_is_zero_traffic():
    rates = request_rates([sample("default", "shop", "0")], [SHOP], WHAT)
    assert rates == {SHOP: 0.0} and isinstance(rates[SHOP], float)


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf"])
def test_nan_and_inf_are_failures(value):
    reason = request_rates([sample("default", "shop", value)], [SHOP], WHAT)[SHOP]
    assert isinstance(reason, str) and "shop" in reason
    assert str(float(value)) in reason


def test_hostile_names_in_messages_are_quoted():
    key = AppKey("default", 'a"\nb')
    reason = request_rates([], [key], WHAT)[key]
    assert reason.startswith('no series for app "a\\"\\nb" in namespace "default"')
    assert "\n" not in reason


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ({"resultType": "vector"}, "expected an instant vector"),
        ([1700000000.0, "1"], "scalar or string"),
        ([{"metric": {}, "values": [[1, "1"]]}], "range vector"),
        ([{"metric": {}}], "malformed sample"),
        ([{"metric": "x", "value": [1, "1"]}], "malformed sample"),
        ([sample("default", "shop", "fast")], "is not a number"),
        (None, "expected an instant vector"),
    ],
)
def test_unexpected_result_shapes(result, message):
    with pytest.raises(MalformedResult, match=message):
        parse_vector(result)
    with pytest.raises(MalformedResult):
        request_rates(result, [SHOP], WHAT)


def test_cpu_usage_reads_cores_and_pods():
    result = [
        sample("default", "shop", "0.5", webscale_signal="cpu"),
        sample("default", "shop", "2", webscale_signal="pods"),
        sample("default", "api", "0", webscale_signal="cpu"),
        sample("default", "api", "1", webscale_signal="pods"),
    ]
    usage = cpu_usage(result, [SHOP, API, OTHER_SHOP], "cpu")
    assert usage[SHOP] == (0.5, 2)
    assert usage[API] == (0.0, 1)
    assert usage[OTHER_SHOP] == 'no series for app "shop" in namespace "billing" (cpu)'


def test_cpu_nan_is_a_failure():
    result = [
        sample("default", "shop", "NaN", webscale_signal="cpu"),
        sample("default", "shop", "1", webscale_signal="pods"),
    ]
    assert "is nan" in cpu_usage(result, [SHOP], "cpu")[SHOP]


def test_template_results():
    assert template_rate([1700000000.0, "12.5"], SHOP) == 12.5  # scalar
    assert template_rate([sample("default", "shop", "1"), sample("x", "y", "2.5")], SHOP) == 3.5  # summed
    assert template_rate([], SHOP).startswith('no series for app "shop"')
    assert "nan" in template_rate([1700000000.0, "NaN"], SHOP)
    with pytest.raises(MalformedResult):
        template_rate([{"metric": {}, "values": []}], SHOP)


# ---- failure reasons -------------------------------------------------------------------------


def api_error(status: int, body: bytes) -> PrometheusApiClientException:
    """The exception prometheus-api-client raises for a non-200 answer (same message format)."""
    return PrometheusApiClientException(f"HTTP Status Code {status} ({body!r})")


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (
            requests.exceptions.ConnectionError(
                "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded "
                "(Caused by NewConnectionError('[Errno 111] Connection refused'))"
            ),
            f"Prometheus unreachable at {URL}: connection refused",
        ),
        (requests.exceptions.ReadTimeout("read timed out"), f"Prometheus at {URL} did not answer within 5s (timeout)"),
        (requests.exceptions.ConnectTimeout("connect"), f"Prometheus at {URL} did not answer within 5s (timeout)"),
        (
            requests.exceptions.ConnectionError("Failed to resolve 'prometheus.test'"),
            f"Prometheus unreachable at {URL}: cannot resolve the host name",
        ),
        (
            api_error(400, json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"}).encode()),
            f"Prometheus at {URL} rejected the query (HTTP 400): bad_data: parse error",
        ),
        (
            api_error(503, b"Service Unavailable\n"),
            f"Prometheus at {URL} answered HTTP 503: Service Unavailable",
        ),
        (
            api_error(
                422, json.dumps({"status": "error", "errorType": "execution", "error": "too many samples"}).encode()
            ),
            f"Prometheus at {URL} rejected the query (HTTP 422): execution: too many samples",
        ),
        (
            requests.exceptions.JSONDecodeError("Expecting value", "<html>", 0),
            f"Prometheus at {URL} sent a malformed answer: not JSON",
        ),
        (
            json.JSONDecodeError("Expecting value", "<html>", 0),
            f"Prometheus at {URL} sent a malformed answer: not JSON",
        ),
        (KeyError("data"), f"Prometheus at {URL} sent a malformed answer: KeyError: 'data'"),
        (
            MalformedResult("unexpected result type: range vector"),
            f"Prometheus at {URL} gave an unexpected answer: unexpected result type: range vector",
        ),
        (RuntimeError("boom"), f"reading Prometheus at {URL} failed: RuntimeError: boom"),
    ],
)
def test_describe_failure(exc, reason):
    assert describe_failure(exc, URL, 5.0) == reason


def wrapped(reason: BaseException) -> requests.exceptions.ConnectionError:
    """How requests reports a failure when urllib3 may not retry: ConnectionError(MaxRetryError(reason))."""
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/api/v1/query", reason))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (wrapped(ReadTimeoutError(None, "/api/v1/query", "Read timed out.")), "did not answer within 5s (timeout)"),  # type: ignore[arg-type]
        (wrapped(ConnectTimeoutError("connect timed out")), "did not answer within 5s (timeout)"),
        (
            wrapped(NewConnectionError(None, "[Errno 111] Connection refused")),
            "unreachable at {url}: connection refused",
        ),  # type: ignore[arg-type]
        (wrapped(ConnectionRefusedError(111, "refused")), "unreachable at {url}: connection refused"),
        (
            wrapped(socket.gaierror(-2, "Name or service not known")),
            "unreachable at {url}: cannot resolve the host name",
        ),
        (
            wrapped(ConnectionResetError(104, "Connection reset by peer")),
            "unreachable at {url}: ConnectionResetError: [Errno 104] Connection reset by peer",
        ),
    ],
)
def test_describe_wrapped_network_failures(exc, reason):
    assert reason.format(url=URL) in describe_failure(exc, URL, 5.0)


def test_reasons_are_short_single_lines():
    reason = describe_failure(api_error(400, ("x\n" * 1000).encode()), URL, 5.0)
    assert len(reason) <= 300 and "\n" not in reason and reason.endswith("...")


# ---- the adapter with a recording client -----------------------------------------------------


class RecordingClient:
    """Stands in for PrometheusConnect: answers custom_query from a function, records every query."""

    def __init__(self, answer: Callable[[str], Any]) -> None:
        self.answer = answer
        self.queries: list[str] = []
        self.params: list[dict] = []
        self.closed = False

    def custom_query(self, query: str, params: dict | None = None) -> Any:
        self.queries.append(query)
        self.params.append(params or {})
        return self.answer(query)

    def close(self) -> None:
        self.closed = True


def healthy(query: str) -> Any:
    if query.startswith("sum by (namespace, app) (rate(http_requests_total"):
        return [sample("default", f"app{i}", str(float(i))) for i in range(20)]
    if "webscale_signal" in query:
        out = []
        for i in range(20):
            out.append(sample("default", f"app{i}", str(i / 10), webscale_signal="cpu"))
            out.append(sample("default", f"app{i}", "2", webscale_signal="pods"))
        return out
    if query.startswith("custom"):
        return [1700000000.0, "7"]
    raise AssertionError(f"unexpected query {query}")


def make_source(
    answer: Callable[[str], Any] = healthy, **kwargs: Any
) -> tuple[PrometheusSource, dict[str, RecordingClient]]:
    clients: dict[str, RecordingClient] = {}

    def factory(url: str, timeout: float) -> Any:
        clients[url] = RecordingClient(answer)
        return clients[url]

    return PrometheusSource(client_factory=factory, **kwargs), clients


def apps(n: int, url: str = URL, namespace: str = "default", **kwargs: Any) -> list[AppQuery]:
    return [AppQuery(AppKey(namespace, f"app{i}"), url, **kwargs) for i in range(n)]


def test_prometheus_source_is_a_metrics_source():
    source: MetricsSource = PrometheusSource()
    assert source.observe([], now=0.0) == {}


def test_one_app_and_ten_apps_cost_the_same_queries():
    source, clients = make_source(rate_window="4s")
    one = source.observe(apps(1), now=100.0)
    assert source.last_poll_queries == 2
    ten = source.observe(apps(10), now=101.0)
    assert source.last_poll_queries == 2
    assert source.queries_total == 4
    assert one[AppKey("default", "app0")] == Observation(
        at=100.0, requests_per_second=0.0, cpu_cores=0.0, pods_reporting=2
    )
    assert ten[AppKey("default", "app7")] == Observation(
        at=101.0, requests_per_second=7.0, cpu_cores=0.7, pods_reporting=2
    )
    assert clients[URL].queries[:2] == [promql.request_rate_query("4s"), promql.cpu_query("app", "4s")]
    assert clients[URL].params[0] == {"timeout": "5.0"}


def test_each_prometheus_url_and_cpu_source_gets_its_own_batched_query():
    source, clients = make_source()
    mixed = [
        *apps(3),
        *[AppQuery(AppKey("default", f"c{i}"), URL, cpu_source="cadvisor") for i in range(3)],
        *apps(3, url="http://other:9090/", namespace="other"),
        *apps(2, url="http://third:9090", namespace="third", cpu_source=None),
    ]
    source.observe(mixed, now=1.0)
    assert source.last_poll_queries == 3 + 2 + 1
    assert sorted(clients) == sorted(["http://other:9090", "http://third:9090", URL])
    assert clients["http://third:9090"].queries == [promql.request_rate_query("1m")]


def test_templates_cost_one_query_per_app_and_are_escaped():
    source, clients = make_source()
    hostile = AppKey("default", 'a"} or vector(1) or {x="')
    templated = AppQuery(hostile, URL, request_rate_template="custom(x{app={app},namespace={namespace}}[{window}])")
    observed = source.observe([*apps(2), templated], now=1.0)
    assert source.last_poll_queries == 3
    assert clients[URL].queries[1] == 'custom(x{app="a\\"} or vector(1) or {x=\\"",namespace="default"}[1m])'
    assert observed[hostile].requests_per_second == 7.0


def test_all_templated_apps_skip_the_batched_request_query():
    source, clients = make_source()
    source.observe(apps(2, request_rate_template="custom(x{app={app}})", cpu_source=None), now=1.0)
    assert clients[URL].queries == ['custom(x{app="app0"})', 'custom(x{app="app1"})']


def test_invalid_template_fails_only_that_app_without_a_query():
    source, clients = make_source()
    bad = AppQuery(AppKey("default", "bad"), URL, request_rate_template="x{app={application}}")
    observed = source.observe([*apps(1), bad], now=1.0)
    assert observed[AppKey("default", "app0")].ok
    assert observed[bad.key].error == (
        "spec.metrics.requestRate: unknown placeholder {application} (known: {namespace}, {app}, {window})"
    )
    assert source.last_poll_queries == 2 and len(clients[URL].queries) == 2


def test_failed_cpu_query_keeps_the_request_rate():
    def answer(query: str) -> Any:
        if "webscale_signal" in query:
            raise api_error(503, b"overloaded")
        return healthy(query)

    source, _ = make_source(answer)
    observation = source.observe(apps(2), now=1.0)[AppKey("default", "app1")]
    assert observation.ok
    assert (observation.requests_per_second, observation.cpu_cores, observation.pods_reporting) == (1.0, None, None)


def test_failed_request_query_keeps_the_cpu():
    def answer(query: str) -> Any:
        if "http_requests_total" in query:
            raise requests.exceptions.ReadTimeout("slow")
        return healthy(query)

    source, _ = make_source(answer, timeout=0.5)
    observation = source.observe(apps(2), now=1.0)[AppKey("default", "app1")]
    assert not observation.ok
    assert observation.error == f"Prometheus at {URL} did not answer within 0.5s (timeout)"
    assert (observation.cpu_cores, observation.pods_reporting) == (0.1, 2)


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectionError("[Errno 111] Connection refused"),
        api_error(500, b"internal"),
        KeyError("data"),
        ValueError("weird"),
    ],
)
def test_any_failure_becomes_an_observation_for_every_app(failure):
    def answer(query: str) -> Any:
        raise failure

    source, _ = make_source(answer)
    observed = source.observe(apps(5), now=3.0)
    assert len(observed) == 5
    for observation in observed.values():
        assert not observation.ok and observation.at == 3.0
        assert observation.error.startswith(("Prometheus", "reading Prometheus"))


def test_unexpected_answers_become_failures():
    source, _ = make_source(lambda query: {"not": "a list"})
    observed = source.observe(apps(2), now=1.0)
    assert all("expected an instant vector" in o.error for o in observed.values())


def test_a_broken_client_factory_does_not_escape():
    def factory(url: str, timeout: float) -> Any:
        raise OSError("no sockets left")

    observed = PrometheusSource(client_factory=factory).observe(apps(2), now=1.0)
    assert all("OSError: no sockets left" in o.error for o in observed.values())


def test_duplicate_apps_are_observed_once():
    source, _ = make_source()
    observed = source.observe([*apps(2), *apps(2)], now=1.0)
    assert len(observed) == 2 and source.last_poll_queries == 2


def test_close_closes_clients():
    source, clients = make_source()
    source.observe(apps(1), now=1.0)
    source.close()
    assert clients[URL].closed


def test_invalid_rate_window_is_rejected_at_construction():
    with pytest.raises(ValueError, match="rate window"):
        PrometheusSource(rate_window="1m) or vector(1")


def test_app_query_from_spec():
    spec = parse_spec(
        {
            "image": "shop:1",
            "metrics": {"prometheus": {"url": "http://p:9090"}, "cpuSource": "cadvisor", "requestRate": "x{app={app}}"},
        }
    )
    assert AppQuery.from_spec("default", "shop", spec) == AppQuery(
        AppKey("default", "shop"), "http://p:9090", "x{app={app}}", "cadvisor"
    )
    no_cpu = parse_spec({"image": "shop:1", "autoscaling": {"target": {"cpuUtilization": None}}})
    assert AppQuery.from_spec("default", "shop", no_cpu).cpu_source is None


def test_observation_values_are_floats():
    source, _ = make_source()
    observation = source.observe(apps(1), now=1.0)[AppKey("default", "app0")]
    assert isinstance(observation.requests_per_second, float) and not math.isnan(observation.requests_per_second)
