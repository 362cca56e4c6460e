"""The PromQL lexer agrees with Prometheus's on line terminators and spaces; limits; linear time.

The same agreement is checked against Prometheus's own parser in test_promql_differential.py;
these cases need no binary.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from re import _parser as sre_parser  # type: ignore[attr-defined]

import pytest

from webscale.promql import lexer, queries, template
from webscale.promql.confine import MAX_DEPTH, confine
from webscale.promql.lexer import MAX_QUERY_CHARS, MAX_TOKEN_CHARS, tokens
from webscale.promql.queries import PromQLError, scan
from webscale.promql.template import render_template, template_error

NS = 'namespace="shop"'


def test_a_comment_ends_at_carriage_return_as_in_prometheus():
    assert scan("x # c\r or y") == [("code", "x "), ("comment", "# c"), ("code", "\r or y")]
    assert scan("x # c\n or y") == [("code", "x "), ("comment", "# c"), ("code", "\n or y")]
    assert confine("x # c\r or y", "shop") == f"x{{{NS}}} \r or y{{{NS}}}"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x00"])
def test_other_line_separators_do_not_end_a_comment(separator):
    """Prometheus's isEndOfLine is \\r and \\n only: the rest of the line stays a comment."""
    text = f"x # c{separator} or y"
    assert scan(text) == [("code", "x "), ("comment", f"# c{separator} or y")]
    assert confine(text, "shop") == f"x{{{NS}}} "


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\v", "\f", "\u00a0", "\ufeff", "\x00"])
def test_only_prometheus_spaces_separate_tokens(separator):
    with pytest.raises(PromQLError, match="unexpected character"):
        confine(f"x{separator}or y", "shop")
    with pytest.raises(PromQLError, match="must hold a duration"):
        confine(f"x[{separator}5m]", "shop")


def test_spaces_prometheus_skips():
    assert confine("x\t\r\n or\ry", "shop") == f"x{{{NS}}}\t\r\n or\ry{{{NS}}}"


def test_comments_are_not_sent():
    assert confine('x # y{namespace="other"}\nor z # end', "shop") == f"x{{{NS}}} \nor z{{{NS}}} "
    assert confine('x{a="b", # c\n job="j"}', "shop") == f'x{{{NS}, a="b", \n job="j"}}'


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("x[0s]", "must hold a duration"),
        ("x[1s1m]", "must hold a duration"),  # Prometheus wants units largest first
        ("x[1.5m]", "must hold a duration"),
        ("x[5]", "must hold a duration"),
        ("x[5m # c\n]", "does not close"),
        ("x offset 5", "offset takes a duration"),
        ("5m + x", "unexpected '5m'"),
        ("0xFFFFFFFFFFFFFFFFFF + x", "bad number or duration"),
        ("1e999 + x", "bad number or duration"),
        ("1_000 + x", "bad number or duration"),
        ('x{a="\\q"}', "unknown escape sequence"),
        ('x{a="\\\n"}', "unknown escape sequence"),
        ("x{a='\\\"'}", "unknown escape sequence"),
        ('x{a="\ufffd"}', "U+FFFD"),
        ('x{a="\ud800"}', "lone surrogate"),
        ('x{a:b="c"}', "write label matchers as name"),
        ('x{namespace="shop", namespace="shop"}', "two namespace matchers"),
    ],
)
def test_what_prometheus_would_lex_otherwise_is_refused(query, message):
    with pytest.raises(PromQLError, match=re.escape(message)):
        confine(query, "shop")


def test_numbers_and_durations_prometheus_reads():
    assert [t.kind for t in tokens("1 .5 1. 1e3 1E-3 0x1F Inf nan 0x7FFFFFFFFFFFFFFF")][:-1] == ["number"] * 9
    assert tokens("x[1y2w3d4h5m6s7ms:30s]")[1].kind == "range"
    assert lexer.duration_ms("1h30m") == 5_400_000
    assert lexer.duration_ms("5ms") == 5
    assert lexer.duration_ms("0s") is None
    assert lexer.duration_ms("300y") is None  # more than Go's time.Duration holds


# ---- limits ----------------------------------------------------------------------------------


def test_nesting_limit_says_what_and_where():
    ok = "(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1)
    assert confine(ok, "shop").count(NS) == 1
    deep = "(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH
    with pytest.raises(PromQLError, match=f"deeper than {MAX_DEPTH} levels .*at offset {MAX_DEPTH}\\)"):
        confine(deep, "shop")


@pytest.mark.parametrize("query", ["(" * 100_000, "sum(" * 5000 + "x" + ")" * 5000, "abs(" * 3000, "-(" * 3000])
def test_nesting_beyond_pythons_stack_is_a_promql_error(query):
    with pytest.raises(PromQLError):
        confine(query[:MAX_QUERY_CHARS], "shop")
    problem = template_error(query[:4096])
    assert problem and problem.startswith("spec.metrics.requestRate")
    with pytest.raises(PromQLError):
        render_template(query[:4096], "shop", "web")


@pytest.mark.parametrize(
    ("query", "what"),
    [
        ("x" * (MAX_TOKEN_CHARS + 1), "name at offset 0"),
        ('x{a="' + "y" * (MAX_TOKEN_CHARS - 1) + '"}', "string literal at offset 4"),
        ("x + " + "1" * (MAX_TOKEN_CHARS + 1), "number at offset 4"),
        ("x[" + " " * (MAX_TOKEN_CHARS - 3) + "5m]", "range at offset 1"),
    ],
)
def test_token_limit_says_what_and_where(query, what):
    with pytest.raises(PromQLError, match=f"{what} is {MAX_TOKEN_CHARS + 1}.* the limit is {MAX_TOKEN_CHARS}"):
        confine(query, "shop")
    assert confine("y" * MAX_TOKEN_CHARS, "shop").endswith(NS + "}")


def test_query_limit():
    with pytest.raises(PromQLError, match=f"the limit is {MAX_QUERY_CHARS}"):
        confine("x + " * MAX_QUERY_CHARS, "shop")


def test_unexpected_exceptions_become_promql_errors(monkeypatch):
    def broken(query: str) -> list[lexer.Token]:
        raise KeyError("boom")

    monkeypatch.setattr("webscale.promql.confine.tokens", broken)
    with pytest.raises(PromQLError, match="could not be read \\(KeyError\\)"):
        confine("x", "shop")
    assert "could not be read" in (template_error("sum(x)") or "")


# ---- linear time -----------------------------------------------------------------------------


def _repeats(pattern: re.Pattern[str]) -> list[str]:
    """The kinds of every quantifier in `pattern`."""
    found: list[str] = []

    def walk(items: object) -> None:
        for op, arg in items:  # type: ignore[attr-defined]
            if str(op).endswith("REPEAT"):
                found.append(str(op))
            for part in arg if isinstance(arg, (list, tuple)) else ():
                if isinstance(part, sre_parser.SubPattern):
                    walk(part)
                elif isinstance(part, list):
                    for sub in part:
                        if isinstance(sub, sre_parser.SubPattern):
                            walk(sub)

    walk(sre_parser.parse(pattern.pattern))
    return found


@pytest.mark.parametrize(
    "pattern", [lexer._NUMBER, lexer._DURATION, template._PLACEHOLDER_RE, queries._DURATION_RE], ids=str
)
def test_regexes_on_tenant_input_never_backtrack(pattern):
    """Structural: every quantifier is possessive (POSSESSIVE_REPEAT), so no match backtracks."""
    kinds = _repeats(pattern)
    assert kinds and set(kinds) == {"POSSESSIVE_REPEAT"}, kinds


def _cpu_seconds(fn: Callable[[str], object], text: str) -> float:
    """The least CPU time (process time: other processes on the machine do not count) of 5 runs."""
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        with contextlib.suppress(PromQLError):
            fn(text)
        best = min(best, time.process_time() - start)
    return best


def _check(text: str) -> object:
    """template_error without the 4096-character limit of the resource: every step of it."""
    return template._template_problem(text)


@pytest.mark.parametrize(
    "hostile",
    ["1", "5m", "{ ", "# \u2028", '"\\"', "(", "x+", "[ ", "x{a={app}}", "{app} "],
)
def test_long_hostile_inputs_take_linear_time(hostile):
    """4x the input takes about 4x the time (a quadratic scan would take 16x): a ratio, no clock limit."""
    n = 16000 // len(hostile)
    for fn in (scan, lexer._NUMBER.fullmatch, lexer._DURATION.fullmatch, template._PLACEHOLDER_RE.findall, _check):
        small, large = _cpu_seconds(fn, hostile * n + "a"), _cpu_seconds(fn, hostile * 4 * n + "a")
        assert large < 10 * max(small, 1e-5), (fn, hostile, small, large)
