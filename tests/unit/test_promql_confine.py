"""Confining a query to one namespace (pure): every selector gets the matcher, or the query is refused.

tests/e2e/test_metrics_prometheus.py runs the same hostile templates through a real Prometheus:
its parser accepts every confined query, and a confined query reads nothing of another namespace.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_promql import HOSTILE

from webscale.promql.confine import confine
from webscale.promql.queries import PromQLError, escape_string, scan, unescape_string
from webscale.promql.template import render_template, template_error

NS = 'namespace="shop"'

CONFINED = [
    ("x", f"x{{{NS}}}"),
    ("x{}", f"x{{{NS}}}"),
    ('x{a="b"}', f'x{{{NS}, a="b"}}'),
    ('x{a="b",}', f'x{{{NS}, a="b",}}'),
    ('x{namespace="shop"}', 'x{namespace="shop"}'),
    ("x{namespace='shop', a=\"b\"}", "x{namespace='shop', a=\"b\"}"),
    ('{__name__=~".+"}', f'{{{NS}, __name__=~".+"}}'),
    ("count(kube_secret_info)", f"count(kube_secret_info{{{NS}}})"),
    ("sum(rate(x[5m])) / count(up)", f"sum(rate(x{{{NS}}}[5m])) / count(up{{{NS}}})"),
    (
        "sum by (namespace) (x) or on (app) group_left (b) y",
        f"sum by (namespace) (x{{{NS}}}) or on (app) group_left (b) y{{{NS}}}",
    ),
    ("sum(x) without (pod) and ignoring(a) z", f"sum(x{{{NS}}}) without (pod) and ignoring(a) z{{{NS}}}"),
    ("max_over_time(rate(x[1m])[5m:30s])", f"max_over_time(rate(x{{{NS}}}[1m])[5m:30s])"),
    ("x offset 5m", f"x{{{NS}}} offset 5m"),
    ("x[1m] offset -1h @ 1700000000", f"x{{{NS}}}[1m] offset -1h @ 1700000000"),
    ("x @ start() + y @ end()", f"x{{{NS}}} @ start() + y{{{NS}}} @ end()"),
    ("SUM BY (a) (x)", f"SUM BY (a) (x{{{NS}}})"),
    ("topk(3, x) > bool 1", f"topk(3, x{{{NS}}}) > bool 1"),
    ('count_values("v", x)', f'count_values("v", x{{{NS}}})'),
    ('label_replace(x, "namespace", "other", "", "")', f'label_replace(x{{{NS}}}, "namespace", "other", "", "")'),
    ("-x ^ 2 atan2 y", f"-x{{{NS}}} ^ 2 atan2 y{{{NS}}}"),
    ("Inf + NaN * 0x1F - 1e3", "Inf + NaN * 0x1F - 1e3"),
    ("job:requests:rate5m", f"job:requests:rate5m{{{NS}}}"),
    # Comments never reach Prometheus: they end at \n or \r, as in Prometheus's lexer.
    ('x # a comment with y{namespace="other"}\n', f"x{{{NS}}} \n"),
    # Words Prometheus may read as metric names get the matcher too (or Prometheus refuses them).
    ("sum", f"sum{{{NS}}}"),
    ("offset", f"offset{{{NS}}}"),
    ("sum{a='b'}", f"sum{{{NS}, a='b'}}"),
    ("vector(1)", "vector(1)"),
    ("scalar(x)", f"scalar(x{{{NS}}})"),
]


@pytest.mark.parametrize(("query", "expected"), CONFINED)
def test_every_selector_gets_the_namespace(query, expected):
    assert confine(query, "shop") == expected
    assert confine(expected, "shop") == expected  # already confined: nothing more to add


REFUSED = [
    ('count(kube_secret_info{namespace="kube-system"})', 'namespace="kube-system" selects another'),
    ('x{namespace!="shop"}', 'namespace!="shop" selects another'),
    ('x{namespace=~"shop|kube-system"}', "selects another"),
    ('x{namespace=~".*"}', "selects another"),
    ('x{namespace!~"x"}', "selects another"),
    ('x{namespace=""}', "selects another"),
    ('x{a="b", namespace="shop", namespace="other"}', 'namespace="other" selects another'),
    ('{"namespace"="other"}', 'write label matchers as name="value"'),
    ('{"x"}', 'write label matchers as name="value"'),
    ('x{a="b" or namespace="other"}', "unexpected 'or'"),
    ("info(up)", "function info() is not allowed"),
    ("Rate(x[1m])", "function Rate() is not allowed"),
    ("unknown_fn(x)", "function unknown_fn() is not allowed"),
    ("x[1m+5m]", "must hold a duration ([5m]) or two for a subquery"),
    ('x["1m"]', "does not close with ']' before any string, comment or '['"),
    ("x offset (1h)", "offset takes a duration"),
    ("x @ y", "@ takes a timestamp"),
    ("x y", "unexpected 'y'"),
    ("sum(x) by", "expected '('"),
    ("x{a}", "a needs =, !=, =~ or !~"),
    ("x{a=b}", "a= needs a quoted value"),
    ("x ~ y", "unexpected character '~'"),
    ('x{a="b"} \u00a0+ y', "unexpected character"),
    ("", "unexpected the end of the query"),
]


@pytest.mark.parametrize(("query", "message"), REFUSED)
def test_what_cannot_be_confined_is_refused(query, message):
    with pytest.raises(PromQLError) as caught:
        confine(query, "shop")
    assert message in str(caught.value)


@pytest.mark.parametrize("namespace", [n for n in HOSTILE if "\ud800" not in n])
def test_the_namespace_is_an_escaped_literal(namespace):
    confined = confine("sum(rate(x[1m])) + y", namespace)
    strings = [unescape_string(part) for kind, part in scan(confined) if kind == "string"]
    assert strings == [namespace, namespace]
    assert (
        confined
        == f"sum(rate(x{{namespace={escape_string(namespace)}}}[1m])) + y{{namespace={escape_string(namespace)}}}"
    )


# ---- through templates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        (
            "sum(rate(http_requests_total{app={app}}[{window}]))",
            'sum(rate(http_requests_total{namespace="shop", app="web"}[2m]))',
        ),
        ("count(kube_secret_info)", 'count(kube_secret_info{namespace="shop"})'),
        ("sum(rate(x{namespace={namespace}}[{window}]))", 'sum(rate(x{namespace="shop"}[2m]))'),
    ],
)
def test_templates_render_confined(template, rendered):
    assert template_error(template) is None
    assert render_template(template, "shop", "web", "2m") == rendered


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ('count(kube_secret_info{namespace="kube-system"})', 'the matcher namespace="kube-system" selects another'),
        ('sum(x{namespace="shop"})', 'namespace="shop" selects another (write namespace={namespace}'),
        ("sum(x{namespace!={namespace}})", "the matcher namespace!={namespace} selects another"),
        ("sum(x{namespace=~{namespace}})", "{namespace} must be the value of an = or != label matcher"),
        ("info(up{app={app}})", "function info() is not allowed"),
    ],
)
def test_templates_that_reach_another_namespace_are_invalid(template, message):
    error = template_error(template)
    assert error is not None and error.startswith("spec.metrics.requestRate: ") and message in error, error
    with pytest.raises(PromQLError):
        render_template(template, "shop", "web")


@given(st.text(max_size=120), st.sampled_from(["shop", 'x"} or vector(1) or {x="', "a\\b"]))
def test_confine_either_refuses_or_confines_every_selector(query, namespace):
    """Never another exception; what it returns holds the matcher wherever it would add one."""
    try:
        confined = confine(query, namespace)
    except PromQLError:
        return
    assert confine(confined, namespace) == confined
