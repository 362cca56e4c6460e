"""Why a query failed, in one short line an on-call person can act on.

`describe_failure` turns whatever a query raised (timeout, refused connection,
unresolvable host, HTTP error from Prometheus, malformed answer, an answer over the size cap) into a reason
such as "Prometheus unreachable at http://p:9090: connection refused". Pure:
it only looks at the exception, however deeply requests/urllib3 wrapped it. A reason
never carries the body of an answer (only Prometheus's own error type and message):
what a server says does not travel into a condition or an Event.
"""

from __future__ import annotations

import ast
import json
import re
import socket
from collections.abc import Iterator
from http import HTTPStatus

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.exceptions import NameResolutionError, NewConnectionError
from urllib3.exceptions import TimeoutError as urllib3_timeout

from webscale.metrics.client import ResponseTooLarge
from webscale.metrics.parse import MalformedResult

MAX_REASON = 300
MAX_PROMETHEUS_ERROR = 200
"""Characters of Prometheus's own error message kept in a reason (a PromQL parse error fits)."""


def describe_failure(exc: BaseException, url: str, timeout: float) -> str:
    """A short, one-line reason for a failed query (what an on-call person reads)."""
    causes = list(_causes(exc))
    if isinstance(exc, MalformedResult):
        reason = f"Prometheus at {url} gave an unexpected answer: {exc}"
    elif isinstance(exc, ResponseTooLarge):
        reason = f"Prometheus at {url} sent an answer larger than {exc.cap} bytes: refused (narrow the query)"
    elif any(_is_timeout(cause) for cause in causes):
        reason = f"Prometheus at {url} did not answer within {timeout:g}s (timeout)"
    elif isinstance(exc, requests.exceptions.JSONDecodeError | json.JSONDecodeError):
        reason = f"Prometheus at {url} sent a malformed answer: not JSON"
    elif isinstance(exc, requests.exceptions.ConnectionError | OSError):
        text = " ".join(str(cause) for cause in causes).lower()
        if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in text:
            reason = f"Prometheus unreachable at {url}: connection refused"
        elif any(isinstance(c, NameResolutionError | socket.gaierror) for c in causes) or "resolve" in text:
            reason = f"Prometheus unreachable at {url}: cannot resolve the host name"
        else:
            reason = f"Prometheus unreachable at {url}: {type(causes[-1]).__name__}: {causes[-1]}"
    elif isinstance(exc, PrometheusApiClientException):
        reason = _http_failure(str(exc), url)
    elif isinstance(exc, KeyError | TypeError | IndexError | ValueError):
        reason = f"Prometheus at {url} sent a malformed answer: {type(exc).__name__}: {str(exc)[:60]}"
    else:
        reason = f"reading Prometheus at {url} failed: {type(exc).__name__}: {exc}"
    return one_line(reason)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps (urllib3's MaxRetryError.reason, args, __cause__), outermost first."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [getattr(current, "reason", None), *current.args, current.__cause__, current.__context__]
        todo.extend(e for e in inner if isinstance(e, BaseException))


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, NewConnectionError):  # a ConnectTimeoutError subclass, but not a timeout
        return False
    return isinstance(exc, requests.exceptions.Timeout | urllib3_timeout | TimeoutError)


def _http_failure(message: str, url: str) -> str:
    """From prometheus-api-client's "HTTP Status Code 400 (b'{...}')" to a readable reason.

    The answer's body is never repeated: only the status, and for Prometheus's own JSON error
    envelope ({"status": "error", "errorType": ..., "error": ...}) its error type and message.
    Whatever else a server sends stays out of conditions, Events and logs.
    """
    head, _, body_repr = message.partition(" (")
    status = head.removeprefix("HTTP Status Code ").strip()
    detail = _prometheus_error(body_repr[:-1] if body_repr.endswith(")") else "")
    if status.startswith("3"):
        return f"Prometheus at {url} answered with a redirect (HTTP {status}), which the operator does not follow"
    if detail is None:
        detail = _phrase(status)
    if status.startswith("4"):
        return f"Prometheus at {url} rejected the query (HTTP {status}): {detail}"
    return f"Prometheus at {url} answered HTTP {status}: {detail}"


def _prometheus_error(body_repr: str) -> str | None:
    """`errorType: error` of a Prometheus API error answer, or None for any other body."""
    try:
        body = ast.literal_eval(body_repr)
        payload = json.loads(body.decode("utf-8") if isinstance(body, bytes) else str(body))
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
        return None
    if not isinstance(payload, dict) or payload.get("status") != "error":
        return None
    kind, error = payload.get("errorType"), payload.get("error")
    if not (isinstance(kind, str) and isinstance(error, str) and re.fullmatch(r"[a-z_]{1,40}", kind)):
        return None
    return f"{kind}: {error[:MAX_PROMETHEUS_ERROR]}"


def _phrase(status: str) -> str:
    try:
        return HTTPStatus(int(status)).phrase
    except ValueError:
        return "unknown status"


def one_line(reason: str) -> str:
    """`reason` on one line, at most MAX_REASON characters."""
    text = " ".join(reason.split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."
