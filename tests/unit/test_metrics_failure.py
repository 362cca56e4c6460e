"""Failure reasons: whatever a query raised, as one short line naming Prometheus and the cause."""

from __future__ import annotations

import json
import socket

import pytest
import requests
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ReadTimeoutError

from webscale.metrics.failure import describe_failure
from webscale.metrics.parse import MalformedResult

URL = "http://prometheus.test:9090"


def api_error(status: int, body: bytes) -> PrometheusApiClientException:
    """The exception prometheus-api-client raises for a non-200 answer (same message format)."""
    return PrometheusApiClientException(f"HTTP Status Code {status} ({body!r})")


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (
            requests.exceptions.ConnectionError(
                "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded "
                "(Caused by NewConnectionError('[Errno 111] Connection refused'))"
            ),
            f"Prometheus unreachable at {URL}: connection refused",
        ),
        (requests.exceptions.ReadTimeout("read timed out"), f"Prometheus at {URL} did not answer within 5s (timeout)"),
        (requests.exceptions.ConnectTimeout("connect"), f"Prometheus at {URL} did not answer within 5s (timeout)"),
        (
            requests.exceptions.ConnectionError("Failed to resolve 'prometheus.test'"),
            f"Prometheus unreachable at {URL}: cannot resolve the host name",
        ),
        (
            api_error(400, json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"}).encode()),
            f"Prometheus at {URL} rejected the query (HTTP 400): bad_data: parse error",
        ),
        (
            api_error(503, b"Service Unavailable\n"),
            f"Prometheus at {URL} answered HTTP 503: Service Unavailable",  # the status's phrase, not the body
        ),
        (
            api_error(
                422, json.dumps({"status": "error", "errorType": "execution", "error": "too many samples"}).encode()
            ),
            f"Prometheus at {URL} rejected the query (HTTP 422): execution: too many samples",
        ),
        (
            requests.exceptions.JSONDecodeError("Expecting value", "<html>", 0),
            f"Prometheus at {URL} sent a malformed answer: not JSON",
        ),
        (
            json.JSONDecodeError("Expecting value", "<html>", 0),
            f"Prometheus at {URL} sent a malformed answer: not JSON",
        ),
        (KeyError("data"), f"Prometheus at {URL} sent a malformed answer: KeyError: 'data'"),
        (
            MalformedResult("unexpected result type: range vector"),
            f"Prometheus at {URL} gave an unexpected answer: unexpected result type: range vector",
        ),
        (RuntimeError("boom"), f"reading Prometheus at {URL} failed: RuntimeError: boom"),
    ],
)
def test_describe_failure(exc, reason):
    assert describe_failure(exc, URL, 5.0) == reason


def wrapped(reason: BaseException) -> requests.exceptions.ConnectionError:
    """How requests reports a failure when urllib3 may not retry: ConnectionError(MaxRetryError(reason))."""
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/api/v1/query", reason))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (wrapped(ReadTimeoutError(None, "/api/v1/query", "Read timed out.")), "did not answer within 5s (timeout)"),  # type: ignore[arg-type]
        (wrapped(ConnectTimeoutError("connect timed out")), "did not answer within 5s (timeout)"),
        (
            wrapped(NewConnectionError(None, "[Errno 111] Connection refused")),
            "unreachable at {url}: connection refused",
        ),  # type: ignore[arg-type]
        (wrapped(ConnectionRefusedError(111, "refused")), "unreachable at {url}: connection refused"),
        (
            wrapped(socket.gaierror(-2, "Name or service not known")),
            "unreachable at {url}: cannot resolve the host name",
        ),
        (
            wrapped(ConnectionResetError(104, "Connection reset by peer")),
            "unreachable at {url}: ConnectionResetError: [Errno 104] Connection reset by peer",
        ),
    ],
)
def test_describe_wrapped_network_failures(exc, reason):
    assert reason.format(url=URL) in describe_failure(exc, URL, 5.0)


def test_reasons_are_short_single_lines():
    body = json.dumps({"status": "error", "errorType": "bad_data", "error": "x\n" * 1000}).encode()
    reason = describe_failure(api_error(400, body), URL, 5.0)
    assert len(reason) <= 300 and "\n" not in reason and reason.endswith(" x" * 10)


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, b"<html>secret-token-123</html>", "answered HTTP 200: OK"),
        (404, b"<html>admin panel secret-token-123</html>", "rejected the query (HTTP 404): Not Found"),
        (500, b'{"status": "success", "data": "secret-token-123"}', "answered HTTP 500: Internal Server Error"),
        (
            400,
            b'{"status": "error", "errorType": "secret-token-123!", "error": "x"}',
            "rejected the query (HTTP 400): Bad Request",
        ),
        (302, b"see secret-token-123", "answered with a redirect (HTTP 302), which the operator does not follow"),
        (301, b"", "answered with a redirect (HTTP 301), which the operator does not follow"),
    ],
)
def test_an_answer_body_never_reaches_the_reason(status, body, reason):
    """What a server sends back (an SSRF target's page) never travels into a condition or Event."""
    described = describe_failure(api_error(status, body), URL, 5.0)
    assert described == f"Prometheus at {URL} {reason}"
    assert "secret" not in described
