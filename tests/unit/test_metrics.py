"""The Prometheus adapter without a server: batching, counting, windows and per-app failures.

The adapter's HTTP side is exercised against a real Prometheus in
tests/e2e/test_metrics_prometheus.py; here a recording client stands in for
PrometheusConnect so grouping and counting can be checked exactly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import pytest
import requests
from test_metrics_failure import api_error
from test_metrics_parse import sample

from webscale.api.models import parse_spec
from webscale.api.observation import Observation
from webscale.api.ref import AppRef
from webscale.metrics.prometheus import AppQuery, MetricsSource, PrometheusSource
from webscale.promql import queries as promql

URL = "http://prometheus.test:9090"


class RecordingClient:
    """Stands in for `webscale.metrics.client.QueryClient`: answers from a function, records every query."""

    def __init__(self, answer: Callable[[str], Any]) -> None:
        self.answer = answer
        self.queries: list[str] = []
        self.timeouts: list[float] = []
        self.closed = False

    def query(self, query: str, timeout: float, max_bytes: int) -> tuple[str, Any]:
        self.queries.append(query)
        self.timeouts.append(timeout)
        return "", self.answer(query)  # no resultType: the result's shape decides

    def close(self) -> None:
        self.closed = True


def is_cpu_query(query: str) -> bool:
    return "cpu_" in query


def healthy(query: str) -> Any:
    """Rate i for app{i}; recent rate 3*i for even i only; CPU i/10 cores on 2 pods."""
    if query.startswith("sum by (namespace, app) (rate(http_requests_total"):
        rates = [sample("default", f"app{i}", str(float(i))) for i in range(20)]
        if "recent" in query:
            rates += [sample("default", f"app{i}", str(3.0 * i), webscale_signal="recent") for i in range(0, 20, 2)]
        return rates
    if is_cpu_query(query):
        out = []
        for i in range(20):
            out.append(sample("default", f"app{i}", str(i / 10), webscale_signal="cpu"))
            out.append(sample("default", f"app{i}", "2", webscale_signal="pods"))
        return out
    if query.startswith("sum(rate(x{"):  # a template
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
    return [AppQuery(AppRef(namespace, f"app{i}"), url, **kwargs) for i in range(n)]


def test_prometheus_source_is_a_metrics_source():
    source: MetricsSource = PrometheusSource()
    assert source.observe([], now=0.0) == {}


def test_one_app_and_ten_apps_cost_the_same_queries():
    source, clients = make_source(scrape_interval=1.0)
    one = source.observe(apps(1), now=100.0)
    assert source.last_poll_queries == 2
    ten = source.observe(apps(10), now=101.0)
    assert source.last_poll_queries == 2
    assert source.queries_total == 4
    assert one[AppRef("default", "app0")] == Observation(
        at=100.0, requests_per_second=0.0, cpu_cores=0.0, pods_reporting=2, recent_requests_per_second=0.0
    )
    assert ten[AppRef("default", "app7")] == Observation(
        at=101.0, requests_per_second=7.0, cpu_cores=0.7, pods_reporting=2
    )
    assert ten[AppRef("default", "app8")].recent_requests_per_second == 24.0
    assert clients[URL].queries[:2] == [promql.request_rate_query("4s", "2s"), promql.cpu_query("app", "4s")]
    assert clients[URL].timeouts[0] == 5.0


def test_each_prometheus_url_and_cpu_source_gets_its_own_batched_query():
    source, clients = make_source()
    mixed = [
        *apps(3),
        *[AppQuery(AppRef("default", f"c{i}"), URL, cpu_source="cadvisor") for i in range(3)],
        *apps(3, url="http://other:9090/", namespace="other"),
        *apps(2, url="http://third:9090", namespace="third", cpu_source=None),
    ]
    source.observe(mixed, now=1.0)
    assert source.last_poll_queries == 3 + 2 + 1
    assert sorted(clients) == sorted(["http://other:9090", "http://third:9090", URL])
    assert clients["http://third:9090"].queries == [promql.request_rate_query("1m", "30s")]


def test_templates_cost_one_query_per_app_and_are_escaped():
    source, clients = make_source()
    hostile = AppRef("default", 'a"} or vector(1) or {x="')
    templated = AppQuery(hostile, URL, request_rate_template="sum(rate(x{app={app},namespace={namespace}}[{window}]))")
    observed = source.observe([*apps(2), templated], now=1.0)
    assert source.last_poll_queries == 3
    assert clients[URL].queries[1] == 'sum(rate(x{app="a\\"} or vector(1) or {x=\\"",namespace="default"}[1m]))'
    assert observed[hostile].requests_per_second == 7.0
    assert observed[hostile].recent_requests_per_second is None  # a template has no recent rate


def test_all_templated_apps_skip_the_batched_request_query():
    source, clients = make_source()
    source.observe(apps(2, request_rate_template="sum(x{app={app}})", cpu_source=None), now=1.0)
    # each confined to its namespace (webscale.promql.confine)
    assert clients[URL].queries == [
        'sum(x{namespace="default", app="app0"})',
        'sum(x{namespace="default", app="app1"})',
    ]


def test_invalid_template_fails_only_that_app_without_a_query():
    source, clients = make_source()
    bad = AppQuery(AppRef("default", "bad"), URL, request_rate_template="x{app={application}}")
    observed = source.observe([*apps(1), bad], now=1.0)
    assert observed[AppRef("default", "app0")].ok
    assert observed[bad.key].error == (
        "spec.metrics.requestRate: unknown placeholder {application} (known: {namespace}, {app}, {window})"
    )
    assert source.last_poll_queries == 2 and len(clients[URL].queries) == 2


def test_failed_cpu_query_keeps_the_request_rate():
    def answer(query: str) -> Any:
        if is_cpu_query(query):
            raise api_error(503, b"overloaded")
        return healthy(query)

    source, _ = make_source(answer)
    observation = source.observe(apps(2), now=1.0)[AppRef("default", "app1")]
    assert observation.ok
    assert (observation.requests_per_second, observation.cpu_cores, observation.pods_reporting) == (1.0, None, None)
    assert observation.cpu_error == f"Prometheus at {URL} answered HTTP 503: Service Unavailable"  # never the body


def test_missing_cpu_series_is_explained_on_a_good_observation():
    def answer(query: str) -> Any:
        return [s for s in healthy(query) if s["metric"]["app"] != "app1"] if is_cpu_query(query) else healthy(query)

    source, _ = make_source(answer)
    observed = source.observe(apps(2), now=1.0)
    assert observed[AppRef("default", "app0")].cpu_error is None
    app1 = observed[AppRef("default", "app1")]
    assert app1.ok and app1.cpu_cores is None
    assert app1.cpu_error == (
        'no series for app "app1" in namespace "default" (process_cpu_seconds_total{managed_by="webscale"})'
    )


def test_no_cpu_error_when_cpu_is_not_wanted():
    source, clients = make_source()
    observation = source.observe(apps(1, cpu_source=None), now=1.0)[AppRef("default", "app0")]
    assert observation.ok and observation.cpu_cores is None and observation.cpu_error is None
    assert len(clients[URL].queries) == 1


def test_failed_request_query_keeps_the_cpu():
    def answer(query: str) -> Any:
        if "http_requests_total" in query:
            raise requests.exceptions.ReadTimeout("slow")
        return healthy(query)

    source, _ = make_source(answer, timeout=0.5)
    observation = source.observe(apps(2), now=1.0)[AppRef("default", "app1")]
    assert not observation.ok
    assert observation.error == f"Prometheus at {URL} did not answer within 0.5s (timeout)"
    assert (observation.cpu_cores, observation.pods_reporting) == (0.1, 2)
    assert observation.recent_requests_per_second is None


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
        assert observation.cpu_error is None  # the request rate's error already says it


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
    with pytest.raises(ValueError, match="scrape interval"):
        PrometheusSource(scrape_interval=0)


@pytest.mark.parametrize(
    ("kwargs", "windows"),
    [
        ({}, ("1m", "30s")),
        ({"scrape_interval": 1.0}, ("4s", "2s")),
        ({"scrape_interval": 30}, ("2m", "1m")),
        ({"scrape_interval": 10, "rate_window": "5m"}, ("5m", "20s")),  # an explicit rate window wins
    ],
)
def test_windows_derive_from_the_scrape_interval(kwargs, windows):
    source, clients = make_source(**kwargs)
    assert (source.rate_window, source.recent_window) == windows
    source.observe(apps(1), now=1.0)
    assert clients[URL].queries == [promql.request_rate_query(*windows), promql.cpu_query("app", windows[0])]


def test_app_query_from_spec():
    spec = parse_spec(
        {
            "image": "shop:1",
            "metrics": {"prometheus": {"url": "http://p:9090"}, "cpuSource": "cadvisor", "requestRate": "x{app={app}}"},
        }
    )
    assert AppQuery.from_spec(AppRef("default", "shop"), spec) == AppQuery(
        AppRef("default", "shop"), "http://p:9090", "x{app={app}}", "cadvisor"
    )
    no_cpu = parse_spec({"image": "shop:1", "autoscaling": {"target": {"cpuUtilization": None}}})
    assert AppQuery.from_spec(AppRef("default", "shop"), no_cpu).cpu_source is None


def test_observation_values_are_floats():
    source, _ = make_source()
    observation = source.observe(apps(1), now=1.0)[AppRef("default", "app0")]
    assert isinstance(observation.requests_per_second, float) and not math.isnan(observation.requests_per_second)


def test_a_lasting_outage_is_logged_when_it_starts_and_when_it_ends_not_every_poll(caplog):
    down = {"now": True}

    def answer(query: str) -> Any:
        if down["now"]:
            raise ConnectionRefusedError("connection refused")
        return healthy(query)

    source, _ = make_source(answer)
    with caplog.at_level(logging.INFO, logger="webscale.metrics.prometheus"):
        for poll in range(5):
            source.observe(apps(3), now=float(poll))
        failures = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(failures) == 2  # the request-rate query and the CPU query, once each
        assert all("failed for 3 app(s)" in r.getMessage() for r in failures)
        down["now"] = False
        source.observe(apps(3), now=5.0)
        source.observe(apps(3), now=6.0)
    recovered = [r.getMessage() for r in caplog.records if "work again" in r.getMessage()]
    assert len(recovered) == 2
