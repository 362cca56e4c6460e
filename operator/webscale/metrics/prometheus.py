"""Measure: read request rate and CPU from Prometheus, one Observation per app.

A metrics source only measures; `scaling.decide` decides (STYLE.md point 4).
The decision code sees `MetricsSource` and `Observation`, never HTTP.

`PrometheusSource` makes, per poll and per Prometheus URL, ONE batched query
for request rate (with the recent rate folded in) and ONE for CPU per
cpuSource in use (and ONE per seasonal setting in use), whatever the number of apps (1 app or 500 cost the same;
keda#2282). Apps with their own ``spec.metrics.requestRate`` template cannot be
batched: each costs one more query per poll. The queries and the label
contract they rely on are in `webscale.promql.queries`, reading their results in
`webscale.metrics.parse`, failure reasons in `webscale.metrics.failure`.

Failures never escape `observe`: a timeout, refused connection, HTTP error,
malformed answer or a missing series becomes a failure Observation with a short
reason for every app it affects. Request rate and CPU are read independently:
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

import requests
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from webscale import telemetry
from webscale.api.app import App
from webscale.api.models import ScaledWebAppSpec, seconds
from webscale.api.observation import Observation, SeasonalReading
from webscale.metrics.failure import describe_failure, one_line
from webscale.metrics.parse import (
    CpuUsage,
    RequestRate,
    cpu_usage,
    in_flight,
    request_rates,
    seasonal_readings,
    template_rate,
)
from webscale.promql import queries as promql
from webscale.promql.queries import CpuSource, RequestRateSource
from webscale.promql.template import render_template

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
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

    key: App
    prometheus_url: str
    request_rate_template: str | None = None
    cpu_source: CpuSource | None = "app"
    request_rate_source: RequestRateSource = "app"
    seasonal: tuple[float, float, float] | None = None

    @classmethod
    def from_spec(cls, namespace: str, name: str, spec: ScaledWebAppSpec) -> AppQuery:
        wants_cpu = spec.autoscaling.target.cpu_utilization is not None
        return cls(
            key=App.named(namespace, name),
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

    def observe(self, apps: Sequence[AppQuery], now: float) -> dict[App, Observation]:
        """One Observation per distinct app key, never raising."""
        ...


ClientFactory = Callable[[str, float], PrometheusConnect]


class NoRedirects(requests.Session):
    """A session that never follows a redirect: a 3xx answer is the answer (a failure), so a
    Prometheus URL cannot bounce the operator's requests to another host."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


def default_client(url: str, timeout: float) -> PrometheusConnect:
    """A PrometheusConnect that never retries (a retry is another query, and hides an outage)
    and never follows a redirect."""
    retry = Retry(total=None, connect=0, read=0, status=0, other=0, redirect=0, raise_on_status=False)
    return PrometheusConnect(url=url, retry=retry, timeout=timeout, session=NoRedirects())


class PrometheusSource:
    """`MetricsSource` reading Prometheus with batched queries.

    Thread-safe: observe() may run in several threads (asyncio.to_thread); each
    Prometheus URL has one HTTP session and its queries run one at a time.
    No retries: a failed query is reported at once and retried next poll.

    scrape_interval: Prometheus's scrape interval in seconds; the windows derive from it.
    rate_window: the W of rate(...[W]); default 4 scrape intervals (`promql.rate_window_for`).
    recent_window: the recent rate's window, 2 scrape intervals (always derived).
    timeout: seconds per HTTP query (client side; also sent to Prometheus).
    queries_total / last_poll_queries: HTTP queries made, for tests and benchmarks.
    """

    def __init__(
        self,
        rate_window: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        client_factory: ClientFactory = default_client,
        scrape_interval: float = promql.DEFAULT_SCRAPE_INTERVAL,
    ) -> None:
        self.scrape_interval = scrape_interval
        self.recent_window = promql.rate_window_for(scrape_interval, promql.RECENT_SAMPLES)
        if rate_window is None:
            self.rate_window = promql.rate_window_for(scrape_interval, promql.RATE_SAMPLES)
        else:
            self.rate_window = promql.validate_window(rate_window)
        self.timeout = timeout
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[PrometheusConnect, threading.Lock]] = {}
        self._failing: dict[tuple[str, str], str] = {}
        """(url, what) -> the reason its last query failed: a failure is logged when it starts or its
        reason changes, and its end once — not on every poll (the apps' conditions carry it meanwhile)."""
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

    def observe(self, apps: Sequence[AppQuery], now: float) -> dict[App, Observation]:
        unique = {app.key: app for app in apps}
        groups: dict[str, list[AppQuery]] = {}
        for app in unique.values():
            groups.setdefault(app.prometheus_url.rstrip("/"), []).append(app)
        poll = _Poll(self)
        out: dict[App, Observation] = {}
        for url, group in groups.items():
            try:
                out.update(self._observe_group(poll, url, group, now))
            except Exception as exc:  # last resort: the boundary never raises
                log.exception("metrics: unexpected failure reading %s", url)
                reason = describe_failure(exc, url, self.timeout)
                out.update({app.key: Observation.failed(now, reason) for app in group})
        self.last_poll_queries = poll.count
        return out

    def _observe_group(self, poll: _Poll, url: str, group: list[AppQuery], now: float) -> dict[App, Observation]:
        rates: dict[App, RequestRate | str] = {}
        batched = [app.key for app in group if app.request_rate_template is None and app.request_rate_source == "app"]
        if batched:
            query = promql.request_rate_query(self.rate_window, self.recent_window)
            rates.update(poll.run(url, query, batched, request_rates, promql.request_selector()))
        at_lb = [app.key for app in group if app.request_rate_template is None and app.request_rate_source != "app"]
        flying: dict[App, float] = {}
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

        cpu: dict[App, CpuUsage | str] = {}
        for source in sorted({app.cpu_source for app in group if app.cpu_source is not None}):
            keys = [app.key for app in group if app.cpu_source == source]
            query = promql.cpu_query(source, self.rate_window)
            cpu.update(poll.run(url, query, keys, cpu_usage, promql.cpu_selector(source)))

        seasonal: dict[App, SeasonalReading] = {}
        settings = {(app.request_rate_source, app.seasonal) for app in group if app.seasonal is not None}
        for rate_source, setting in sorted(settings, key=str):
            assert setting is not None
            keys = [app.key for app in group if (app.request_rate_source, app.seasonal) == (rate_source, setting)]
            query = promql.seasonal_query(rate_source, *setting, self.rate_window, self.scrape_interval)
            read = poll.run(url, query, keys, lambda r, k, _w, s=setting: seasonal_readings(r, k, s), "")
            seasonal.update({k: v for k, v in read.items() if isinstance(v, SeasonalReading)})

        return {
            app.key: _observation(now, rates[app.key], cpu.get(app.key), flying.get(app.key), seasonal.get(app.key))
            for app in group
        }

    def _template_rate(self, poll: _Poll, url: str, app: AppQuery) -> float | str:
        assert app.request_rate_template is not None
        try:
            query = render_template(app.request_rate_template, app.key.namespace, app.key.name, self.rate_window)
        except promql.PromQLError as exc:
            return one_line(str(exc))
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


def _rates_and_in_flight(
    result: Any, keys: Sequence[App], what: str
) -> dict[App, tuple[RequestRate, float | None] | str]:
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
        keys: list[App],
        parse: Callable[[Any, Sequence[App], str], dict[App, _T | str]],
        what: str,
    ) -> dict[App, _T | str]:
        source = self.source
        started = time.monotonic()
        try:
            client, lock = source._client(url)
            self.count += 1
            source._count_query()
            with lock:
                result = client.custom_query(query, params={"timeout": str(source.timeout)})
            parsed = parse(result, keys, what)
            telemetry.PROMETHEUS_QUERIES.labels("ok").observe(time.monotonic() - started)
            if source._failing.pop((url, what), None) is not None:
                log.info("metrics: queries of %s at %s work again", what or "a custom template", url)
            return parsed
        except Exception as exc:  # every failure is data for the decision, never an exception
            telemetry.PROMETHEUS_QUERIES.labels("failed").observe(time.monotonic() - started)
            reason = describe_failure(exc, url, source.timeout)
            if source._failing.get((url, what)) != reason:
                source._failing[(url, what)] = reason
                log.warning(
                    "metrics: query of %s failed for %d app(s): %s (logged again only when the reason changes)",
                    what or "a custom template",
                    len(keys),
                    reason,
                )
            return {key: reason for key in keys}
