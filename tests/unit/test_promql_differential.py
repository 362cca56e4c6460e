"""The confiner against Prometheus's own parser (tests/promparse: promql/parser of the pinned
github.com/prometheus/prometheus module, the version Debian's prometheus package is built from).

For every query the confiner accepts, what webscale sends is parsed by Prometheus itself and:

* every VectorSelector and MatrixSelector of Prometheus's AST carries exactly one matcher on
  ``namespace``, and it is ``namespace="<the app's namespace>"`` (equality);
* Prometheus reads the same tokens webscale read: the query as sent and webscale's tokens joined
  by spaces parse to the same canonical query (``expr.String()``), or both fail;
* Prometheus sees as many vector selectors as the confiner confined;
* for well-formed queries (`promql_strategies.queries`), Prometheus parses the result; for the
  others, Prometheus may refuse a type or regex error, never a lexical or grammar one.

It lives with the unit tests: it needs no server, only the promparse binary, which
``make test-unit`` builds first (``make promparse-build``), and runs in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from promparse_client import PromParse, promparse_binary
from promql_strategies import NAMESPACE, fuzz, mutated, queries

from webscale.promql.confine import confine, confine_counted
from webscale.promql.lexer import tokens
from webscale.promql.queries import PromQLError

BOUNDED = settings(
    max_examples=400, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)


LEXICAL_OR_SYNTAX = (
    "unexpected",  # the grammar's "unexpected <token>", the lexer's "unexpected character"...
    "unterminated",
    "escape sequence",
    "invalid UTF-8",
    "illegal character",
    "bad number",
    "bad duration",
    "not a valid duration",
    "duration out of range",
    "duration must be greater",
    "unclosed",
    "unquoting",
    "error parsing number",
)
"""Prometheus's lexer and grammar errors: on a query the confiner accepted, each would mean the two
read it differently. Type errors (``rate(x)``) and bad regexes are Prometheus's to report."""


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PromParse]:
    parser = PromParse(promparse_binary())
    yield parser
    parser.close()


def check(prometheus: PromParse, query: str, namespace: str = NAMESPACE, must_parse: bool = False) -> dict[str, Any]:
    """Confine `query`; when the confiner accepts it, hold Prometheus's reading of it to the properties above."""
    try:
        sent, count = confine_counted(query, namespace)
    except PromQLError:
        return {"refused": True}
    got = prometheus.parse(sent)
    ours = prometheus.parse(" ".join(tok.text for tok in tokens(sent)[:-1]))
    assert ("error" in got) == ("error" in ours), (sent, got, ours)
    if must_parse:
        assert "error" not in got, (query, sent, got)
    if "error" in got:  # a type or regex error at most: Prometheus lexed and parsed what the confiner did
        assert not any(phrase in got["error"] for phrase in LEXICAL_OR_SYNTAX), (query, sent, got)
        return got
    assert got["expr"] == ours["expr"], (sent, got, ours)
    assert sum(s["kind"] == "vector" for s in got["selectors"]) == count, (sent, got)
    for sel in got["selectors"]:
        on_namespace = [m for m in sel["matchers"] if m["name"] == "namespace"]
        assert on_namespace == [{"type": "=", "name": "namespace", "value": namespace}], (query, sent, sel)
    assert confine(sent, namespace) == sent  # what is sent is confined already
    return got


def test_the_parser_answers(prometheus: PromParse) -> None:
    got = prometheus.parse('sum(rate(x{a="b"}[5m])) # c\r or up')
    assert got["expr"] == 'sum(rate(x{a="b"}[5m])) or up'
    assert [s["kind"] for s in got["selectors"]] == ["matrix", "vector", "vector"]
    assert "error" in prometheus.parse("sum(")


def test_a_lone_carriage_return_ends_a_comment_for_both() -> None:
    """The hole the review found: Prometheus ends a comment at \\r, so text after it is code."""
    query = 'sum(rate(x[5m])) # note\r or count(kube_secret_info{namespace="kube-system"})'
    with pytest.raises(PromQLError, match="selects another"):
        confine(query, NAMESPACE)
    assert confine("x # note\r or up", NAMESPACE) == 'x{namespace="shop"} \r or up{namespace="shop"}'


HOSTILE = [
    "x # c\r or up",
    "x # c\r\n or up",
    "x # c\u2028 or up",
    "x # c\u2029 or up",
    "x # c\u0085 or up",
    "x # c\v or up",
    "x # c\f or up",
    "x #\x00\r or up",
    'x{a="b" # c\r, job="y"}',
    'x{a="b" # c\r, namespace="other"}',
    'x{a="b\\\r"} or up',
    'x{a="b\r"} or up',
    "x{a=`b\r\n\u2028`} or up",
    "x{a='b\\'c'} or up",
    'x{a="\\u2028\\x41\\101\\U0001F680"}',
    'x{a="\\q"}',
    'x{"name"}',
    '{"x", a="b"}',
    'x{namespace="shop", namespace="shop"}',
    "x offset 5m @ 1700000000 or y @ start() offset -1h",
    "max_over_time((sum(rate(x[1m])))[1h:1m] offset 5m)",
    "max_over_time(x[1h:])",
    "x[0s]",
    "x[1s1m]",
    "x[1.5m]",
    "0x7FFFFFFFFFFFFFFF + 1e308 + .5 + 1. + Inf + nan",
    "0xFFFFFFFFFFFFFFFFFF + x",
    "1e999 + x",
    "1e+5 - x",
    "x" * 2048,
    "x" * 2049,
    'x{a="' + "y" * 3000 + '"}',
    "(" * 31 + "x" + ")" * 31,
    "(" * 33 + "x" + ")" * 33,
    "abs(" * 40 + "x" + ")" * 40,
    "sum(" * 1000 + "x" + ")" * 1000,
    "-" * 5000 + "x",
    " + ".join(["x"] * 500),
    "1" * 3000 + "a",
    "5m" * 1000,
    "{" * 3000,
    "[" * 3000,
    "#" + "\r" * 3000 + "x",
]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries(prometheus: PromParse, query: str) -> None:
    check(prometheus, query)


@BOUNDED
@given(queries)
def test_well_formed_queries_are_confined_and_parse(prometheus: PromParse, query: str) -> None:
    check(prometheus, query, must_parse=True)


@BOUNDED
@given(mutated())
def test_hostile_splices_never_escape(prometheus: PromParse, query: str) -> None:
    check(prometheus, query)


@BOUNDED
@given(fuzz)
def test_fuzz_never_escapes(prometheus: PromParse, query: str) -> None:
    check(prometheus, query)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(queries, st.sampled_from(["shop", "a-b", 'we"ird\\ns', "line\r\n\u2028", "ünï"]))
def test_any_namespace_is_one_escaped_literal(prometheus: PromParse, query: str, namespace: str) -> None:
    check(prometheus, query.replace('"shop"', '"x"'), namespace=namespace)
