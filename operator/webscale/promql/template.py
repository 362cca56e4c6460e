"""Request-rate templates: the user's PromQL in ``spec.metrics.requestRate``.

A template replaces the batched request-rate query (`webscale.promql.queries`) for one
app. Placeholders are ``{namespace}``, ``{app}`` and ``{window}``, a brace pair
around a bare word, written outside quotes:

    sum(rate(nginx_requests_total{namespace={namespace}, service={app}}[{window}]))

``{namespace}`` and ``{app}`` become escaped double-quoted string literals
(``namespace="shop"``) and must be the value of an ``=`` or ``!=`` matcher;
``{window}`` becomes the rate window and must sit in a range (``[{window}]``) or
after ``offset``. This syntax cannot clash with PromQL: outside a string a brace
opens label matchers, which are never a bare word, so ``{job="x"}`` and ``{}`` are
left alone, as is anything inside quotes or after ``#``. Unknown placeholders, a
placeholder in quotes or in another position, unbalanced brackets and a query that
cannot be confined to the app's namespace (see `webscale.promql.confine`: every
selector gets ``namespace="<the app's namespace>"``) are rejected by `template_error`
(`webscale.api.validation` marks the resource Invalid); other syntax errors come back
from Prometheus as the app's failure reason. The
result (an instant vector, summed, or a scalar) is the app's request rate; an
empty result is a failure. A template cannot be batched: each costs one query
per poll, and gives no recent rate (burst mode then uses the windowed rate).
"""

from __future__ import annotations

import re

from webscale.promql.confine import confine
from webscale.promql.queries import DEFAULT_WINDOW, PromQLError, escape_string, scan, validate_window

FIELD = "spec.metrics.requestRate"
PLACEHOLDERS = ("namespace", "app", "window")
_CHECK_NAMESPACE = "{namespace}"
"""Stands for the app's namespace when a template is checked: no real namespace has braces, so a
namespace matcher in the template passes only when it is the {namespace} placeholder."""
_PLACEHOLDER_RE = re.compile(r"\{[ \t\n\r]*+([A-Za-z_][A-Za-z0-9_]*+)[ \t\n\r]*+\}")
"""Possessive quantifiers only: linear on any input."""


def template_error(template: str) -> str | None:
    """None when `template` is a usable requestRate template, else a reason to show the user.

    Rules: placeholders are {namespace}, {app} (each the value of an = or !=
    label matcher: `app={app}`) and {window} (inside a range: `[{window}]`);
    they are not written inside quotes; brackets balance. PromQL syntax beyond
    that is checked by Prometheus, whose parse error becomes the app's failure.
    """
    try:
        return _template_problem(template)
    except Exception as exc:  # a tenant's template must never raise: it is a reason to show
        return f"{FIELD} could not be read ({type(exc).__name__}: {str(exc)[:200]})"


def _template_problem(template: str) -> str | None:
    if not template.strip():
        return f"{FIELD} is empty"
    try:
        segments = scan(template)
    except PromQLError as exc:
        return f"{FIELD}: {exc}"
    code_only = []
    for kind, part in segments:
        if kind == "string":
            for match in _PLACEHOLDER_RE.finditer(part):
                if match.group(1) in PLACEHOLDERS:
                    name = match.group(1)
                    return (
                        f"{FIELD}: placeholder {{{name}}} is inside quotes; write it bare "
                        f"(e.g. {name}={{{name}}}): it is replaced by a quoted, escaped string"
                    )
            code_only.append('""')
        elif kind == "code":
            for match in _PLACEHOLDER_RE.finditer(part):
                problem = _placeholder_problem(match.group(1), _tail(part, match.start()))
                if problem:
                    return f"{FIELD}: {problem}"
            code_only.append(_PLACEHOLDER_RE.sub("X", part))
    if not "".join(code_only).strip():
        return f"{FIELD} has no query (only comments)"
    problem = _bracket_problem("".join(code_only))
    if problem:
        return problem
    try:
        confine(_substitute(template, _CHECK_NAMESPACE, "app", DEFAULT_WINDOW), _CHECK_NAMESPACE)
    except PromQLError as exc:  # show the placeholder, not what stood for it
        return f"{FIELD}: " + str(exc).replace(escape_string(_CHECK_NAMESPACE), _CHECK_NAMESPACE)
    return None


def _tail(part: str, at: int) -> str:
    """The last 6 characters before part[at], spaces skipped: enough for "offset", "[", ":" and
    "=" / "==". Walks back over the spaces before one placeholder only: linear over a template."""
    end = at
    while end > 0 and part[end - 1] in " \t\n\r":
        end -= 1
    return part[max(0, end - 6) : end]


def _placeholder_problem(name: str, tail: str) -> str | None:
    known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
    if name not in PLACEHOLDERS:
        return f"unknown placeholder {{{name}}} (known: {known})"
    if name == "window":
        if not (tail.endswith(("[", ":")) or tail.lower().endswith("offset")):
            return "{window} must be a range or offset duration, e.g. rate(x[{window}])"
    elif not (tail.endswith("=") and not tail.endswith(("==", ">=", "<="))):
        return f"{{{name}}} must be the value of an = or != label matcher, e.g. {name}={{{name}}}"
    return None


def _bracket_problem(code: str) -> str | None:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for ch in code:
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return f"{FIELD}: unbalanced {ch!r}"
    if stack:
        return f"{FIELD}: unclosed {stack[-1]!r}"
    return None


def render_template(template: str, namespace: str, app: str, window: str = DEFAULT_WINDOW) -> str:
    """The PromQL of a requestRate template for one app (PromQLError if the template is invalid).

    {namespace} and {app} become escaped double-quoted string literals and
    {window} a validated duration, so no name can change the query's structure.
    Only code is substituted: strings are copied unchanged. Then every vector selector
    gets namespace="<namespace>" and comments are left out (`webscale.promql.confine`):
    the query reads the app's namespace and nothing else. Never raises anything but
    PromQLError.
    """
    problem = template_error(template)
    if problem:
        raise PromQLError(problem)
    return confine(_substitute(template, namespace, app, validate_window(window)), namespace)


def _substitute(template: str, namespace: str, app: str, window: str) -> str:
    values = {"namespace": escape_string(namespace), "app": escape_string(app), "window": window}
    out = []
    for kind, part in scan(template):
        if kind == "code":
            part = _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], part)
        out.append(part)
    return "".join(out)
