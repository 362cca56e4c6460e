"""Hypothesis strategies for PromQL: well-formed queries (for Prometheus 2.42's grammar and types) with
hostile label values, separators and comments between tokens, and hostile mutations of them."""

from __future__ import annotations

from hypothesis import strategies as st

from webscale.promql.queries import escape_string

NAMESPACE = "shop"
METRICS = ["x", "up", "http_requests_total", "job:rate:5m", "sum_x", "offset_x", "a1_b2"]
LABELS = ["job", "a", "pod", "le", "by", "offset", "on", "bool", "sum", "_x"]  # keywords are names in braces
DURATIONS = ["1m", "5m", "30s", "1h30m", "1d", "2w", "1y", "100ms", "1h1m1s", "90s"]
REGEXES = [".*", "a|b", "x.+", "", "[a-z]+", "\\\\d"]
LINE_BREAKS = ["\n", "\r", "\r\n"]
UNICODE_BREAKS = ["\u2028", "\u2029", "\u0085", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x00", "\u000b"]
HOSTILE_TEXT = [
    *['"', "'", "`", "\\", "#", "{", "}", "(", ")", "[", "]", ",", "=", "~", "!", "@", ":", " ", "\t"],
    *LINE_BREAKS,
    *UNICODE_BREAKS,
    *[" or vector(1)", ' or count({namespace="other"})', ' namespace="other"', "\ufffd", "\ufeff", "\u200b", "é"],
]
HOSTILE_FRAGMENTS = [
    *HOSTILE_TEXT,
    "# c\r or secret",
    "\r or count(kube_secret_info)",
    "#",
    '{"name"}',
    '{"__name__"="x"}',
    '{"namespace"="other"}',
    " offset 5m",
    " @ 0",
    "[5m:1m]",
    "[5m]",
    "\\u2028",
    "\\x41",
    "\\101",
    "\\",
    ' or x{namespace="other"}',
    "x" * 3000,
]

COMMENT_FRAGMENTS = [
    f" # {body}{end}{code}"
    for body in ["c", 'x{namespace="other"}', "\u2028", "\\", '"']
    for end in ["\r", "\n", "\u2028", "\u2029", "\u0085", "\v", "\f"]
    for code in [" or up", ' or x{namespace="other"}', ""]
]
"""A comment, one of the line terminators (Prometheus's, and others that are not), and code after it."""
pieces = st.characters(blacklist_categories=("Cs",)) | st.sampled_from(HOSTILE_TEXT)
values = st.lists(pieces, max_size=8).map("".join)
clean_values = values.map(lambda v: v.replace("\ufffd", ""))
"""Values Prometheus accepts in a string (it refuses U+FFFD there as invalid UTF-8)."""


@st.composite
def literal(draw: st.DrawFn, value: str | None = None) -> str:
    """A string literal of `value` (any text) in one of PromQL's quotings."""
    text = draw(clean_values) if value is None else value
    style = draw(st.sampled_from(["double", "single", "raw", "escapes"]))
    if style == "single":
        return "'" + escape_string(text)[1:-1].replace('\\"', '"').replace("'", "\\'") + "'"
    if style == "raw" and "`" not in text and "\ufffd" not in text:
        return "`" + text + "`"
    if style == "escapes" and value is None:
        return '"' + draw(st.sampled_from(["\\x41", "\\u00e9", "\\101", "\\a\\b\\f\\n\\r\\t\\v", "\\U0001F680"])) + '"'
    return escape_string(text)


@st.composite
def separator(draw: st.DrawFn, hostile: bool = False) -> str:
    """Space, line breaks, or a comment (its text holds anything but what ends it)."""
    kind = draw(st.sampled_from(["space", "break", "comment"]))
    if kind == "space":
        return draw(st.sampled_from([" ", "\t", "  "]))
    if kind == "break":
        return draw(st.sampled_from(LINE_BREAKS))
    body = draw(values)
    if not hostile:
        body = body.replace("\r", "").replace("\n", "")
    return " #" + body + draw(st.sampled_from(LINE_BREAKS))


@st.composite
def matcher(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 5)) == 0:
        value = draw(literal(NAMESPACE))
        return f"namespace{draw(separator())}={value}"
    label = draw(st.sampled_from(LABELS))
    op = draw(st.sampled_from(["=", "!=", "=~", "!~"]))
    value = draw(literal(draw(st.sampled_from(REGEXES)))) if "~" in op else draw(literal())
    return f"{label}{draw(st.sampled_from(['', ' ']))}{op}{value}"


@st.composite
def selector(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from([*METRICS, ""]))
    matchers = draw(st.lists(matcher(), max_size=3, unique_by=lambda m: m.split("=")[0].strip()))
    if matchers and sum(m.startswith("namespace") for m in matchers) > 1:
        matchers = [m for m in matchers if not m.startswith("namespace")]
    if not name and not matchers:
        matchers = [f'job="{draw(st.sampled_from(["a", "b"]))}"']
    body = ("{" + draw(separator()).join(f"{m}," for m in matchers).rstrip(",") + "}") if matchers or not name else ""
    if not body and draw(st.booleans()):
        body = "{}"
    return name + body + draw(modifier())


@st.composite
def modifier(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["", "", "offset", "at"]))
    if kind == "offset":
        return f" offset {draw(st.sampled_from(['', '-']))}{draw(st.sampled_from(DURATIONS))}"
    if kind == "at":
        return f" @ {draw(st.sampled_from(['1700000000', '-5', 'start()', 'end()', '1.5e9']))}"
    return ""


def _rate(s: str) -> st.SearchStrategy[str]:
    return st.sampled_from(DURATIONS).map(lambda d: f"rate({s}[{d}])")


def _binary(pair: tuple[str, str, str]) -> str:
    left, op, right = pair
    return f"{left} {op} {right}"


@st.composite
def _extend(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    c = draw(children)
    sep = draw(separator())
    kind = draw(st.integers(0, 9))
    if kind == 0:
        by = ", ".join(draw(st.lists(st.sampled_from(LABELS[:4]), max_size=2, unique=True)))
        agg = draw(st.sampled_from(["sum", "avg", "max", "count", "SUM", "group"]))
        return f"{agg}{sep}{draw(st.sampled_from(['by', 'without']))} ({by}){sep}({c})"
    if kind == 1:
        return f"({sep}{c}{sep})"
    if kind == 2:
        op = draw(st.sampled_from(["+", "-", "*", "/", "%", "^", "and", "or", "unless", "> bool", "==", "atan2"]))
        return _binary((c, op + sep, draw(children)))
    if kind == 3:
        match = draw(st.sampled_from(["on (a)", "ignoring (pod)", "on (a) group_left (b)", "on () group_right"]))
        return _binary((f"({c})", f"*{sep}{match}", f"({draw(children)})"))  # both sides vectors
    if kind == 4:
        d1, d2 = draw(st.sampled_from(DURATIONS)), draw(st.sampled_from([*DURATIONS, ""]))
        return f"max_over_time(({c})[{d1}:{d2}]{draw(modifier())})"
    if kind == 5:
        args = ", ".join(draw(literal()) for _ in range(4))
        return f"label_replace({c},{sep}{args})"
    if kind == 6:
        return draw(st.sampled_from([f"topk(3, {c})", f"abs({c})", f"clamp_max({c}, 1)", f"-{c}", f"{c} + 1"]))
    if kind == 7:
        return f"count_values({draw(literal())},{sep}{c})"
    if kind == 8:
        return f"scalar({c}) * {draw(children)}"
    return f"{c}{sep}or{sep}{draw(children)}"


base = st.one_of(
    selector(), selector().flatmap(lambda s: _rate(s) if "@" not in s and "offset" not in s else st.just(s))
)
queries = st.recursive(base | st.just("vector(1)") | st.just("time() + x"), _extend, max_leaves=8)
"""Well-formed, well-typed PromQL: Prometheus must parse whatever of it the confiner accepts."""


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A well-formed query with hostile fragments spliced in anywhere (inside strings and comments too)."""
    query = draw(queries)
    for _ in range(draw(st.integers(1, 2))):
        at = draw(st.integers(0, len(query)))
        fragment = draw(st.sampled_from(HOSTILE_FRAGMENTS) | st.sampled_from(COMMENT_FRAGMENTS))
        query = query[:at] + fragment + query[at:]
    return query


TOKENS = ["x", "a", "1", "5m", "(", ")", "{", "}", "[", "]", "[5m]", "=", '"v"', " or ", "sum", "#", "\r", "\n"]
fuzz = st.lists(st.sampled_from(TOKENS) | st.sampled_from(HOSTILE_TEXT), max_size=30).map("".join)
"""Short strings of PromQL's significant characters and every line and control character."""
