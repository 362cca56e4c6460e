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

The query is read with Prometheus's own lexical rules (`webscale.promql.lexer`: a ``#``
comment ends at ``\\r`` or ``\\n``, as in Prometheus, so no code hides in what looks like a
comment), and the result holds code and strings only: comments are not sent. Nesting is
bounded (`MAX_DEPTH`), and nothing but `PromQLError` leaves `confine`. tests/unit/
test_promql_differential.py proves the result against Prometheus's own parser.

The recogniser is deliberately stricter than Prometheus: where it is unsure whether a word
is a metric name it treats it as one and adds the matcher, so Prometheus either reads a
confined selector or rejects the query; it never reads an unconfined one. Pure: no I/O.
"""

from __future__ import annotations

from webscale.promql.lexer import Token, tokens
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

MAX_DEPTH = 32
"""Deepest nesting of parentheses, calls and aggregations the confiner reads (Prometheus's parser
has no limit; ours is recursive, and Python's stack is not a limit a tenant may reach)."""


def confine(query: str, namespace: str) -> str:
    """`query` with namespace="<namespace>" in every vector selector (PromQLError if it cannot be).

    Comments are left out of the result: only code and strings reach Prometheus.
    """
    return confine_counted(query, namespace)[0]


def confine_counted(query: str, namespace: str) -> tuple[str, int]:
    """`confine`, and how many vector selectors the confined query has (one matcher each)."""
    try:
        parser = _Parser(tokens(query), namespace)
        parser.expression()
        if parser.peek.kind != "end":
            raise parser.unexpected()
        edits = sorted(
            parser.insertions + [(at, at + len(part), "") for at, kind, part in _segments(query) if kind == "comment"]
        )
    except PromQLError:
        raise
    except RecursionError as exc:
        raise PromQLError("cannot confine the query to its namespace: it is nested too deeply") from exc
    except Exception as exc:  # a tenant's query must never raise anything but PromQLError
        raise PromQLError(
            f"cannot confine the query to its namespace: it could not be read ({type(exc).__name__})"
        ) from exc
    out, last = [], 0
    for at, end, text in edits:
        out += [query[last:at], text]
        last = end
    out.append(query[last:])
    return "".join(out), parser.selectors


def _segments(query: str) -> list[tuple[int, str, str]]:
    """`scan`'s segments with their offsets."""
    out, at = [], 0
    for kind, part in scan(query):
        out.append((at, kind, part))
        at += len(part)
    return out


class _Parser:
    """Recursive descent over PromQL's expression grammar, recording where matchers go."""

    def __init__(self, toks: list[Token], namespace: str) -> None:
        self.toks = toks
        self.i = 0
        self.namespace = namespace
        self.matcher = f"{LABEL}={escape_string(namespace)}"
        self.insertions: list[tuple[int, int, str]] = []
        self.selectors = 0
        self.depth = 0

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
        if self.depth >= MAX_DEPTH:
            raise PromQLError(
                f"cannot confine the query to its namespace: it nests deeper than {MAX_DEPTH} levels "
                f"of parentheses, calls and aggregations (at offset {self.peek.start})"
            )
        self.depth += 1
        self.unary()
        while self.binary_operator():
            self.unary()
        self.depth -= 1

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
        if tok.kind in ("number", "string"):
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
            self.selectors += 1
            self.insertions.append((tok.end, tok.end, "{" + self.matcher + "}"))

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
            if self.peek.kind != "word" or ":" in self.peek.text:
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
            if tok.kind == "range":  # its durations are checked by the lexer
                self.next()
            elif self.at("offset"):
                self.next()
                if self.at("-"):
                    self.next()
                if self.peek.kind != "duration":
                    raise self.unexpected("offset takes a duration such as 5m")
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
            if label.kind != "word" or ":" in label.text:
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
                if confined:
                    raise PromQLError(
                        f"cannot confine the query to its namespace: two namespace matchers in one selector "
                        f"(offset {label.start})"
                    )
                confined = True
            empty = False
            if not self.at(","):
                break
            self.next()
        self.expect("}")
        self.selectors += 1
        if not confined:
            self.insertions.append((brace.end, brace.end, self.matcher + ("" if empty else ", ")))
