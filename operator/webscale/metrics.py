"""Measure: read request rate and CPU from Prometheus, one Observation per app.

A metrics source only measures; `scaling.decide` decides (STYLE.md point 4).
The decision code sees `MetricsSource` and `Observation`, never HTTP.

`PrometheusSource` makes, per poll and per Prometheus URL, ONE batched query
for request rate and ONE for CPU per cpuSource in use, whatever the number of
apps (1 app or 500 cost the same; keda#2282). Apps with their own
``spec.metrics.requestRate`` template cannot be batched: each costs one more
query per poll. The queries and the label contract they rely on are in
`webscale.promql`.

Failures never escape `observe`: a timeout, refused connection, HTTP error,
malformed answer or a missing series becomes a failure Observation with a short
reason for every app it affects. "No series" is a failure, never zero traffic
(keda#3064); a series whose value is 0 is zero traffic; NaN/Inf is a failure.
Request rate and CPU are read independently: a failed CPU query leaves
``cpu_cores`` None on otherwise good Observations, and a failed request-rate
query still carries the CPU it could read (keda#6887).
"""

from __future__ import annotations

import ast
import json
import logging
import math
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.exceptions import NameResolutionError, NewConnectionError
from urllib3.exceptions import TimeoutError as urllib3_timeout
from urllib3.util.retry import Retry

from webscale import promql
from webscale.models import ScaledWebAppSpec
from webscale.observation import AppKey, Observation
from webscale.promql import CpuSource

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
_T = TypeVar("_T")
MAX_REASON = 300


@dataclass(frozen=True)
class AppQuery:
    """What to measure for one app.

    request_rate_template: the app's spec.metrics.requestRate (None: the batched query).
    cpu_source: where CPU comes from; None when the app does not scale on CPU.
    """

    key: AppKey
    prometheus_url: str
    request_rate_template: str | None = None
    cpu_source: CpuSource | None = "app"

    @classmethod
    def from_spec(cls, namespace: str, name: str, spec: ScaledWebAppSpec) -> AppQuery:
        wants_cpu = spec.autoscaling.target.cpu_utilization is not None
        return cls(
            key=AppKey(namespace=namespace, app=name),
            prometheus_url=spec.metrics.prometheus.url,
            request_rate_template=spec.metrics.request_rate,
            cpu_source=spec.metrics.cpu_source if wants_cpu else None,
        )


class MetricsSource(Protocol):
    """Anything that measures apps. Blocking; call it via asyncio.to_thread."""

    def observe(self, apps: Sequence[AppQuery], now: float) -> dict[AppKey, Observation]:
        """One Observation per distinct app key, never raising."""
        ...


class MalformedResult(ValueError):
    """Prometheus answered, but not with what the query should return."""


# ---- parsing (pure) --------------------------------------------------------------------------


def parse_vector(result: Any) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of each sample of an instant-vector `result` (the API's data.result)."""
    if not isinstance(result, list):
        raise MalformedResult(f"unexpected result: {type(result).__name__}, expected an instant vector")
    samples = []
    for item in result:
        if not isinstance(item, dict):
            raise MalformedResult("unexpected result type: scalar or string, expected an instant vector")
        if "values" in item:
            raise MalformedResult("unexpected result type: range vector, expected an instant vector")
        metric, value = item.get("metric"), item.get("value")
        if not isinstance(metric, dict) or not isinstance(value, list) or len(value) != 2:
            raise MalformedResult("malformed sample in the result")
        samples.append(({str(k): str(v) for k, v in metric.items()}, _number(value[1])))
    return samples


def parse_scalar_or_vector(result: Any) -> list[float]:
    """Values of a template's result: a scalar gives one value, a vector one per series."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        if not isinstance(result[1], str):
            raise MalformedResult("malformed scalar in the result")
        return [_number(result[1])]
    return [value for _labels, value in parse_vector(result)]


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise MalformedResult(f"sample value {str(text)[:40]!r} is not a number") from None


def _who(key: AppKey) -> str:
    return f"app {promql.escape_string(key.app)} in namespace {promql.escape_string(key.namespace)}"


def _by_app(samples: list[tuple[dict[str, str], float]], signal: str | None = None) -> dict[AppKey, float]:
    out: dict[AppKey, float] = {}
    for labels, value in samples:
        if signal is not None and labels.get(promql.SIGNAL_LABEL) != signal:
            continue
        key = AppKey(namespace=labels.get("namespace", ""), app=labels.get("app", ""))
        out[key] = out.get(key, 0.0) + value
    return out


def request_rates(result: Any, keys: Sequence[AppKey], what: str) -> dict[AppKey, float | str]:
    """Each app's request rate from the batched query's result, or the reason there is none.

    `what` names the series in messages (e.g. the selector). Raises
    MalformedResult when the whole result is unusable.
    """
    rates = _by_app(parse_vector(result))
    out: dict[AppKey, float | str] = {}
    for key in keys:
        value = rates.get(key)
        if value is None:
            out[key] = f"no series for {_who(key)} ({what})"
        elif not math.isfinite(value):
            out[key] = f"request rate for {_who(key)} is {value} ({what})"
        else:
            out[key] = value
    return out


def cpu_usage(result: Any, keys: Sequence[AppKey], what: str) -> dict[AppKey, tuple[float, int] | str]:
    """Each app's (CPU cores, pods reporting) from `promql.cpu_query`'s result, or why not."""
    samples = parse_vector(result)
    cores, pods = _by_app(samples, "cpu"), _by_app(samples, "pods")
    out: dict[AppKey, tuple[float, int] | str] = {}
    for key in keys:
        value, count = cores.get(key), pods.get(key)
        if value is None or count is None:
            out[key] = f"no series for {_who(key)} ({what})"
        elif not math.isfinite(value) or not math.isfinite(count):
            out[key] = f"CPU for {_who(key)} is {value} ({what})"
        else:
            out[key] = (value, int(count))
    return out


def template_rate(result: Any, key: AppKey) -> float | str:
    """A requestRate template's value for one app: the sum of what it returned, or why not."""
    values = parse_scalar_or_vector(result)
    what = "spec.metrics.requestRate"
    if not values:
        return f"no series for {_who(key)} ({what})"
    total = math.fsum(values)
    if not math.isfinite(total):
        return f"request rate for {_who(key)} is {total} ({what})"
    return total


def describe_failure(exc: BaseException, url: str, timeout: float) -> str:
    """A short, one-line reason for a failed query (what an on-call person reads)."""
    causes = list(_causes(exc))
    if isinstance(exc, MalformedResult):
        reason = f"Prometheus at {url} gave an unexpected answer: {exc}"
    elif any(_is_timeout(cause) for cause in causes):
        reason = f"Prometheus at {url} did not answer within {timeout:g}s (timeout)"
    elif isinstance(exc, requests.exceptions.JSONDecodeError | json.JSONDecodeError):
        reason = f"Prometheus at {url} sent a malformed answer: not JSON"
    elif isinstance(exc, requests.exceptions.ConnectionError | OSError):
        text = " ".join(str(cause) for cause in causes).lower()
        if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in text:
            reason = f"Prometheus unreachable at {url}: connection refused"
        elif any(isinstance(c, NameResolutionError | socket.gaierror) for c in causes) or "resolve" in text:
            reason = f"Prometheus unreachable at {url}: cannot resolve the host name"
        else:
            reason = f"Prometheus unreachable at {url}: {type(causes[-1]).__name__}: {causes[-1]}"
    elif isinstance(exc, PrometheusApiClientException):
        reason = _http_failure(str(exc), url)
    elif isinstance(exc, KeyError | TypeError | IndexError | ValueError):
        reason = f"Prometheus at {url} sent a malformed answer: {type(exc).__name__}: {exc}"
    else:
        reason = f"reading Prometheus at {url} failed: {type(exc).__name__}: {exc}"
    return _short(reason)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps (urllib3's MaxRetryError.reason, args, __cause__), outermost first."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [getattr(current, "reason", None), *current.args, current.__cause__, current.__context__]
        todo.extend(e for e in inner if isinstance(e, BaseException))


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, NewConnectionError):  # a ConnectTimeoutError subclass, but not a timeout
        return False
    return isinstance(exc, requests.exceptions.Timeout | urllib3_timeout | TimeoutError)


def _http_failure(message: str, url: str) -> str:
    """From prometheus-api-client's "HTTP Status Code 400 (b'{...}')" to a readable reason."""
    head, _, body_repr = message.partition(" (")
    status = head.removeprefix("HTTP Status Code ").strip()
    detail = ""
    try:
        body = ast.literal_eval(body_repr[:-1]) if body_repr.endswith(")") else b""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        try:
            payload = json.loads(text)
            detail = f"{payload.get('errorType', 'error')}: {payload.get('error', '')}"
        except (ValueError, AttributeError):
            detail = text.strip()
    except (ValueError, SyntaxError):
        detail = body_repr
    if status.startswith("4"):
        return f"Prometheus at {url} rejected the query (HTTP {status}): {detail}"
    return f"Prometheus at {url} answered HTTP {status}: {detail}"


def _short(reason: str) -> str:
    one_line = " ".join(reason.split())
    return one_line if len(one_line) <= MAX_REASON else one_line[: MAX_REASON - 3] + "..."


# ---- the adapter -----------------------------------------------------------------------------


ClientFactory = Callable[[str, float], PrometheusConnect]


def default_client(url: str, timeout: float) -> PrometheusConnect:
    """A PrometheusConnect that never retries (a retry is another query, and hides an outage)."""
    retry = Retry(total=None, connect=0, read=0, status=0, other=0, redirect=3, raise_on_status=False)
    return PrometheusConnect(url=url, retry=retry, timeout=timeout)


class PrometheusSource:
    """`MetricsSource` reading Prometheus with batched queries.

    Thread-safe: observe() may run in several threads (asyncio.to_thread); each
    Prometheus URL has one HTTP session and its queries run one at a time.
    No retries: a failed query is reported at once and retried next poll.
    A failed CPU query is logged (Observation has no field for its reason).

    rate_window: the W of rate(...[W]); see `promql.rate_window_for`.
    timeout: seconds per HTTP query (client side; also sent to Prometheus).
    queries_total / last_poll_queries: HTTP queries made, for tests and benchmarks.
    """

    def __init__(
        self,
        rate_window: str = promql.DEFAULT_WINDOW,
        timeout: float = DEFAULT_TIMEOUT,
        client_factory: ClientFactory = default_client,
    ) -> None:
        self.rate_window = promql.validate_window(rate_window)
        self.timeout = timeout
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[PrometheusConnect, threading.Lock]] = {}
        self._queries_total = 0
        self.last_poll_queries = 0

    @property
    def queries_total(self) -> int:
        with self._lock:
            return self._queries_total

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, {}
        for client, _ in clients.values():
            client.close()

    def observe(self, apps: Sequence[AppQuery], now: float) -> dict[AppKey, Observation]:
        unique = {app.key: app for app in apps}
        groups: dict[str, list[AppQuery]] = {}
        for app in unique.values():
            groups.setdefault(app.prometheus_url.rstrip("/"), []).append(app)
        poll = _Poll(self)
        out: dict[AppKey, Observation] = {}
        for url, group in groups.items():
            try:
                out.update(self._observe_group(poll, url, group, now))
            except Exception as exc:  # last resort: the boundary never raises
                log.exception("metrics: unexpected failure reading %s", url)
                reason = describe_failure(exc, url, self.timeout)
                out.update({app.key: Observation.failed(now, reason) for app in group})
        self.last_poll_queries = poll.count
        return out

    def _observe_group(self, poll: _Poll, url: str, group: list[AppQuery], now: float) -> dict[AppKey, Observation]:
        rates: dict[AppKey, float | str] = {}
        batched = [app.key for app in group if app.request_rate_template is None]
        if batched:
            what = promql.request_selector()
            rates.update(poll.run(url, promql.request_rate_query(self.rate_window), batched, request_rates, what))
        for app in group:
            if app.request_rate_template is not None:
                rates[app.key] = self._template_rate(poll, url, app)

        cpu: dict[AppKey, tuple[float, int] | str] = {}
        sources = sorted({app.cpu_source for app in group if app.cpu_source is not None})
        for source in sources:
            keys = [app.key for app in group if app.cpu_source == source]
            what = promql.cpu_selector(source)
            cpu.update(poll.run(url, promql.cpu_query(source, self.rate_window), keys, cpu_usage, what))

        out = {}
        for app in group:
            rate, usage = rates[app.key], cpu.get(app.key)
            cores, pods = usage if isinstance(usage, tuple) else (None, None)
            error = rate if isinstance(rate, str) else None
            rps = rate if isinstance(rate, float) else None
            out[app.key] = Observation(
                at=now, requests_per_second=rps, cpu_cores=cores, pods_reporting=pods, error=error
            )
        return out

    def _template_rate(self, poll: _Poll, url: str, app: AppQuery) -> float | str:
        assert app.request_rate_template is not None
        try:
            query = promql.render_template(app.request_rate_template, app.key.namespace, app.key.app, self.rate_window)
        except promql.PromQLError as exc:
            return _short(str(exc))
        result = poll.run(url, query, [app.key], lambda r, keys, _w: {keys[0]: template_rate(r, keys[0])}, "")
        return result[app.key]

    def _client(self, url: str) -> tuple[PrometheusConnect, threading.Lock]:
        with self._lock:
            entry = self._clients.get(url)
            if entry is None:
                entry = (self._client_factory(url, self.timeout), threading.Lock())
                self._clients[url] = entry
            return entry

    def _count_query(self) -> None:
        with self._lock:
            self._queries_total += 1


class _Poll:
    """One observe() call: runs queries, counts them, turns any failure into per-app reasons."""

    def __init__(self, source: PrometheusSource) -> None:
        self.source = source
        self.count = 0

    def run(
        self,
        url: str,
        query: str,
        keys: list[AppKey],
        parse: Callable[[Any, Sequence[AppKey], str], dict[AppKey, _T | str]],
        what: str,
    ) -> dict[AppKey, _T | str]:
        source = self.source
        try:
            client, lock = source._client(url)
            self.count += 1
            source._count_query()
            with lock:
                result = client.custom_query(query, params={"timeout": str(source.timeout)})
            return parse(result, keys, what)
        except Exception as exc:  # every failure is data for the decision, never an exception
            reason = describe_failure(exc, url, source.timeout)
            log.warning("metrics: query failed for %d app(s): %s", len(keys), reason)
            return {key: reason for key in keys}
