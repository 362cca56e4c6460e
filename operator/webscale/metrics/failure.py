"""Why a query failed, in one short line an on-call person can act on.

`describe_failure` turns whatever a query raised (timeout, refused connection,
unresolvable host, HTTP error from Prometheus, malformed answer) into a reason
such as "Prometheus unreachable at http://p:9090: connection refused". Pure:
it only looks at the exception, however deeply requests/urllib3 wrapped it.
"""

from __future__ import annotations

import ast
import json
import socket
from collections.abc import Iterator

import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.exceptions import NameResolutionError, NewConnectionError
from urllib3.exceptions import TimeoutError as urllib3_timeout

from webscale.metrics.parse import MalformedResult

MAX_REASON = 300


def describe_failure(exc: BaseException, url: str, timeout: float) -> str:
    """A short, one-line reason for a failed query (what an on-call person reads)."""
    causes = list(_causes(exc))
    if isinstance(exc, MalformedResult):
        reason = f"Prometheus at {url} gave an unexpected answer: {exc}"
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
        reason = f"Prometheus at {url} sent a malformed answer: {type(exc).__name__}: {exc}"
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
    """From prometheus-api-client's "HTTP Status Code 400 (b'{...}')" to a readable reason."""
    head, _, body_repr = message.partition(" (")
    status = head.removeprefix("HTTP Status Code ").strip()
    detail = ""
    try:
        body = ast.literal_eval(body_repr[:-1]) if body_repr.endswith(")") else b""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        try:
            payload = json.loads(text)
            detail = f"{payload.get('errorType', 'error')}: {payload.get('error', '')}"
        except (ValueError, AttributeError):
            detail = text.strip()
    except (ValueError, SyntaxError):
        detail = body_repr
    if status.startswith("4"):
        return f"Prometheus at {url} rejected the query (HTTP {status}): {detail}"
    return f"Prometheus at {url} answered HTTP {status}: {detail}"


def one_line(reason: str) -> str:
    """`reason` on one line, at most MAX_REASON characters."""
    text = " ".join(reason.split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."
