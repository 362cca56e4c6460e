"""Request rate and in-flight requests read at the load balancer (metrics.requestRateSource: loadbalancer):
one batched query for every app that reads at the LB, the same label contract as the app-side query."""

from __future__ import annotations

from typing import Any

import pytest
from test_metrics import apps, make_source
from test_metrics_parse import sample

from webscale.api.models import parse_spec
from webscale.api.ref import AppRef
from webscale.metrics.parse import in_flight, request_rates
from webscale.metrics.prometheus import AppQuery
from webscale.promql import queries as promql
from webscale.reconcile import haproxy_config

LB_RATE_PREFIX = "sum by (namespace, app) (rate(haproxy_backend_http_requests_total"


def answers(query: str) -> Any:
    """app{i}: i req/s at the LB, recent 2*i, i+1 in flight; app-side apps: 100+i; CPU off in these tests."""
    if query.startswith(LB_RATE_PREFIX):
        out = [sample("default", f"lb{i}", str(float(i))) for i in range(5)]
        out += [sample("default", f"lb{i}", str(2.0 * i), webscale_signal="recent") for i in range(5)]
        return out + [sample("default", f"lb{i}", str(i + 1), webscale_signal="inflight") for i in range(4)]
    if query.startswith("sum by (namespace, app) (rate(http_requests_total"):
        return [sample("default", f"app{i}", str(100.0 + i)) for i in range(5)]
    raise AssertionError(f"unexpected query {query}")


def lb_apps(n: int) -> list[AppQuery]:
    return [
        AppQuery(
            AppRef("default", f"lb{i}"),
            "http://prometheus.test:9090",
            cpu_source=None,
            request_rate_source="loadbalancer",
        )
        for i in range(n)
    ]


def test_query_reads_haproxys_backend_of_the_pods_with_the_label_contract():
    query = promql.lb_request_rate_query("1m", "30s")
    assert query.startswith(
        'sum by (namespace, app) (rate(haproxy_backend_http_requests_total{managed_by="webscale",proxy="pods"}[1m]))'
    )
    assert '"webscale_signal", "recent"' in query and '"webscale_signal", "inflight"' in query
    assert 'haproxy_backend_current_sessions{managed_by="webscale",proxy="pods"}' in query
    assert promql.LB_BACKEND == haproxy_config.BACKEND, "the exporter's proxy label is the rendered backend's name"
    with pytest.raises(promql.PromQLError):
        promql.lb_request_rate_query("1m) or vector(1", None)


def test_all_lb_apps_cost_one_query_next_to_the_app_side_query():
    source, clients = make_source(answers, scrape_interval=1.0)
    mixed = [*apps(5, cpu_source=None), *lb_apps(5)]
    got = source.observe(mixed, now=50.0)
    assert source.last_poll_queries == 2
    queries = clients["http://prometheus.test:9090"].queries
    assert sorted(q.split("{")[0] for q in queries) == sorted(
        ["sum by (namespace, app) (rate(http_requests_total", LB_RATE_PREFIX]
    )
    lb3 = got[AppRef("default", "lb3")]
    assert (lb3.requests_per_second, lb3.recent_requests_per_second, lb3.in_flight_requests) == (3.0, 6.0, 4.0)
    assert got[AppRef("default", "lb4")].in_flight_requests is None  # no in-flight series: unknown, not a failure
    assert got[AppRef("default", "lb4")].ok
    assert got[AppRef("default", "app2")].requests_per_second == 102.0
    assert got[AppRef("default", "app2")].in_flight_requests is None
    # twenty apps at the LB: still one query
    source.observe(lb_apps(20), now=51.0)
    assert source.last_poll_queries == 1


def test_an_lb_app_without_series_is_a_failure_not_zero():
    source, _ = make_source(lambda q: [], scrape_interval=1.0)
    got = source.observe(lb_apps(1), now=1.0)[AppRef("default", "lb0")]
    assert not got.ok and "no series" in (got.error or "") and "haproxy_backend_http_requests_total" in got.error
    assert got.in_flight_requests is None


def test_parse_in_flight_ignores_other_signals_and_non_finite_values():
    result = [
        sample("default", "a", "3"),
        sample("default", "a", "5", webscale_signal="inflight"),
        sample("default", "b", "NaN", webscale_signal="inflight"),
    ]
    keys = [AppRef("default", "a"), AppRef("default", "b")]
    assert in_flight(result, keys) == {AppRef("default", "a"): 5.0}
    assert request_rates(result, keys, "x")[AppRef("default", "a")] == (3.0, None)


def test_app_query_from_spec_carries_the_source():
    spec = parse_spec({"image": "x", "metrics": {"requestRateSource": "loadbalancer"}})
    assert AppQuery.from_spec(AppRef("default", "shop"), spec).request_rate_source == "loadbalancer"
    assert AppQuery.from_spec(AppRef("default", "shop"), parse_spec({"image": "x"})).request_rate_source == "app"


def test_reading_at_the_lb_needs_the_haproxy_provider():
    from webscale.api.validation import semantic_errors

    spec = parse_spec(
        {"image": "x", "metrics": {"requestRateSource": "loadbalancer"}, "loadBalancer": {"provider": "service"}}
    )
    assert semantic_errors(spec) == [
        "spec.metrics.requestRateSource: loadbalancer needs spec.loadBalancer.provider haproxy"
    ]
    assert semantic_errors(parse_spec({"image": "x", "metrics": {"requestRateSource": "loadbalancer"}})) == []
