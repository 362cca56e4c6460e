"""The HTTP adapter of the metrics source: one Prometheus instant query, its answer size capped.

`QueryClient.query` sends ``GET <url>/api/v1/query`` and returns the answer's ``resultType`` and
``result``. It never retries (a retry is another query, and hides an outage), never follows a
redirect (a Prometheus URL cannot bounce the operator's requests to another host), and reads the
body while it streams, refusing one larger than its cap (`ResponseTooLarge`) before holding more
than the cap in memory. Several threads may query through one client at once: templates run
concurrently with the batched queries (`webscale.runtime.measure`).

Failures are raised for `webscale.metrics.failure.describe_failure` to put in words: a status other
than 200 is a `PrometheusApiClientException` with the (capped) body, as prometheus-api-client's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from webscale.metrics.parse import MalformedResult

MAX_RESPONSE_BYTES = 32 * 1024 * 1024
"""The largest answer read (a batched query for 5,000 apps answers about 2 MiB)."""
POOL_SIZE = 16
"""HTTP connections kept per Prometheus: the batched queries and concurrent templates share them."""
_CHUNK = 64 * 1024


class ResponseTooLarge(Exception):
    """Prometheus's answer is larger than the cap: refused, not parsed."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"the answer is larger than {cap} bytes")
        self.cap = cap


Answer = tuple[str, Any]
"""(resultType, result) of an instant query: ("vector", [...]), ("scalar", [t, "v"]), ("matrix", [...])."""


class Client(Protocol):
    """What the metrics source needs of a Prometheus client (the real one and test fakes)."""

    def query(self, query: str, timeout: float, max_bytes: int) -> Answer: ...

    def close(self) -> None: ...


ClientFactory = Callable[[str, float], Client]


def read_capped(chunks: Iterable[bytes], cap: int, declared: int | None = None) -> bytes:
    """The body from its chunks, or ResponseTooLarge as soon as it (or its declared length) passes
    `cap` bytes (pure: the chunks may be any iterable)."""
    if declared is not None and declared > cap:
        raise ResponseTooLarge(cap)
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > cap:
            raise ResponseTooLarge(cap)
    return bytes(body)


def answer_of(body: bytes) -> Answer:
    """(resultType, result) of a 200 answer's JSON body; MalformedResult when it has neither."""
    payload = json.loads(body)
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or "result" not in data:
        raise MalformedResult("no data.result in the answer")
    return str(data.get("resultType") or ""), data["result"]


class NoRedirects(requests.Session):
    """A session that never follows a redirect: a 3xx answer is the answer (a failure)."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


class QueryClient:
    """`Client` over one requests session to one Prometheus (`url`: its canonical base URL)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = NoRedirects()
        retry = Retry(total=None, connect=0, read=0, status=0, other=0, redirect=0, raise_on_status=False)
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=POOL_SIZE)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def query(self, query: str, timeout: float, max_bytes: int = MAX_RESPONSE_BYTES) -> Answer:
        params = {"query": query, "timeout": f"{timeout:g}"}
        with self.session.get(f"{self.url}/api/v1/query", params=params, timeout=timeout, stream=True) as resp:
            length = resp.headers.get("Content-Length")
            declared = int(length) if length and length.isdigit() else None
            body = read_capped(resp.iter_content(_CHUNK), max_bytes, declared)
            status = resp.status_code
        if status != 200:
            raise PrometheusApiClientException(f"HTTP Status Code {status} ({body[:4096]!r})")
        return answer_of(body)

    def close(self) -> None:
        self.session.close()


def default_client(url: str, timeout: float) -> Client:
    return QueryClient(url, timeout)
