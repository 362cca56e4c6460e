"""Request-rate templates: validation and rendering with hostile app names (pure)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_promql import HOSTILE

from webscale.promql.queries import PromQLError, scan, unescape_string
from webscale.promql.template import render_template, template_error

TEMPLATE = (
    'sum(rate(nginx_requests_total{namespace={namespace}, service={app}, job="ingress"}[{window}]))'
    "  # per-app ingress traffic {not_a_placeholder}"
)


def test_render_template_substitutes_escaped_literals():
    assert render_template(TEMPLATE, "shop", "web", "2m") == (
        'sum(rate(nginx_requests_total{namespace="shop", service="web", job="ingress"}[2m]))  '
    )  # the comment is not sent


def shape(query: str) -> list[tuple[str, str]]:
    """The query's tokens with every string literal's content blanked out."""
    return [(kind, '"…"' if kind == "string" else part) for kind, part in scan(query)]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_cannot_alter_a_template_query(name):
    benign = render_template(TEMPLATE, "ns", "app", "1m")
    for namespace, app in [(name, "web"), ("shop", name), (name, name)]:
        rendered = render_template(TEMPLATE, namespace, app, "1m")
        # Same structure as with harmless names: only the literals' contents differ...
        assert shape(rendered) == shape(benign)
        # ...and the literals hold exactly the names (plus the template's own "ingress").
        strings = [unescape_string(part) for kind, part in scan(rendered) if kind == "string"]
        assert strings == [namespace, app, "ingress"]
        assert "vector(1)" not in "".join(part for kind, part in scan(rendered) if kind == "code")


def test_names_are_not_rescanned_for_placeholders():
    rendered = render_template("x{namespace={namespace}, app={app}}", "{app}", "{namespace}")
    assert rendered == 'x{namespace="{app}", app="{namespace}"}'


@pytest.mark.parametrize(
    "template",
    [
        TEMPLATE,
        "sum(rate(http_requests_total{namespace={namespace},app={app}}[{window}]))",
        'sum(rate(x{app!={app}, pod=~"web-[a-z]{5}"}[{ window }]))',
        "sum(rate(x{app={app}}[{window}:{window}]))",
        "sum(rate(x{app={app}}[5m] offset {window}))",
        "sum(up{})",
        'sum(x{job=~"[a-z]{2}-{name}-braces-in-strings-are-left-alone"})',
        "scalar(vector(1))",
    ],
)
def test_valid_templates(template):
    assert template_error(template) is None


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("", "is empty"),
        ("   \n", "is empty"),
        ("# only a comment", "no query"),
        ("sum(x{app={application}})", "unknown placeholder {application} (known: {namespace}, {app}, {window})"),
        ('sum(x{app="{app}"})', "placeholder {app} is inside quotes"),
        ("sum(x{app=~{app}})", "{app} must be the value of an = or != label matcher"),
        ("sum(x{app}) ", "{app} must be the value of an = or != label matcher"),
        ("sum(x{app={{app}}})", "{app} must be the value of an = or != label matcher"),
        ("sum(rate(x{app={app}}[5m])) > {window}", "{window} must be a range or offset duration"),
        ('sum(x{app={app}, job="x})', "unterminated string literal"),
        ("sum(rate(x{app={app}}[{window}])", "unclosed '('"),
        ("sum(x{app={app}}))", "unbalanced ')'"),
        ("sum(x{app={app}]", "unbalanced ']'"),
    ],
)
def test_template_errors(template, message):
    error = template_error(template)
    assert error is not None and message in error
    assert error.startswith("spec.metrics.requestRate")
    with pytest.raises(PromQLError, match=re.escape(message)):
        render_template(template, "ns", "app")


def test_render_template_rejects_a_bad_window():
    with pytest.raises(PromQLError, match="rate window"):
        render_template("sum(rate(x{app={app}}[{window}]))", "ns", "app", "1m]) or vector(1")


@given(st.text(max_size=200), st.text(max_size=20))
def test_any_text_is_either_rejected_or_renders_with_the_same_structure(template, name):
    """template_error never raises; what it accepts renders for any name without changing shape."""
    problem = template_error(template)
    if problem is not None:
        assert problem.startswith("spec.metrics.requestRate")
        return
    try:
        rendered = render_template(template, name, name)
    except PromQLError as exc:
        assert "surrogate" in str(exc)
        return
    assert shape(rendered) == shape(render_template(template, "x", "x"))
