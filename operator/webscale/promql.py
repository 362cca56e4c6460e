"""PromQL for webscale: the label contract, the batched queries, escaping and templates.

Pure functions only (no HTTP); `webscale.metrics` runs the queries.

The label contract
==================
Every series webscale reads carries these labels:

``namespace``
    The app's namespace (the ScaledWebApp's ``metadata.namespace``).
``app``
    The ScaledWebApp's name. Its pods carry the Kubernetes label
    ``app.kubernetes.io/instance=<name>``, which the scrape config's relabelling
    (`relabel_configs`) maps to ``app``.
``pod``
    The pod's name.
``managed_by``
    ``"webscale"``, from the pod label ``app.kubernetes.io/managed-by=webscale``.

Pods are scraped when annotated ``prometheus.io/scrape: "true"``, on the port in
``prometheus.io/port`` (without it: each declared container port, so annotate pods
that declare several) and the path in ``prometheus.io/path`` (default
``/metrics``); `scrape_config` gives the kubernetes_sd job. The scrape config
keeps ``honor_labels: false`` (the default), so a label of the same name exposed
by the app cannot override these (Prometheus renames the app's one to
``exported_app``).

The app exposes two counters (summed over all cluster workers of the pod, or one
series per worker: the queries sum per pod either way):

``http_requests_total``
    Requests served.
``process_cpu_seconds_total``
    CPU seconds used by the pod's processes (``metrics.cpuSource: app``).

With ``metrics.cpuSource: cadvisor`` CPU comes from the kubelet's
``container_cpu_usage_seconds_total``, whose series carry ``namespace``, ``pod``
and ``container`` but no ``app``: the app is derived from the pod name, which for
a Deployment's pod is ``<deployment>-<pod-template-hash>-<5 chars>``, and the
operator names the Deployment after the app. The regex `CADVISOR_POD_REGEX` strips
the two generated suffixes. Containers named ``""`` (the pod-level cgroup total,
which would count every container twice) and ``"POD"`` (the pause container) are
left out; every other container of the pod counts.

The queries (W is the rate window, default ``1m``: 4 x the usual 15 s scrape
interval, see `rate_window_for`): one per signal per poll for ALL apps that use
the same Prometheus, grouped by ``namespace`` and ``app``. An app absent from
the result has no series, which is a failure, never zero traffic.

Request rate (`request_rate_query`)::

    sum by (namespace, app) (rate(http_requests_total{managed_by="webscale"}[W]))

CPU cores and pods reporting, folded into one query over the same per-pod
vector S so both come from the same evaluation (`cpu_query`)::

    label_replace(sum by (namespace, app) (S), "webscale_signal", "cpu", "", "")
    or label_replace(count by (namespace, app) (S), "webscale_signal", "pods", "", "")

    app:      S = sum by (namespace, app, pod) (rate(process_cpu_seconds_total{managed_by="webscale"}[W]))
    cadvisor: S = label_replace(sum by (namespace, pod) (rate(container_cpu_usage_seconds_total
                  {container!="",container!="POD",pod!=""}[W])), "app", "$1", "pod", CADVISOR_POD_REGEX)

"Pods reporting" counts distinct ``pod`` values with CPU series: the pods whose
CPU the total covers.

Request-rate templates
======================
``spec.metrics.requestRate`` replaces the batched request-rate query for one app
with the user's PromQL. Placeholders are ``{namespace}``, ``{app}`` and
``{window}``, a brace pair around a bare word, written outside quotes:

    sum(rate(nginx_requests_total{namespace={namespace}, service={app}}[{window}]))

``{namespace}`` and ``{app}`` become escaped double-quoted string literals
(``namespace="shop"``) and must be the value of an ``=`` or ``!=`` matcher;
``{window}`` becomes the rate window and must sit in a range (``[{window}]``) or
after ``offset``. This syntax cannot clash with PromQL: outside a string a brace
opens label matchers, which are never a bare word, so ``{job="x"}`` and ``{}`` are
left alone, as is anything inside quotes or after ``#``. Unknown placeholders, a
placeholder in quotes or in another position, and unbalanced brackets are
rejected by `template_error` (the operator marks the resource Invalid); other
syntax errors come back from Prometheus as the app's failure reason. The result
(an instant vector, summed, or a scalar) is the app's request rate; an empty
result is a failure. A template cannot be batched: each costs one query per poll.
"""

from __future__ import annotations

import re
from typing import Any, Literal

CpuSource = Literal["app", "cadvisor"]

MANAGED_BY = "webscale"
REQUESTS_METRIC = "http_requests_total"
APP_CPU_METRIC = "process_cpu_seconds_total"
CADVISOR_CPU_METRIC = "container_cpu_usage_seconds_total"
SIGNAL_LABEL = "webscale_signal"
DEFAULT_WINDOW = "1m"
CADVISOR_POD_REGEX = "(.+)-[a-z0-9]{1,10}-[a-z0-9]{5}"
"""Deployment pod name -> Deployment (= app) name; Prometheus anchors it at both ends."""

PLACEHOLDERS = ("namespace", "app", "window")


class PromQLError(ValueError):
    """A value or template that cannot be turned into safe PromQL; str() is the reason."""


# ---- string literals -------------------------------------------------------------------------

_SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_string(value: str) -> str:
    """`value` as a double-quoted PromQL string literal, quotes included.

    PromQL string literals follow Go's rules (strconv.Unquote): backslash and
    the double quote are escaped, a raw newline is not allowed, and any other
    non-printable character is written as a \\u/\\U escape, so the literal is
    one printable line whatever the input. Lone surrogates cannot be encoded.
    """
    out = ['"']
    for ch in value:
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            raise PromQLError(f"cannot put a lone surrogate (U+{ord(ch):04X}) into a PromQL string")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_SIMPLE_UNESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def unescape_string(literal: str) -> str:
    """The value of a quoted PromQL string literal (Go strconv.Unquote semantics).

    Accepts "...", '...' and `...` (raw). Raises PromQLError when `literal` is
    not exactly one valid literal (e.g. an unescaped quote inside it).
    """
    if len(literal) < 2 or literal[0] not in "\"'`" or literal[-1] != literal[0]:
        raise PromQLError(f"not a quoted string literal: {literal[:40]!r}")
    quote, body = literal[0], literal[1:-1]
    if quote == "`":
        if "`" in body:
            raise PromQLError("backquote inside a raw string")
        return body
    buf = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == quote or ch == "\n":
            raise PromQLError(f"unescaped {ch!r} at offset {i + 1}")
        if ch != "\\":
            buf += ch.encode("utf-8", "surrogatepass")
            i += 1
            continue
        if i + 1 >= len(body):
            raise PromQLError("string ends in a lone backslash")
        esc = body[i + 1]
        i += 2
        if esc in _SIMPLE_UNESCAPES:
            buf.append(_SIMPLE_UNESCAPES[esc])
        elif esc == quote:
            buf += esc.encode()
        elif esc in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = body[i : i + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise PromQLError(f"bad \\{esc} escape")
            code = int(digits, 16)
            i += width
            if esc == "x":
                buf.append(code)
            elif code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise PromQLError(f"\\{esc}{digits} is not a valid code point")
            else:
                buf += chr(code).encode("utf-8")
        elif esc in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) != 3 or not all(c in "01234567" for c in digits) or int(digits, 8) > 255:
                raise PromQLError("bad octal escape")
            buf.append(int(digits, 8))
            i += 2
        else:
            raise PromQLError(f"unknown escape sequence \\{esc}")
    try:
        return buf.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PromQLError("string is not valid UTF-8") from exc


# ---- durations and windows -------------------------------------------------------------------

_DURATION_RE = re.compile(r"^(?:[0-9]+(?:ms|s|m|h|d|w|y))+$")


def validate_window(window: str) -> str:
    """`window` if it is a positive PromQL duration ("1m", "90s", "1m30s"), else PromQLError."""
    if not isinstance(window, str) or not _DURATION_RE.match(window) or not re.search(r"[1-9]", window):
        raise PromQLError(f"rate window {window!r} is not a positive PromQL duration such as 1m or 30s")
    return window


def rate_window_for(scrape_interval_seconds: float, samples: int = 4) -> str:
    """A rate window covering `samples` scrapes: 15 s -> "1m", 1 s -> "4s", 20 s -> "80s".

    rate() needs at least two samples in the window; four tolerates a missed scrape.
    """
    if scrape_interval_seconds <= 0 or samples < 2:
        raise PromQLError("scrape interval must be > 0 and samples >= 2")
    total = int(-(-scrape_interval_seconds * samples // 1))  # ceil to whole seconds
    return f"{total // 60}m" if total % 60 == 0 else f"{total}s"


# ---- the batched queries ---------------------------------------------------------------------


def request_selector() -> str:
    return f"{REQUESTS_METRIC}{{managed_by={escape_string(MANAGED_BY)}}}"


def cpu_selector(source: CpuSource) -> str:
    if source == "app":
        return f"{APP_CPU_METRIC}{{managed_by={escape_string(MANAGED_BY)}}}"
    if source == "cadvisor":
        return f'{CADVISOR_CPU_METRIC}{{container!="",container!="POD",pod!=""}}'
    raise PromQLError(f"unknown cpu source {source!r}")


def request_rate_query(window: str = DEFAULT_WINDOW) -> str:
    """Request rate of every webscale app, one series per (namespace, app)."""
    return f"sum by (namespace, app) (rate({request_selector()}[{validate_window(window)}]))"


def cpu_query(source: CpuSource, window: str = DEFAULT_WINDOW) -> str:
    """CPU cores (webscale_signal="cpu") and distinct pods reporting ("pods") per (namespace, app)."""
    rate = f"rate({cpu_selector(source)}[{validate_window(window)}])"
    if source == "app":
        per_pod = f"sum by (namespace, app, pod) ({rate})"
    else:
        per_pod = (
            f'label_replace(sum by (namespace, pod) ({rate}), "app", "$1", "pod", {escape_string(CADVISOR_POD_REGEX)})'
        )
    return (
        f'label_replace(sum by (namespace, app) ({per_pod}), "{SIGNAL_LABEL}", "cpu", "", "")'
        f' or label_replace(count by (namespace, app) ({per_pod}), "{SIGNAL_LABEL}", "pods", "", "")'
    )


# ---- user templates (see "Request-rate templates" above) -------------------------------------


_PLACEHOLDER_RE = re.compile(r"\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")


def scan(text: str) -> list[tuple[str, str]]:
    """Split PromQL into ("code" | "string" | "comment", text) segments, as the PromQL lexer does.

    Strings are "..." and '...' (backslash escapes, no raw newline) and `...`
    (raw); a comment runs from # to the end of the line. Raises PromQLError on
    an unterminated string.
    """
    segments: list[tuple[str, str]] = []
    i, start, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'`":
            j = i + 1
            while True:
                if j >= n or (ch != "`" and text[j] == "\n"):
                    raise PromQLError(f"unterminated string literal starting at offset {i}")
                if ch != "`" and text[j] == "\\":
                    j += 2
                    continue
                if text[j] == ch:
                    break
                j += 1
            segments.append(("code", text[start:i]))
            segments.append(("string", text[i : j + 1]))
            i = start = j + 1
        elif ch == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            segments.append(("code", text[start:i]))
            segments.append(("comment", text[i:j]))
            i = start = j
        else:
            i += 1
    segments.append(("code", text[start:]))
    return [(kind, part) for kind, part in segments if part]


def template_error(template: str) -> str | None:
    """None when `template` is a usable requestRate template, else a reason to show the user.

    Rules: placeholders are {namespace}, {app} (each the value of an = or !=
    label matcher: `app={app}`) and {window} (inside a range: `[{window}]`);
    they are not written inside quotes; brackets balance. PromQL syntax beyond
    that is checked by Prometheus, whose parse error becomes the app's failure.
    """
    if not template.strip():
        return "spec.metrics.requestRate is empty"
    try:
        segments = scan(template)
    except PromQLError as exc:
        return f"spec.metrics.requestRate: {exc}"
    code_only = []
    for kind, part in segments:
        if kind == "string":
            for match in _PLACEHOLDER_RE.finditer(part):
                if match.group(1) in PLACEHOLDERS:
                    name = match.group(1)
                    return (
                        f"spec.metrics.requestRate: placeholder {{{name}}} is inside quotes; write it bare "
                        f"(e.g. {name}={{{name}}}): it is replaced by a quoted, escaped string"
                    )
            code_only.append('""')
        elif kind == "code":
            for match in _PLACEHOLDER_RE.finditer(part):
                problem = _placeholder_problem(match.group(1), part[: match.start()])
                if problem:
                    return f"spec.metrics.requestRate: {problem}"
            code_only.append(_PLACEHOLDER_RE.sub("X", part))
    if not "".join(code_only).strip():
        return "spec.metrics.requestRate has no query (only comments)"
    return _bracket_problem("".join(code_only))


def _placeholder_problem(name: str, before: str) -> str | None:
    known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
    if name not in PLACEHOLDERS:
        return f"unknown placeholder {{{name}}} (known: {known})"
    tail = before.rstrip()
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
            return f"spec.metrics.requestRate: unbalanced {ch!r}"
    if stack:
        return f"spec.metrics.requestRate: unclosed {stack[-1]!r}"
    return None


def render_template(template: str, namespace: str, app: str, window: str = DEFAULT_WINDOW) -> str:
    """The PromQL of a requestRate template for one app (PromQLError if the template is invalid).

    {namespace} and {app} become escaped double-quoted string literals and
    {window} a validated duration, so no name can change the query's structure.
    Only code is substituted: strings and comments are copied unchanged.
    """
    problem = template_error(template)
    if problem:
        raise PromQLError(problem)
    values = {
        "namespace": escape_string(namespace),
        "app": escape_string(app),
        "window": validate_window(window),
    }
    out = []
    for kind, part in scan(template):
        if kind == "code":
            part = _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], part)
        out.append(part)
    return "".join(out)


# ---- scrape configuration --------------------------------------------------------------------


def relabel_configs() -> list[dict[str, Any]]:
    """`relabel_configs` for a kubernetes_sd (role: pod) scrape job that honours the label contract.

    Keeps running pods labelled app.kubernetes.io/managed-by=webscale and
    annotated prometheus.io/scrape: "true"; scrapes prometheus.io/port (else
    the declared container port) and prometheus.io/path (else /metrics); sets
    namespace, app, pod and managed_by from the pod's metadata.
    """
    meta = "__meta_kubernetes_pod_"
    managed_by = f"{meta}label_app_kubernetes_io_managed_by"
    return [
        {"source_labels": [managed_by], "regex": MANAGED_BY, "action": "keep"},
        {"source_labels": [f"{meta}annotation_prometheus_io_scrape"], "regex": "true", "action": "keep"},
        {"source_labels": [f"{meta}phase"], "regex": "Pending|Succeeded|Failed", "action": "drop"},
        {
            "source_labels": [f"{meta}annotation_prometheus_io_path"],
            "regex": "(.+)",
            "target_label": "__metrics_path__",
            "replacement": "$1",
            "action": "replace",
        },
        {  # IPv4 pod IP + annotated port
            "source_labels": [f"{meta}ip", f"{meta}annotation_prometheus_io_port"],
            "regex": r"(\d+\.\d+\.\d+\.\d+);(\d+)",
            "target_label": "__address__",
            "replacement": "$1:$2",
            "action": "replace",
        },
        {  # IPv6 pod IP + annotated port
            "source_labels": [f"{meta}ip", f"{meta}annotation_prometheus_io_port"],
            "regex": r"([0-9a-fA-F]*:[0-9a-fA-F:.]*);(\d+)",
            "target_label": "__address__",
            "replacement": "[$1]:$2",
            "action": "replace",
        },
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace", "action": "replace"},
        {
            "source_labels": [f"{meta}label_app_kubernetes_io_instance"],
            "target_label": "app",
            "action": "replace",
        },
        {"source_labels": [f"{meta}name"], "target_label": "pod", "action": "replace"},
        {"source_labels": [managed_by], "target_label": "managed_by", "action": "replace"},
    ]


def scrape_config(job_name: str = "webscale-pods", namespaces: list[str] | None = None) -> dict[str, Any]:
    """A complete scrape_configs entry for webscale pods (all namespaces unless given)."""
    sd: dict[str, Any] = {"role": "pod"}
    if namespaces:
        sd["namespaces"] = {"names": list(namespaces)}
    return {
        "job_name": job_name,
        "honor_labels": False,
        "kubernetes_sd_configs": [sd],
        "relabel_configs": relabel_configs(),
    }
