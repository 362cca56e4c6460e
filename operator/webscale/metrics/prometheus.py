"""Measure: read request rate and CPU from Prometheus, one Observation per app.

A metrics source only measures; `scaling.decide` decides (STYLE.md point 4).
The decision code sees `MetricsSource` and `Observation`, never HTTP.

`PrometheusSource` makes, per poll and per Prometheus URL, ONE batched query
for request rate (with the recent rate folded in) and ONE for CPU per
cpuSource in use (and ONE per seasonal setting in use, at most `SEASONAL_QUERIES_PER_POLL` taking turns:
`webscale.metrics.seasonal_turns`), whatever the number of apps (1 app or 500 cost the same;
keda#2282). Apps are grouped by the canonical spelling of their URL
(`webscale.api.validation.normalize_url`), so two spellings of one Prometheus share one client and
one batched query. Apps with their own ``spec.metrics.requestRate`` template cannot be batched: each
costs one more query per poll; the runtime measures them apart from the batched apps, concurrently
and under a per-namespace budget (`webscale.runtime.measure`), so a slow template never delays
another app's decision. The queries and the label
contract they rely on are in `webscale.promql.queries`, reading their results in
`webscale.metrics.parse`, failure reasons in `webscale.metrics.failure`.

Failures never escape `observe`: a timeout, refused connection, HTTP error,
malformed answer, an answer over the size cap, a range vector where an instant value is expected,
a missing series, or any exception while rendering or confining one app's template becomes a
failure Observation with a short reason for the apps it affects, and only those. Request rate and
CPU are read independently:
a failed CPU query leaves ``cpu_cores`` None (and says why in ``cpu_error``) on
otherwise good Observations, and a failed request-rate query still carries the
CPU it could read (keda#6887). A missing recent rate is not a failure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from webscale import telemetry
from webscale.api.durations import seconds
from webscale.api.models import ScaledWebAppSpec
from webscale.api.observation import Observation, SeasonalReading
from webscale.api.ref import AppRef
from webscale.api.validation import normalize_url
from webscale.metrics.client import MAX_RESPONSE_BYTES, Answer, Client, ClientFactory, default_client
from webscale.metrics.failure import describe_failure, one_line
from webscale.metrics.parse import (
    CpuUsage,
    RequestRate,
    check_result_type,
    cpu_usage,
    in_flight,
    request_rates,
    seasonal_readings,
    template_rate,
)
from webscale.metrics.seasonal_turns import seasonal_turn
from webscale.promql import queries as promql
from webscale.promql.queries import CpuSource, RequestRateSource
from webscale.promql.template import FIELD as TEMPLATE_FIELD
from webscale.promql.template import render_template

log = logging.getLogger(__name__)

SEASONAL_QUERIES_PER_POLL = 2
"""Seasonal settings queried per poll and Prometheus, at most (each is one query over every app's series)."""
SEASONAL_MAX_AGE = 60.0
"""Seconds a seasonal reading serves its apps on the polls when its setting had no turn."""
SeasonalKey = tuple[str, RequestRateSource, tuple[float, float, float]]
"""(Prometheus URL, rate source, seasonal setting): one seasonal query."""

DEFAULT_TIMEOUT = 5.0
MAX_TEMPLATE_RESPONSE_BYTES = 1024 * 1024
"""The largest answer a template's query may give (a sum is one sample; 1 MiB is ~5,000 series)."""
_T = TypeVar("_T")


@dataclass(frozen=True)
class AppQuery:
    """What to measure for one app.

    request_rate_template: the app's spec.metrics.requestRate (None: the batched query).
    cpu_source: where CPU comes from; None when the app does not scale on CPU.
    request_rate_source: app (the app's own counter) or loadbalancer (HAProxy's, with the
        requests in flight there); each source is one batched query for all its apps.
    seasonal: (offset, lookahead, level window) in seconds of autoscaling.seasonal, None when off;
        one batched query per distinct setting and source.
    """

    key: AppRef
    prometheus_url: str
    request_rate_template: str | None = None
    cpu_source: CpuSource | None = "app"
    request_rate_source: RequestRateSource = "app"
    seasonal: tuple[float, float, float] | None = None

    @classmethod
    def from_spec(cls, ref: AppRef, spec: ScaledWebAppSpec) -> AppQuery:
        wants_cpu = spec.autoscaling.target.cpu_utilization is not None
        return cls(
            key=ref,
            prometheus_url=spec.metrics.prometheus.url,
            request_rate_template=spec.metrics.request_rate,
            cpu_source=spec.metrics.cpu_source if wants_cpu else None,
            request_rate_source=spec.metrics.request_rate_source,
            seasonal=_seasonal_setting(spec),
        )


def _seasonal_setting(spec: ScaledWebAppSpec) -> tuple[float, float, float] | None:
    rule = spec.autoscaling.seasonal
    if seconds(rule.offset) <= 0 or spec.metrics.request_rate is not None:
        return None
    return seconds(rule.offset), seconds(rule.lookahead), seconds(rule.level_window)


class MetricsSource(Protocol):
    """Anything that measures apps. Blocking; call it via asyncio.to_thread."""

    def observe(self, apps: Sequence[AppQuery], now: float) -> dict[AppRef, Observation]:
        """One Observation per distinct app key, never raising."""
        ...


class PrometheusSource:
    """`MetricsSource` reading Prometheus with batched queries.

    Thread-safe: observe() may run in several threads at once (the batched apps and each template
    app apart); each Prometheus (canonical URL) has one client whose connections they share.
    No retries: a failed query is reported at once and retried next poll.

    scrape_interval: Prometheus's scrape interval in seconds; the windows derive from it.
    rate_window: the W of rate(...[W]); default 4 scrape intervals (`promql.rate_window_for`).
    recent_window: the recent rate's window, 2 scrape intervals (always derived).
    timeout: seconds per HTTP query (client side; also sent to Prometheus).
    max_response_bytes / max_template_response_bytes: the largest answer read, for the batched
        queries and for a template's; a larger one is refused while it streams.
    queries_total / last_poll_queries: HTTP queries made, for tests and benchmarks.
    """

    def __init__(
        self,
        rate_window: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        client_factory: ClientFactory = default_client,
        scrape_interval: float = promql.DEFAULT_SCRAPE_INTERVAL,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_template_response_bytes: int = MAX_TEMPLATE_RESPONSE_BYTES,
    ) -> None:
        self.scrape_interval = scrape_interval
        self.recent_window = promql.rate_window_for(scrape_interval, promql.RECENT_SAMPLES)
        if rate_window is None:
            self.rate_window = promql.rate_window_for(scrape_interval, promql.RATE_SAMPLES)
        else:
            self.rate_window = promql.validate_window(rate_window)
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.max_template_response_bytes = max_template_response_bytes
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._clients: dict[str, Client] = {}
        self._failing: dict[tuple[str, str | AppRef], str] = {}
        """(url, what) -> the reason its last query failed, `what` being a batched query's selector or
        the AppRef of a template's app: a failure is logged when it starts or its reason changes, and
        its end once — not on every poll (the apps' conditions carry it meanwhile)."""
        self._queries_total = 0
        self.last_poll_queries = 0
        self._seasonal: dict[SeasonalKey, tuple[float, dict[AppRef, SeasonalReading]]] = {}
        """The last reading of each seasonal query: when (the poll's `now`) and its apps' readings."""

    @property
    def queries_total(self) -> int:
        with self._lock:
            return self._queries_total

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, {}
        for client in clients.values():
            client.close()

    def forget(self, ref: AppRef) -> None:
        """Drop what is remembered of a deleted app (its template's failure)."""
        with self._lock:
            for key in [k for k in list(self._failing) if k[1] == ref]:  # list(): atomic against other threads
                self._failing.pop(key, None)

    def observe(self, apps: Sequence[AppQuery], now: float) -> dict[AppRef, Observation]:
        unique = {app.key: app for app in apps}
        groups: dict[str, list[AppQuery]] = {}
        for app in unique.values():
            groups.setdefault(normalize_url(app.prometheus_url), []).append(app)
        poll = _Poll(self)
        out: dict[AppRef, Observation] = {}
        for url, group in groups.items():
            try:
                out.update(self._observe_group(poll, url, group, now))
            except Exception as exc:  # last resort: the boundary never raises
                log.exception("metrics: unexpected failure reading %s", url)
                reason = describe_failure(exc, url, self.timeout)
                out.update({app.key: Observation.failed(now, reason) for app in group})
        self.last_poll_queries = poll.count
        return out

    def _observe_group(self, poll: _Poll, url: str, group: list[AppQuery], now: float) -> dict[AppRef, Observation]:
        rates: dict[AppRef, RequestRate | str] = {}
        batched = [app.key for app in group if app.request_rate_template is None and app.request_rate_source == "app"]
        if batched:
            query = promql.request_rate_query(self.rate_window, self.recent_window)
            rates.update(poll.run(url, query, batched, request_rates, promql.request_selector()))
        at_lb = [app.key for app in group if app.request_rate_template is None and app.request_rate_source != "app"]
        flying: dict[AppRef, float] = {}
        if at_lb:
            query = promql.lb_request_rate_query(self.rate_window, self.recent_window)
            read = poll.run(url, query, at_lb, _rates_and_in_flight, promql.lb_request_selector())
            for key, value in read.items():
                rates[key] = value if isinstance(value, str) else value[0]
                if not isinstance(value, str) and value[1] is not None:
                    flying[key] = value[1]
        for app in group:
            if app.request_rate_template is not None:
                rate = self._template_rate(poll, url, app)
                rates[app.key] = rate if isinstance(rate, str) else (rate, None)

        cpu: dict[AppRef, CpuUsage | str] = {}
        for source in sorted({app.cpu_source for app in group if app.cpu_source is not None}):
            keys = [app.key for app in group if app.cpu_source == source]
            query = promql.cpu_query(source, self.rate_window)
            cpu.update(poll.run(url, query, keys, cpu_usage, promql.cpu_selector(source)))

        seasonal = self._seasonal_readings(poll, url, group, now)

        return {
            app.key: _observation(now, rates[app.key], cpu.get(app.key), flying.get(app.key), seasonal.get(app.key))
            for app in group
        }

    def _seasonal_readings(
        self, poll: _Poll, url: str, group: list[AppQuery], now: float
    ) -> dict[AppRef, SeasonalReading]:
        """The seasonal readings of the apps of `group` that use autoscaling.seasonal: this poll's turn of
        settings is queried (`seasonal_turn`), the others serve their last reading while it is young."""
        wanted: dict[SeasonalKey, list[AppRef]] = {}
        for app in group:
            if app.seasonal is not None:
                wanted.setdefault((url, app.request_rate_source, app.seasonal), []).append(app.key)
        with self._lock:
            for key in [k for k, (at, _) in self._seasonal.items() if now - at > SEASONAL_MAX_AGE]:
                del self._seasonal[key]  # too old to serve (polls of other apps may still want the rest)
                self._failing.pop((key[0], _seasonal_what(key[2])), None)  # nobody asked for it since
            last = {key: self._seasonal[key][0] for key in wanted if key in self._seasonal}
        users = {key: {ref.namespace for ref in refs} for key, refs in wanted.items()}
        for key in seasonal_turn(users, last, SEASONAL_QUERIES_PER_POLL):
            _, rate_source, setting = key
            query = promql.seasonal_query(rate_source, *setting, self.rate_window, self.scrape_interval)
            read = poll.run(url, query, wanted[key], _seasonal_parser(setting), _seasonal_what(setting))
            found = {ref: v for ref, v in read.items() if isinstance(v, SeasonalReading)}
            with self._lock:
                self._seasonal[key] = (now, found)
        out: dict[AppRef, SeasonalReading] = {}
        with self._lock:
            for key, refs in wanted.items():
                at, readings = self._seasonal.get(key, (float("-inf"), {}))
                if now - at <= SEASONAL_MAX_AGE:
                    out.update({ref: readings[ref] for ref in refs if ref in readings})
        return out

    def _template_rate(self, poll: _Poll, url: str, app: AppQuery) -> float | str:
        """The app's template's value, or why not; nothing this app's template does escapes."""
        assert app.request_rate_template is not None
        ref = app.key
        try:
            query = render_template(app.request_rate_template, ref.namespace, ref.name, self.rate_window)
        except promql.PromQLError as exc:
            return one_line(str(exc))
        except Exception as exc:  # the checker failed on this template (too deep, ...): this app only
            return one_line(f"{TEMPLATE_FIELD} could not be checked ({type(exc).__name__}); simplify it")
        result = poll.run(
            url,
            query,
            [ref],
            lambda r, keys, _w: {keys[0]: template_rate(r, keys[0])},
            ref,
            ("vector", "scalar"),
            self.max_template_response_bytes,
        )
        return result[ref]

    def _client(self, url: str) -> Client:
        with self._lock:
            client = self._clients.get(url)
            if client is None:
                client = self._client_factory(url, self.timeout)
                self._clients[url] = client
            return client

    def _count_query(self) -> None:
        with self._lock:
            self._queries_total += 1


def _rates_and_in_flight(
    result: Any, keys: Sequence[AppRef], what: str
) -> dict[AppRef, tuple[RequestRate, float | None] | str]:
    """The load balancer query's answer: each app's (request rate, recent rate) and in-flight count, or why not."""
    rates, flying = request_rates(result, keys, what), in_flight(result, keys)
    return {key: rate if isinstance(rate, str) else (rate, flying.get(key)) for key, rate in rates.items()}


def _observation(
    now: float,
    rate: RequestRate | str,
    usage: CpuUsage | str | None,
    in_flight_requests: float | None = None,
    seasonal: SeasonalReading | None = None,
) -> Observation:
    """One app's Observation from its request-rate and CPU readings (or their failure reasons)."""
    rps, recent = rate if isinstance(rate, tuple) else (None, None)
    cores, pods = usage if isinstance(usage, tuple) else (None, None)
    error = rate if isinstance(rate, str) else None
    cpu_error = usage if isinstance(usage, str) and error is None else None
    return Observation(
        at=now,
        requests_per_second=rps,
        cpu_cores=cores,
        pods_reporting=pods,
        error=error,
        recent_requests_per_second=recent,
        cpu_error=cpu_error,
        in_flight_requests=in_flight_requests if error is None else None,
        seasonal=seasonal if error is None else None,
    )


class _Poll:
    """One observe() call: runs queries, counts them, turns any failure into per-app reasons."""

    def __init__(self, source: PrometheusSource) -> None:
        self.source = source
        self.count = 0

    def run(
        self,
        url: str,
        query: str,
        keys: list[AppRef],
        parse: Callable[[Any, Sequence[AppRef], str], dict[AppRef, _T | str]],
        what: str | AppRef,
        result_types: tuple[str, ...] = ("vector",),
        max_bytes: int | None = None,
    ) -> dict[AppRef, _T | str]:
        """Run `query` and `parse` its result for `keys`; any failure is every key's reason.
        `what` names the series in messages (a selector), or is the app of a template."""
        source = self.source
        started = time.monotonic()
        label = "a custom template" if isinstance(what, AppRef) else what
        try:
            client = source._client(url)
            self.count += 1
            source._count_query()
            answer: Answer = client.query(query, source.timeout, max_bytes or source.max_response_bytes)
            check_result_type(answer[0], result_types)
            parsed = parse(answer[1], keys, label)
            telemetry.PROMETHEUS_QUERIES.labels("ok").observe(time.monotonic() - started)
            if source._failing.pop((url, what), None) is not None:
                log.info("metrics: queries of %s at %s work again", _named(what), url)
            return parsed
        except Exception as exc:  # every failure is data for the decision, never an exception
            telemetry.PROMETHEUS_QUERIES.labels("failed").observe(time.monotonic() - started)
            reason = describe_failure(exc, url, source.timeout)
            if source._failing.get((url, what)) != reason:
                source._failing[(url, what)] = reason
                log.warning(
                    "metrics: query of %s failed for %d app(s): %s (logged again only when the reason changes)",
                    _named(what),
                    len(keys),
                    reason,
                )
            return {key: reason for key in keys}


def _seasonal_what(setting: tuple[float, float, float]) -> str:
    """A seasonal query's name in the log (and its key among the failing queries)."""
    offset, lookahead, level = setting
    return f"the seasonal prior at offset {offset:g}s (lookahead {lookahead:g}s, levelWindow {level:g}s)"


def _named(what: str | AppRef) -> str:
    return f"the {TEMPLATE_FIELD} template of {what}" if isinstance(what, AppRef) else what


def _seasonal_parser(
    setting: tuple[float, float, float],
) -> Callable[[Any, Sequence[AppRef], str], dict[AppRef, SeasonalReading | str]]:
    """`seasonal_readings` for one setting, in the shape `_Poll.run` parses with."""

    def parse(result: Any, keys: Sequence[AppRef], _what: str) -> dict[AppRef, SeasonalReading | str]:
        return dict(seasonal_readings(result, keys, setting))

    return parse
