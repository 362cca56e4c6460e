"""PromQL building: escaping, lexing, windows, the batched queries (pure)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webscale.promql import queries as promql
from webscale.promql.queries import PromQLError, escape_string, scan, unescape_string

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


@pytest.mark.parametrize(("scrape", "window"), [(15, "30s"), (1, "2s"), (30, "1m"), (0.5, "1s"), (10, "20s")])
def test_recent_window_covers_two_scrapes(scrape, window):
    assert promql.rate_window_for(scrape, promql.RECENT_SAMPLES) == window


def test_default_windows_follow_the_default_scrape_interval():
    assert promql.rate_window_for(promql.DEFAULT_SCRAPE_INTERVAL) == promql.DEFAULT_WINDOW
    recent = promql.rate_window_for(promql.DEFAULT_SCRAPE_INTERVAL, promql.RECENT_SAMPLES)
    assert recent == promql.DEFAULT_RECENT_WINDOW


@pytest.mark.parametrize(("scrape", "samples"), [(0, 4), (-1, 4), (15, 1)])
def test_rate_window_for_rejects_nonsense(scrape, samples):
    with pytest.raises(PromQLError):
        promql.rate_window_for(scrape, samples)


# ---- the batched queries (exact text) --------------------------------------------------------


def test_request_rate_query():
    assert promql.request_rate_query("1m") == (
        'sum by (namespace, app) (rate(http_requests_total{managed_by="webscale"}[1m]))'
    )


def test_request_rate_query_with_the_recent_rate_folded_in():
    selector = 'http_requests_total{managed_by="webscale"}'
    assert promql.request_rate_query("1m", "30s") == (
        f"sum by (namespace, app) (rate({selector}[1m]))"
        f' or label_replace(sum by (namespace, app) (rate({selector}[30s])), "webscale_signal", "recent", "", "")'
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


@pytest.mark.parametrize("bad", ["1m]) or vector(1) or rate(x[1m", "", "0s"])
def test_queries_reject_a_bad_window(bad):
    with pytest.raises(PromQLError):
        promql.request_rate_query(bad)
    with pytest.raises(PromQLError):
        promql.request_rate_query("1m", bad)
    with pytest.raises(PromQLError):
        promql.cpu_query("app", bad)


# ---- lexing ----------------------------------------------------------------------------------


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
