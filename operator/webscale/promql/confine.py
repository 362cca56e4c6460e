"""Confine a PromQL query to one namespace, as prom-label-proxy enforces a label.

`confine(query, namespace)` adds ``namespace="<namespace>"`` to every vector
selector of the query, so whatever a user's ``spec.metrics.requestRate`` says, it
can only read series of the app's own namespace:

    sum(rate(x{job="a"}[1m])) / count(up)
    -> sum(rate(x{namespace="shop", job="a"}[1m])) / count(up{namespace="shop"})

Vector selectors are the only way PromQL reads series, so a query whose every
selector carries the matcher cannot see another namespace. What cannot be
confined is refused with a reason (`PromQLError`), never passed through:

* a ``namespace`` matcher other than ``namespace="<the app's namespace>"`` (another
  namespace, ``!=``, or a regex);
* a quoted label or metric name inside braces (Prometheus 3's ``{"name"}``);
* a function this module does not know, or one that reads series by itself (``info``);
* any construct it does not recognise (duration arithmetic, ``fill`` modifiers, ...).

The recogniser is deliberately stricter than Prometheus: where it is unsure whether a word
is a metric name it treats it as one and adds the matcher, so Prometheus either reads a
confined selector or rejects the query; it never reads an unconfined one. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webscale.promql.queries import PromQLError, escape_string, scan, unescape_string

LABEL = "namespace"

AGGREGATORS = frozenset(
    """sum avg count min max group stddev stdvar topk bottomk count_values quantile limitk
    limit_ratio""".split()  # noqa: SIM905 - a word list reads better
)
"""Aggregation operators (keywords: any letter case)."""

FUNCTIONS = frozenset(
    """abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp
    clamp_max clamp_min cos cosh count_over_time days_in_month day_of_month day_of_week day_of_year deg
    delta deriv exp floor histogram_avg histogram_count histogram_fraction histogram_quantile
    histogram_stddev histogram_stdvar histogram_sum holt_winters double_exponential_smoothing hour
    idelta increase irate label_join label_replace last_over_time ln log10 log2 mad_over_time
    max_over_time min_over_time minute month pi predict_linear present_over_time quantile_over_time rad
    rate resets round scalar sgn sin sinh sort sort_desc sqrt stddev_over_time stdvar_over_time
    sum_over_time tan tanh time timestamp vector year""".split()  # noqa: SIM905 - a word list reads better
)
"""Functions a query may call: they read only the series their arguments select. Names are
case-sensitive, as in Prometheus. Left out on purpose: ``info`` (reads info series by itself)."""

BINARY_WORDS = frozenset({"and", "or", "unless", "atan2"})
BINARY_SYMBOLS = frozenset({"+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<="})
MATCH_OPS = frozenset({"=", "!=", "=~", "!~"})

_NUMBER = r"0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_DURATION = r"(?:[0-9]+(?:ms|[smhdwy]))+"
_TOKEN = re.compile(
    rf"(?P<space>[ \t\n\r]+)|(?P<duration>{_DURATION})(?![A-Za-z0-9_:])|(?P<number>{_NUMBER})(?![A-Za-z0-9_:])"
    r"|(?P<word>[A-Za-z_:][A-Za-z0-9_:]*)|(?P<range>\[[^\[\]]*\])"
    r"|(?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=(){},@])"
)
_RANGE_BODY = re.compile(rf"^\s*(?:{_DURATION}|{_NUMBER})\s*(?::\s*(?:{_DURATION}|{_NUMBER})?\s*)?$")


@dataclass(frozen=True)
class Token:
    kind: str  # word | number | duration | string | range | op | end
    text: str
    start: int
    end: int


def tokens(query: str) -> list[Token]:
    """The query's tokens (comments and spaces dropped), each with its offsets in `query`."""
    out: list[Token] = []
    offset = 0
    for kind, part in scan(query):
        if kind == "string":
            out.append(Token("string", part, offset, offset + len(part)))
        elif kind == "code":
            pos = 0
            while pos < len(part):
                match = _TOKEN.match(part, pos)
                if not match:
                    raise PromQLError(f"unexpected character {part[pos]!r} at offset {offset + pos}")
                kind_ = match.lastgroup or ""
                if kind_ == "word" and match.group().lower() in ("inf", "nan"):
                    kind_ = "number"  # as Prometheus lexes them, in any letter case
                if kind_ != "space":
                    out.append(Token(kind_, match.group(), offset + match.start(), offset + match.end()))
                pos = match.end()
        offset += len(part)
    out.append(Token("end", "", len(query), len(query)))
    return out


def confine(query: str, namespace: str) -> str:
    """`query` with namespace="<namespace>" in every vector selector (PromQLError if it cannot be)."""
    parser = _Parser(tokens(query), namespace)
    parser.expression()
    if parser.peek.kind != "end":
        raise parser.unexpected()
    out, last = [], 0
    for at, text in sorted(parser.insertions):
        out += [query[last:at], text]
        last = at
    out.append(query[last:])
    return "".join(out)


class _Parser:
    """Recursive descent over PromQL's expression grammar, recording where matchers go."""

    def __init__(self, toks: list[Token], namespace: str) -> None:
        self.toks = toks
        self.i = 0
        self.namespace = namespace
        self.matcher = f"{LABEL}={escape_string(namespace)}"
        self.insertions: list[tuple[int, str]] = []

    @property
    def peek(self) -> Token:
        return self.toks[self.i]

    def next(self) -> Token:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def at(self, *texts: str) -> bool:
        """The next token is one of `texts` (an operator exactly, a keyword in any letter case)."""
        tok = self.peek
        return (tok.kind == "op" and tok.text in texts) or (tok.kind == "word" and tok.text.lower() in texts)

    def expect(self, text: str) -> Token:
        if not (self.peek.kind == "op" and self.peek.text == text):
            raise self.unexpected(f"expected {text!r}")
        return self.next()

    def unexpected(self, hint: str = "") -> PromQLError:
        tok = self.peek
        what = "the end of the query" if tok.kind == "end" else repr(tok.text)
        return PromQLError(
            f"cannot confine the query to its namespace: unexpected {what} at offset {tok.start}"
            + (f" ({hint})" if hint else "")
        )

    # ---- expressions ------------------------------------------------------------------------

    def expression(self) -> None:
        self.unary()
        while self.binary_operator():
            self.unary()

    def binary_operator(self) -> bool:
        tok = self.peek
        if not (
            (tok.kind == "op" and tok.text in BINARY_SYMBOLS)
            or (tok.kind == "word" and tok.text.lower() in BINARY_WORDS)
        ):
            return False
        self.next()
        if self.at("bool"):
            self.next()
        if self.at("on", "ignoring"):
            self.next()
            self.label_list()
            if self.at("group_left", "group_right"):
                self.next()
                if self.at("("):
                    self.label_list()
        return True

    def unary(self) -> None:
        while self.at("+", "-"):
            self.next()
        self.primary()
        self.modifiers()

    def primary(self) -> None:
        tok = self.peek
        if tok.kind in ("number", "duration", "string"):
            self.next()
        elif tok.kind == "op" and tok.text == "(":
            self.next()
            self.expression()
            self.expect(")")
        elif tok.kind == "op" and tok.text == "{":
            self.matchers()
        elif tok.kind == "word":
            self.word()
        else:
            raise self.unexpected()

    def word(self) -> None:
        tok = self.next()
        if tok.text.lower() in AGGREGATORS and self.at("(", "by", "without"):
            self.aggregation()
        elif self.at("("):
            if tok.text not in FUNCTIONS:
                raise PromQLError(
                    f"cannot confine the query to its namespace: function {tok.text}() is not allowed "
                    f"(unknown, or it reads series by itself)"
                )
            self.arguments()
        elif self.at("{"):
            self.matchers()
        else:  # a bare metric name (or a word Prometheus will refuse: then nothing is read)
            self.insertions.append((tok.end, "{" + self.matcher + "}"))

    def aggregation(self) -> None:
        if self.at("by", "without"):
            self.next()
            self.label_list()
        self.arguments()
        if self.at("by", "without"):
            self.next()
            self.label_list()

    def arguments(self) -> None:
        self.expect("(")
        if self.at(")"):
            self.next()
            return
        self.expression()
        while self.at(","):
            self.next()
            self.expression()
        self.expect(")")

    def label_list(self) -> None:
        """`(a, b)` after by/without/on/ignoring/group_*: label names, which select nothing."""
        self.expect("(")
        while not self.at(")"):
            if self.peek.kind not in ("word", "string"):
                raise self.unexpected("expected a label name")
            self.next()
            if not self.at(","):
                break
            self.next()
        self.expect(")")

    def modifiers(self) -> None:
        """Ranges, subqueries, offset and @ after a selector or subexpression."""
        while True:
            tok = self.peek
            if tok.kind == "range":
                if not _RANGE_BODY.match(tok.text[1:-1]):
                    raise self.unexpected("a range holds a duration, or two for a subquery")
                self.next()
            elif self.at("offset"):
                self.next()
                if self.at("-"):
                    self.next()
                if self.peek.kind not in ("duration", "number"):
                    raise self.unexpected("offset takes a duration")
                self.next()
            elif self.at("@"):
                self.next()
                if self.at("+", "-"):
                    self.next()
                if self.peek.kind == "number":
                    self.next()
                elif self.at("start", "end"):
                    self.next()
                    self.expect("(")
                    self.expect(")")
                else:
                    raise self.unexpected("@ takes a timestamp, start() or end()")
            else:
                return

    # ---- selectors --------------------------------------------------------------------------

    def matchers(self) -> None:
        """`{a="b", ...}`: checks any namespace matcher, adds ours when there is none."""
        brace = self.expect("{")
        confined = False
        empty = True
        while not self.at("}"):
            label = self.next()
            if label.kind != "word":
                raise PromQLError(
                    f'cannot confine the query to its namespace: write label matchers as name="value" '
                    f"(offset {label.start})"
                )
            op = self.next()
            if not (op.kind == "op" and op.text in MATCH_OPS):
                raise PromQLError(f"cannot confine the query to its namespace: {label.text} needs =, !=, =~ or !~")
            value = self.next()
            if value.kind != "string":
                raise PromQLError(
                    f"cannot confine the query to its namespace: {label.text}{op.text} needs a quoted value"
                )
            if label.text == LABEL:
                if op.text != "=" or unescape_string(value.text) != self.namespace:
                    raise PromQLError(
                        f"a query may only read its app's namespace: the matcher {label.text}{op.text}{value.text} "
                        f"selects another (write namespace={{namespace}}, or leave namespace out: it is added)"
                    )
                confined = True
            empty = False
            if not self.at(","):
                break
            self.next()
        self.expect("}")
        if not confined:
            self.insertions.append((brace.end, self.matcher + ("" if empty else ", ")))
