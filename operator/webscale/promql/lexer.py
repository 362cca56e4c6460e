"""PromQL tokens as Prometheus's lexer reads them, with the limits a tenant's query must keep.

`tokens(query)` splits a query into tokens with their offsets, dropping spaces and comments.
It follows the lexer of Prometheus 2.42 (``promql/parser/lex.go``, the version the
differential test builds: tests/promparse): spaces are exactly `` \\t\\n\\r``; a comment ends
at ``\\r`` or ``\\n`` (`webscale.promql.queries.LINE_ENDS`); identifiers, numbers and
durations are ASCII. Where it is unsure it is stricter (a duration is never a number, a
string must unquote as Prometheus unquotes it), so what it accepts Prometheus lexes the same.

Linear time on any input: a hand-written loop over the characters, and the few regexes
that classify one bounded token use possessive quantifiers only (``++``, ``*+``, ``?+``),
which never backtrack. Limits (`PromQLError` says which and where): a token of at most
`MAX_TOKEN_CHARS` characters, a query of at most `MAX_QUERY_CHARS`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from webscale.promql.queries import PromQLError, scan, unescape_string

MAX_QUERY_CHARS = 16384
"""Longest query the confiner reads (spec.metrics.requestRate holds at most 4096 characters)."""
MAX_TOKEN_CHARS = 2048
"""Longest token (name, number, string literal, range) the confiner reads."""

SPACES = " \t\n\r"
"""Prometheus's isSpace: nothing else separates tokens (\\v, \\f, U+2028 ... are errors)."""
_WORD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_:")
_WORD = _WORD_START | frozenset("0123456789")
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789.")
_DIGITS = frozenset("0123456789")
_OPS2 = ("==", "!=", ">=", "<=", "=~", "!~")
_OPS1 = frozenset("-+*/%^<>=(){},@")

_NUMBER = re.compile(r"0[xX][0-9a-fA-F]++|(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][+-]?+[0-9]++)?+")
_DURATION = re.compile(
    r"(?:([0-9]++)y)?+(?:([0-9]++)w)?+(?:([0-9]++)d)?+(?:([0-9]++)h)?+(?:([0-9]++)m(?!s))?+"
    r"(?:([0-9]++)s)?+(?:([0-9]++)ms)?+"
)
"""model.ParseDuration's units, each at most once, in this order."""
_UNIT_MS = (365 * 86400_000, 7 * 86400_000, 86400_000, 3600_000, 60_000, 1000, 1)
_MAX_DURATION_MS = (2**63 - 1) // 1_000_000  # time.Duration is int64 nanoseconds


@dataclass(frozen=True)
class Token:
    kind: str  # word | number | duration | string | range | op | end
    text: str
    start: int
    end: int


def duration_ms(text: str) -> int | None:
    """Milliseconds of a PromQL duration such as 1h30m, or None when Prometheus would refuse it
    (bad unit order, zero, or longer than Go's time.Duration holds)."""
    match = _DURATION.fullmatch(text)
    if not text or not match:
        return None
    total = sum(int(value) * unit for value, unit in zip(match.groups(), _UNIT_MS, strict=True) if value)
    return total if 0 < total <= _MAX_DURATION_MS else None


def _number_ok(text: str) -> bool:
    """Prometheus parses it (strconv.ParseInt base 0, else ParseFloat, both without overflow)."""
    if not _NUMBER.fullmatch(text):
        return False
    if text[:2] in ("0x", "0X"):
        return int(text, 16) < 2**63
    return not math.isinf(float(text))


def _check_string(literal: str, at: int) -> None:
    """Refuse what Prometheus's lexer or unquoting refuses (bad escapes, U+FFFD, lone surrogates)."""
    if "\ufffd" in literal:
        raise PromQLError(f"string literal at offset {at} holds U+FFFD (Prometheus reads it as invalid UTF-8)")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in literal):
        raise PromQLError(f"string literal at offset {at} holds a lone surrogate")
    try:
        unescape_string(literal)
    except PromQLError as exc:
        raise PromQLError(f"string literal at offset {at}: {exc}") from exc


def _too_long(what: str, at: int, length: int) -> PromQLError:
    return PromQLError(
        f"{what} at offset {at} is {length} characters long; the limit is {MAX_TOKEN_CHARS} characters per token"
    )


def tokens(query: str) -> list[Token]:
    """The query's tokens (comments and spaces dropped), each with its offsets in `query`.

    A range ``[5m]`` or subquery range ``[1h:1m]`` / ``[1h:]`` is one token of kind ``range``
    (durations only, no number, no comment inside). PromQLError on a character Prometheus would not lex here,
    a malformed number, duration or string, or a limit exceeded.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise PromQLError(f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}")
    out: list[Token] = []
    offset = 0
    for kind, part in scan(query):
        if kind == "string":
            if len(part) > MAX_TOKEN_CHARS:
                raise _too_long("string literal", offset, len(part))
            _check_string(part, offset)
            out.append(Token("string", part, offset, offset + len(part)))
        elif kind == "code":
            _code_tokens(part, offset, out)
        offset += len(part)
    out.append(Token("end", "", len(query), len(query)))
    return out


def _code_tokens(part: str, offset: int, out: list[Token]) -> None:
    pos, n = 0, len(part)
    while pos < n:
        ch = part[pos]
        start = pos
        if ch in SPACES:
            pos += 1
            continue
        if ch in _DIGITS or (ch == "." and pos + 1 < n and part[pos + 1] in _DIGITS):
            pos = _run_end(part, pos)
            text = part[start:pos]
            if len(text) > MAX_TOKEN_CHARS:
                raise _too_long("number", offset + start, len(text))
            if _number_ok(text):
                kind = "number"
            elif duration_ms(text) is not None:
                kind = "duration"
            else:
                raise PromQLError(f"bad number or duration {text[:40]!r} at offset {offset + start}")
        elif ch in _WORD_START:
            while pos < n and part[pos] in _WORD:
                pos += 1
            text = part[start:pos]
            if len(text) > MAX_TOKEN_CHARS:
                raise _too_long("name", offset + start, len(text))
            kind = "number" if text.lower() in ("inf", "nan") else "word"
        elif part.startswith(_OPS2, pos):
            pos += 2
            kind = "op"
        elif ch == "[":
            pos = _range_end(part, pos, offset)
            kind = "range"
        elif ch in _OPS1:
            pos += 1
            kind = "op"
        else:
            raise PromQLError(f"unexpected character {ch!r} at offset {offset + pos}")
        out.append(Token(kind, part[start:pos], offset + start, offset + pos))


def _run_end(part: str, pos: int) -> int:
    """End of a number or duration: letters, digits, _ and ., and a sign right after an exponent e."""
    n = len(part)
    while pos < n and (part[pos] in _ALNUM or (part[pos] in "+-" and part[pos - 1] in "eE")):
        pos += 1
    return pos


def _range_end(part: str, pos: int, offset: int) -> int:
    """End of the range starting at part[pos] == "[": one duration, or two around ":" (the second
    may be left out), spaces around each."""
    close = part.find("]", pos)
    if close < 0 or "[" in part[pos + 1 : close]:
        raise PromQLError(
            f"the range at offset {offset + pos} does not close with ']' before any string, comment or '['"
        )
    if close - pos + 1 > MAX_TOKEN_CHARS:
        raise _too_long("range", offset + pos, close - pos + 1)
    pieces = [piece.strip(SPACES) for piece in part[pos + 1 : close].split(":")]
    if not (
        len(pieces) <= 2
        and duration_ms(pieces[0]) is not None
        and (len(pieces) == 1 or not pieces[1] or duration_ms(pieces[1]) is not None)
    ):
        raise PromQLError(
            f"the range {part[pos : close + 1][:60]!r} at offset {offset + pos} must hold a duration "
            f"([5m]) or two for a subquery ([1h:1m] or [1h:])"
        )
    return close + 1
