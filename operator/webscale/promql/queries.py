"""PromQL for webscale: the label contract, the batched queries, string literals and windows.

Pure functions only (no HTTP); `webscale.metrics.prometheus` runs the queries. User
templates (``spec.metrics.requestRate``) are in `webscale.promql.template`, the
scrape configuration that produces the labels below in `webscale.promql.relabel`.

The label contract
==================
Every series webscale reads carries these labels:

``namespace``
    The app's namespace (the ScaledWebApp's ``metadata.namespace``).
``app``
    The ScaledWebApp's name. Its pods carry the Kubernetes label
    ``app.kubernetes.io/instance=<name>``, which the scrape config's relabelling maps to ``app``.
``pod``
    The pod's name.
``managed_by``
    ``"webscale"``, from the pod label ``app.kubernetes.io/managed-by=webscale``.

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

The queries
===========
Both windows derive from Prometheus's scrape interval (`rate_window_for`): the
rate window W covers 4 scrapes (``1m`` at the usual 15 s) and the recent window
R covers 2 (``30s``), the shortest that still holds two samples. One query per
signal per poll for ALL apps that use the same Prometheus, grouped by
``namespace`` and ``app``. An app absent from the result has no series, which
is a failure, never zero traffic.

Request rate, and the recent rate burst mode reacts to, in one query
(`request_rate_query`)::

    sum by (namespace, app) (rate(http_requests_total{managed_by="webscale"}[W]))
    or label_replace(sum by (namespace, app) (rate(http_requests_total{managed_by="webscale"}[R])),
                     "webscale_signal", "recent", "", "")

The series without ``webscale_signal`` are the request rate; ``recent`` ones
the recent rate. R normally holds two samples; after a late or missed scrape it
holds one and the app has no recent series, which is not a failure (the recent
rate is then unknown; burst mode falls back to the windowed rate).

CPU cores and pods reporting, folded into one query over the same per-pod
vector S so both come from the same evaluation (`cpu_query`)::

    label_replace(sum by (namespace, app) (S), "webscale_signal", "cpu", "", "")
    or label_replace(count by (namespace, app) (S), "webscale_signal", "pods", "", "")

    app:      S = sum by (namespace, app, pod) (rate(process_cpu_seconds_total{managed_by="webscale"}[W]))
    cadvisor: S = label_replace(sum by (namespace, pod) (rate(container_cpu_usage_seconds_total
                  {container!="",container!="POD",pod!=""}[W])), "app", "$1", "pod", CADVISOR_POD_REGEX)

"Pods reporting" counts distinct ``pod`` values with CPU series: the pods whose
CPU the total covers.

At the load balancer (``metrics.requestRateSource: loadbalancer``)
----------------------------------------------------------------------
The app's HAProxy pods carry the same labels (``app.kubernetes.io/instance`` and
``managed-by``), and their built-in exporter names the backend of the app's pods
``proxy="pods"``. One query gives the request rate HAProxy sent to each app's pods,
the recent rate, and the requests in flight there right now (summed over the app's
HAProxy pods), for every app that reads its rate at the LB (`lb_request_rate_query`)::

    sum by (namespace, app) (rate(haproxy_backend_http_requests_total{managed_by="webscale",proxy="pods"}[W]))
    or label_replace(sum by (namespace, app) (rate(...[R])), "webscale_signal", "recent", "", "")
    or label_replace(sum by (namespace, app) (haproxy_backend_current_sessions{managed_by="webscale",proxy="pods"}),
                     "webscale_signal", "inflight", "", "")

The seasonal prior (``autoscaling.seasonal.offset``)
----------------------------------------------------
For the apps with a seasonal offset O, lookahead A and level window L, one query per distinct
(request-rate source, O, A, L) for all of them, on the same series as their request rate
(`seasonal_query`), R = the rate query above without its ``recent`` part::

    label_replace(max_over_time((R)[A:S] offset (O - A)), "webscale_signal", "seasonal_ahead", "", "")
    or label_replace(sum by (namespace, app) (rate(...[L] offset O)), "webscale_signal", "seasonal_then", "", "")
    or label_replace(sum by (namespace, app) (rate(...[L])), "webscale_signal", "seasonal_now", "", "")

(S: the scrape interval). ``seasonal_ahead`` is the highest rate of the A seconds from now - O on.
An app without the three series (no data that far back) has no prior; that is not a failure.

HAProxy counts requests it answered itself (a 503 when no pod is up) in the backend's
counter too: that is demand the app did not serve, which is what scaling should see.
"""

from __future__ import annotations

import re
from typing import Literal

CpuSource = Literal["app", "cadvisor"]
RequestRateSource = Literal["app", "loadbalancer"]

MANAGED_BY = "webscale"
REQUESTS_METRIC = "http_requests_total"
APP_CPU_METRIC = "process_cpu_seconds_total"
CADVISOR_CPU_METRIC = "container_cpu_usage_seconds_total"
SIGNAL_LABEL = "webscale_signal"
DEFAULT_SCRAPE_INTERVAL = 15.0
"""Seconds between scrapes, Prometheus's default and the usual setting."""
RATE_SAMPLES = 4
"""Scrapes in the rate window: rate() needs two samples, four tolerate a missed scrape."""
RECENT_SAMPLES = 2
"""Scrapes in the recent window: the freshest rate there is (burst mode)."""
DEFAULT_WINDOW = "1m"
"""The rate window at the default scrape interval."""
DEFAULT_RECENT_WINDOW = "30s"
"""The recent window at the default scrape interval."""
LB_REQUESTS_METRIC = "haproxy_backend_http_requests_total"
LB_IN_FLIGHT_METRIC = "haproxy_backend_current_sessions"
LB_BACKEND = "pods"
"""The backend of the app's pods in the operator's haproxy.cfg (its exporter's ``proxy`` label)."""
IN_FLIGHT_SIGNAL = "inflight"
SEASONAL_SIGNALS = ("seasonal_ahead", "seasonal_then", "seasonal_now")
CADVISOR_POD_REGEX = "(.+)-[a-z0-9]{1,10}-[a-z0-9]{5}"
"""Deployment pod name -> Deployment (= app) name; Prometheus anchors it at both ends."""


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


# ---- lexing ----------------------------------------------------------------------------------


LINE_ENDS = "\r\n"
"""What ends a ``#`` comment: carriage return or line feed, as in Prometheus's lexer (its
isEndOfLine). Nothing else does (not U+2028, U+2029, U+0085, \\v or \\f): after a lone \\r
Prometheus reads code, so a scanner that ran the comment on to \\n would hide that code."""


def scan(text: str) -> list[tuple[str, str]]:
    """Split PromQL into ("code" | "string" | "comment", text) segments, as the PromQL lexer does.

    Strings are "..." and '...' (backslash escapes, no raw newline) and `...`
    (raw); a comment runs from # to the next \\r or \\n (`LINE_ENDS`), which is code again.
    Raises PromQLError on an unterminated string. One pass, linear in len(text).
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
            j = i + 1
            while j < n and text[j] not in LINE_ENDS:
                j += 1
            segments.append(("code", text[start:i]))
            segments.append(("comment", text[i:j]))
            i = start = j
        else:
            i += 1
    segments.append(("code", text[start:]))
    return [(kind, part) for kind, part in segments if part]


# ---- durations and windows -------------------------------------------------------------------

_DURATION_RE = re.compile(r"^(?:[0-9]++(?:ms|s|m|h|d|w|y))++$")  # possessive: linear


def validate_window(window: str) -> str:
    """`window` if it is a positive PromQL duration ("1m", "90s", "1m30s"), else PromQLError."""
    if not isinstance(window, str) or not _DURATION_RE.match(window) or not re.search(r"[1-9]", window):
        raise PromQLError(f"rate window {window!r} is not a positive PromQL duration such as 1m or 30s")
    return window


def rate_window_for(scrape_interval_seconds: float, samples: int = RATE_SAMPLES) -> str:
    """A window covering `samples` scrapes: 15 s -> "1m", 1 s -> "4s", 20 s -> "80s" (samples=4).

    rate() needs at least two samples in the window; four tolerate a missed scrape,
    two (`RECENT_SAMPLES`) give the freshest rate: 15 s -> "30s".
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


def request_rate_query(window: str = DEFAULT_WINDOW, recent_window: str | None = None) -> str:
    """Request rate of every webscale app, one series per (namespace, app).

    With `recent_window`, also the rate over that (short) window, labelled
    webscale_signal="recent", in the same query.
    """
    rate = f"sum by (namespace, app) (rate({request_selector()}[{validate_window(window)}]))"
    if recent_window is None:
        return rate
    recent = f"sum by (namespace, app) (rate({request_selector()}[{validate_window(recent_window)}]))"
    return f'{rate} or label_replace({recent}, "{SIGNAL_LABEL}", "recent", "", "")'


def lb_selector(metric: str) -> str:
    return f"{metric}{{managed_by={escape_string(MANAGED_BY)},proxy={escape_string(LB_BACKEND)}}}"


def lb_request_selector() -> str:
    return lb_selector(LB_REQUESTS_METRIC)


def lb_request_rate_query(window: str = DEFAULT_WINDOW, recent_window: str | None = None) -> str:
    """At the load balancer, for every app: request rate, recent rate (webscale_signal="recent") and
    requests in flight (webscale_signal="inflight"), one series each per (namespace, app)."""
    rate = f"sum by (namespace, app) (rate({lb_request_selector()}[{validate_window(window)}]))"
    parts = [rate]
    if recent_window is not None:
        recent = f"sum by (namespace, app) (rate({lb_request_selector()}[{validate_window(recent_window)}]))"
        parts.append(f'label_replace({recent}, "{SIGNAL_LABEL}", "recent", "", "")')
    in_flight = f"sum by (namespace, app) ({lb_selector(LB_IN_FLIGHT_METRIC)})"
    parts.append(f'label_replace({in_flight}, "{SIGNAL_LABEL}", "{IN_FLIGHT_SIGNAL}", "", "")')
    return " or ".join(parts)


def seconds_window(value: float) -> str:
    """Whole seconds as a PromQL duration: 86100 -> "86100s"."""
    return validate_window(f"{max(1, round(value))}s")


def seasonal_query(
    source: RequestRateSource, offset: float, lookahead: float, level_window: float, window: str, step: float
) -> str:
    """For every app reading its rate from `source`: the highest rate(...[window]) of the `lookahead`
    seconds from now - `offset` on (webscale_signal="seasonal_ahead", a subquery at `step`), and the
    mean rate over `level_window` ending at now - offset ("seasonal_then") and now ("seasonal_now")."""
    selector = request_selector() if source == "app" else lb_request_selector()
    rate = f"sum by (namespace, app) (rate({selector}[{validate_window(window)}]))"
    shift = f" offset {seconds_window(offset - lookahead)}" if offset - lookahead >= 1 else ""
    ahead = f"max_over_time(({rate})[{seconds_window(lookahead)}:{seconds_window(step)}]{shift})"
    level = seconds_window(level_window)
    then = f"sum by (namespace, app) (rate({selector}[{level}] offset {seconds_window(offset)}))"
    now = f"sum by (namespace, app) (rate({selector}[{level}]))"
    return " or ".join(
        f'label_replace({part}, "{SIGNAL_LABEL}", "{signal}", "", "")'
        for part, signal in zip((ahead, then, now), SEASONAL_SIGNALS, strict=True)
    )


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
