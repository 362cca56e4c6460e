"""PromQL building: escaping, windows, the batched queries, templates, relabelling (pure)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webscale import promql
from webscale.promql import (
    PromQLError,
    escape_string,
    render_template,
    scan,
    template_error,
    unescape_string,
)

# Names that would break out of a naively spliced "..." literal, plus awkward text.
HOSTILE = [
    'a"} or vector(1) or {x="',
    '"} or vector(1) #',
    "shop\\",
    '\\"',
    '\\\\"} or vector(1) or {x="',
    "line1\nline2",
    'x"\n} or vector(1)',
    "tab\there\r\n",
    "nul\x00byte",
    "del\x7fesc\x1b[31m",
    "ünïcødé-名前-🚀",
    "\u2028\u2029\u200b\ufeff",
    "\U000e0001tag",
    '"',
    "",
    "'",
    "`",
    "#comment",
    "{app}",
    "{namespace}",
    "{window}",
    "$1",
    "x\\u0022y",
]

# An independent description of a valid double-quoted literal: quotes, then
# escapes or characters other than quote, backslash and newline.
LITERAL_RE = re.compile(r'^"(?:[^"\\\n]|\\.)*"$', re.DOTALL)


def has_unescaped_quote(literal: str) -> bool:
    body = literal[1:-1]
    i = 0
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        if body[i] == '"':
            return True
        i += 1
    return False


# ---- escaping --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("shop", '"shop"'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("a\nb", '"a\\nb"'),
        ("a\rb\tc", '"a\\rb\\tc"'),
        ("\x00", '"\\u0000"'),
        ("\x7f", '"\\u007f"'),
        ("\u2028", '"\\u2028"'),
        ("\U000e0001", '"\\U000e0001"'),
        ("é🚀", '"é🚀"'),
        ("", '""'),
    ],
)
def test_escape_string(value, literal):
    assert escape_string(value) == literal
    assert unescape_string(literal) == value


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_stay_one_literal(name):
    literal = escape_string(name)
    assert LITERAL_RE.match(literal), literal
    assert not has_unescaped_quote(literal)
    assert "\n" not in literal and "\r" not in literal
    assert unescape_string(literal) == name
    assert scan(literal) == [("string", literal)]


@given(st.text())
def test_escape_round_trips_for_any_text(text):
    literal = escape_string(text)
    assert unescape_string(literal) == text
    assert not has_unescaped_quote(literal)
    assert LITERAL_RE.match(literal)
    assert literal.isprintable()


def test_lone_surrogate_cannot_be_escaped():
    with pytest.raises(PromQLError, match="surrogate"):
        escape_string("a\ud800")


@pytest.mark.parametrize(
    ("literal", "value"),
    [('"\\x41\\101"', "AA"), ('"\\u00e9"', "é"), ("'it\\'s'", "it's"), ("`raw\\n`", "raw\\n"), ('"\\a"', "\a")],
)
def test_unescape_follows_go_rules(literal, value):
    assert unescape_string(literal) == value


@pytest.mark.parametrize(
    "literal", ['"a"b"', '"a\\q"', '"abc', "abc", '"a\nb"', '"a\\"', '"\\x4"', '"\\ud800"', '"\\xff"']
)
def test_unescape_rejects_invalid_literals(literal):
    with pytest.raises(PromQLError):
        unescape_string(literal)


# ---- windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize("window", ["1m", "30s", "500ms", "1m30s", "2h", "1d"])
def test_valid_windows(window):
    assert promql.validate_window(window) == window


@pytest.mark.parametrize("window", ["", "0s", "1", "1m]", "1m) or vector(1", "-1m", "1 m", "5x"])
def test_invalid_windows(window):
    with pytest.raises(PromQLError, match="rate window"):
        promql.validate_window(window)


@pytest.mark.parametrize(
    ("scrape", "window"), [(15, "1m"), (1, "4s"), (0.5, "2s"), (30, "2m"), (20, "80s"), (10, "40s")]
)
def test_rate_window_for_scrape_interval(scrape, window):
    assert promql.rate_window_for(scrape) == window


# ---- the batched queries (exact text) --------------------------------------------------------


def test_request_rate_query():
    assert promql.request_rate_query("1m") == (
        'sum by (namespace, app) (rate(http_requests_total{managed_by="webscale"}[1m]))'
    )


def test_cpu_query_app():
    per_pod = 'sum by (namespace, app, pod) (rate(process_cpu_seconds_total{managed_by="webscale"}[1m]))'
    assert promql.cpu_query("app", "1m") == (
        f'label_replace(sum by (namespace, app) ({per_pod}), "webscale_signal", "cpu", "", "")'
        f' or label_replace(count by (namespace, app) ({per_pod}), "webscale_signal", "pods", "", "")'
    )


def test_cpu_query_cadvisor():
    per_pod = (
        "label_replace(sum by (namespace, pod) (rate(container_cpu_usage_seconds_total"
        '{container!="",container!="POD",pod!=""}[30s])), "app", "$1", "pod", '
        '"(.+)-[a-z0-9]{1,10}-[a-z0-9]{5}")'
    )
    assert promql.cpu_query("cadvisor", "30s") == (
        f'label_replace(sum by (namespace, app) ({per_pod}), "webscale_signal", "cpu", "", "")'
        f' or label_replace(count by (namespace, app) ({per_pod}), "webscale_signal", "pods", "", "")'
    )


@pytest.mark.parametrize(
    ("pod", "app"),
    [("shop-7d9f8b6c5d-x2k9p", "shop"), ("shop-api-5c8d7-abcde", "shop-api"), ("a-b-c-1234567890-zzzzz", "a-b-c")],
)
def test_cadvisor_pod_regex_strips_generated_suffixes(pod, app):
    match = re.fullmatch(promql.CADVISOR_POD_REGEX, pod)
    assert match and match.group(1) == app


def test_queries_reject_a_bad_window():
    with pytest.raises(PromQLError):
        promql.request_rate_query("1m]) or vector(1) or rate(x[1m")


# ---- templates -------------------------------------------------------------------------------

TEMPLATE = (
    'sum(rate(nginx_requests_total{namespace={namespace}, service={app}, job="ingress"}[{window}]))'
    "  # per-app ingress traffic {not_a_placeholder}"
)


def test_render_template_substitutes_escaped_literals():
    assert render_template(TEMPLATE, "shop", "web", "2m") == (
        'sum(rate(nginx_requests_total{namespace="shop", service="web", job="ingress"}[2m]))'
        "  # per-app ingress traffic {not_a_placeholder}"
    )


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


def test_scan_keeps_every_character():
    text = 'a{b="c\\"d", e=\'f\'} # g"h\n`i\nj` k'
    segments = scan(text)
    assert "".join(part for _, part in segments) == text
    assert [kind for kind, _ in segments] == [
        "code",
        "string",
        "code",
        "string",
        "code",
        "comment",
        "code",
        "string",
        "code",
    ]


# ---- relabelling -----------------------------------------------------------------------------


def apply_relabel(labels: dict[str, str], configs: list[dict]) -> dict[str, str] | None:
    """Prometheus relabelling (keep/drop/replace) as documented, for checking the rules' effect."""
    labels = dict(labels)
    for cfg in configs:
        value = cfg.get("separator", ";").join(labels.get(name, "") for name in cfg.get("source_labels", []))
        match = re.fullmatch(cfg.get("regex", "(.*)"), value)
        action = cfg.get("action", "replace")
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            result = re.sub(r"\$(\d+)", lambda g, m=match: m.group(int(g.group(1))) or "", cfg.get("replacement", "$1"))
            if result:
                labels[cfg["target_label"]] = result
            else:
                labels.pop(cfg["target_label"], None)
    return {k: v for k, v in labels.items() if not k.startswith("__meta_")}


POD = {
    "__address__": "10.1.2.3:3000",
    "__metrics_path__": "/metrics",
    "__meta_kubernetes_namespace": "shop-ns",
    "__meta_kubernetes_pod_name": "web-7d9f8b6c5d-x2k9p",
    "__meta_kubernetes_pod_ip": "10.1.2.3",
    "__meta_kubernetes_pod_phase": "Running",
    "__meta_kubernetes_pod_label_app_kubernetes_io_instance": "web",
    "__meta_kubernetes_pod_label_app_kubernetes_io_managed_by": "webscale",
    "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
    "__meta_kubernetes_pod_annotation_prometheus_io_port": "9100",
    "__meta_kubernetes_pod_annotation_prometheus_io_path": "/custom-metrics",
}


def test_relabel_configs_produce_the_label_contract():
    assert apply_relabel(POD, promql.relabel_configs()) == {
        "__address__": "10.1.2.3:9100",
        "__metrics_path__": "/custom-metrics",
        "namespace": "shop-ns",
        "app": "web",
        "pod": "web-7d9f8b6c5d-x2k9p",
        "managed_by": "webscale",
    }


def test_relabel_defaults_and_ipv6():
    pod = {k: v for k, v in POD.items() if "prometheus_io_path" not in k and "prometheus_io_port" not in k}
    out = apply_relabel(pod, promql.relabel_configs())
    assert out is not None
    assert (out["__address__"], out["__metrics_path__"]) == ("10.1.2.3:3000", "/metrics")
    v6 = dict(POD, __address__="[fd00::5]:3000", __meta_kubernetes_pod_ip="fd00::5")
    assert apply_relabel(v6, promql.relabel_configs())["__address__"] == "[fd00::5]:9100"


@pytest.mark.parametrize(
    "change",
    [
        {"__meta_kubernetes_pod_label_app_kubernetes_io_managed_by": "helm"},
        {"__meta_kubernetes_pod_annotation_prometheus_io_scrape": "false"},
        {"__meta_kubernetes_pod_phase": "Pending"},
        {"__meta_kubernetes_pod_phase": "Succeeded"},
    ],
)
def test_relabel_drops_other_pods(change):
    assert apply_relabel(dict(POD, **change), promql.relabel_configs()) is None


def test_scrape_config():
    config = promql.scrape_config(namespaces=["a", "b"])
    assert config["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["a", "b"]}}]
    assert config["honor_labels"] is False
    assert config["relabel_configs"] == promql.relabel_configs()
