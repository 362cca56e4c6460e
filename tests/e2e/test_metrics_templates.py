"""PromQL templates (spec.metrics.requestRate) against a real Prometheus: hostile names cannot alter a
query, a template Prometheus rejects fails only its app, and a template is confined to the app's
namespace (the matcher in every selector) or refused. Same rig as test_metrics_prometheus.py."""

from __future__ import annotations

import time

import pytest
from exposition_rig import SCRAPE_INTERVAL, SHOP, WINDOW, close, query
from fixtures.exposition import HOSTILE
from waiting import eventually
from webscale_local.prometheus import PrometheusHandle

from webscale.api.ref import AppRef
from webscale.metrics.prometheus import PrometheusSource
from webscale.promql import queries as promql
from webscale.promql.template import render_template, template_error

pytestmark = pytest.mark.e2e


# ---- custom templates ------------------------------------------------------------------------

TEMPLATE = 'sum(rate(http_requests_total{namespace={namespace},app={app},managed_by="webscale"}[{window}]))'


def parsed(prom: PrometheusHandle, promql_text: str) -> list[tuple[str, str]]:
    """The query as Prometheus's own parser prints it back (/api/v1/format_query), as tokens:
    code without whitespace, and the decoded value of each string literal."""
    formatted = prom.api("format_query", query=promql_text)
    return [
        (kind, promql.unescape_string(part) if kind == "string" else "".join(part.split()))
        for kind, part in promql.scan(formatted)
    ]


def test_hostile_names_cannot_alter_a_template_query(warm: PrometheusHandle):
    source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
    present = query(warm.url, AppRef("default", HOSTILE), request_rate_template=TEMPLATE, cpu_source=None)
    absent = query(warm.url, AppRef("default", 'x"} or vector(1) or {x="'), request_rate_template=TEMPLATE)

    observed = eventually(
        lambda: (
            (o := source.observe([present, absent], now=time.time()))
            and close(o[present.key].requests_per_second, 3.0)
            and o
        ),
        timeout=30,
        what="the hostile-named app's rate",
    )
    # The escaped name matched exactly the series labelled with it...
    assert observed[present.key].ok and observed[present.key].recent_requests_per_second is None
    # ...and the name that tries to inject `or vector(1)` finds no series instead of reading 1.
    assert observed[absent.key].error is not None and observed[absent.key].error.startswith("no series for app")
    assert source.last_poll_queries == 3  # two templated apps + the CPU query of `absent`

    # Prometheus parses the rendered query to the same AST as with a harmless name.
    rendered = render_template(TEMPLATE, "default", HOSTILE, WINDOW)
    harmless = render_template(TEMPLATE, "default", "harmless", WINDOW)
    assert rendered in warm.queries()
    expected = [(kind, HOSTILE if part == "harmless" else part) for kind, part in parsed(warm, harmless)]
    assert parsed(warm, rendered) == expected
    assert ("string", HOSTILE) in expected


def test_template_rejected_by_prometheus_fails_only_that_app(warm: PrometheusHandle):
    source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
    # well-formed for webscale, a type error for Prometheus (rate of an instant vector)
    broken = query(warm.url, AppRef("default", "api"), request_rate_template="sum(rate(sum(x{app={app}})))")
    observed = source.observe([broken, query(warm.url, SHOP)], now=time.time())
    assert observed[SHOP].ok
    error = observed[broken.key].error
    assert error is not None
    assert error.startswith(f"Prometheus at {warm.url} rejected the query (HTTP 400): bad_data:"), error
    assert "parse error" in error


# ---- templates confined to the app's namespace ---------------------------------------------------

BILLING = AppRef("billing", "shop")
# (template, selectors in it): hostile templates webscale accepts, each confined by webscale.promql.confine
CONFINABLE = [
    ("sum(rate(http_requests_total[{window}]))", 1),
    ('sum(rate({__name__="http_requests_total"}[{window}]))', 1),
    ('sum(rate({__name__=~"http_requests_total|process_cpu_seconds_total"}[{window}]))', 1),
    ("sum(rate(http_requests_total{app={app}}[{window}])) or sum(rate(http_requests_total[{window}]))", 2),
    ('sum by (namespace) (rate(http_requests_total{app="shop"}[{window}] offset 1s))', 1),
    ("max_over_time(sum(rate(http_requests_total[{window}]))[{window}:1s])", 1),
    ('sum(rate(http_requests_total[{window}])) * on() group_left() count(up{job!=""}) / count(up)', 3),
    ('label_replace(sum(rate(http_requests_total[{window}])), "namespace", "default", "", "")', 1),
]
# templates webscale refuses although Prometheus would run them: they read another namespace
UNCONFINABLE = [
    'sum(rate(http_requests_total{namespace="default"}[{window}]))',
    'sum(rate(http_requests_total{namespace=~"billing|default"}[{window}]))',
    'sum(rate(http_requests_total{namespace!="nope"}[{window}]))',
    "sum(rate(http_requests_total{namespace!={namespace}}[{window}]))",
]


@pytest.mark.parametrize(("template", "selectors"), CONFINABLE)
def test_confined_templates_parse_in_prometheus_with_the_matcher_in_every_selector(
    warm: PrometheusHandle, template: str, selectors: int
):
    rendered = render_template(template, "billing", "shop", WINDOW)
    formatted = warm.api("format_query", query=rendered)  # Prometheus's own parser, printed back
    matchers = [part for kind, part in promql.scan(formatted) if kind == "string" and part == '"billing"']
    assert formatted.count('namespace="billing"') == len(matchers) == selectors, formatted


@pytest.mark.parametrize("template", UNCONFINABLE)
def test_templates_reaching_another_namespace_are_refused_though_valid_promql(warm: PrometheusHandle, template: str):
    assert template_error(template) is not None
    plain = template.replace("{namespace}", '"billing"').replace("{app}", '"shop"').replace("{window}", WINDOW)
    assert warm.api("format_query", query=plain)  # Prometheus would have run it
    source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
    before = len(warm.queries())
    observed = source.observe([query(warm.url, BILLING, request_rate_template=template, cpu_source=None)], now=1.0)
    assert observed[BILLING].error is not None and "spec.metrics.requestRate" in observed[BILLING].error
    assert warm.queries()[before:] == []  # refused before any request


def test_a_confined_template_reads_only_its_namespace(warm: PrometheusHandle):
    """default/shop serves 40 req/s and billing/shop 13: billing's unscoped template sees 13, not 53."""
    source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
    unscoped = 'sum(rate(http_requests_total{app="shop"}[{window}]))'
    assert close(warm_value(warm, unscoped.replace("{window}", WINDOW)), 53.0)  # what it would read unconfined
    apps = [
        query(warm.url, BILLING, request_rate_template=unscoped, cpu_source=None),
        query(warm.url, AppRef("billing", "api"), request_rate_template=unscoped.replace("shop", "api")),
    ]
    observed = eventually(
        lambda: (o := source.observe(apps, now=time.time())) and close(o[BILLING].requests_per_second, 13.0) and o,
        timeout=30,
        what="billing/shop's confined rate",
    )
    # default/api's 7 req/s are out of reach from billing: no series, a failure, never 7
    billing_api = observed[AppRef("billing", "api")]
    assert billing_api.requests_per_second is None and (billing_api.error or "").startswith("no series for app"), (
        billing_api
    )


def warm_value(prom: PrometheusHandle, promql_text: str) -> float | None:
    result = prom.api("query", query=promql_text)["result"]
    return float(result[0]["value"][1]) if result else None
