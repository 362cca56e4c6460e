"""The only module that sends requests to the Kubernetes API: reads, server-side apply, status,
deletes, Events, Leases, and the raw list/watch the informers use.

Every request passes a client-side token bucket (`WEBSCALE_API_QPS`/`_BURST`); 429s, 5xx and
connection errors are retried with the server's Retry-After or jittered backoff (at most 5 sends),
except that a create is never resent once the server may have acted on it. Writes pass a gate before
every send: a replica that is not the leader cannot write (`NotLeader`), so a leader that loses its
Lease stops writing at once, even in the middle of retrying. The user agent carries the replica's
identity, so the audit log tells writers apart.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from webscale import telemetry
from webscale.api import models
from webscale.kube.interface import KubeAPI
from webscale.kube.ratelimit import RETRY_STATUS, TokenBucket, retry_after_seconds, retry_delay
from webscale.kube.transport import USER_AGENT as USER_AGENT  # re-exported: callers import them from here
from webscale.kube.transport import ApiClientTransport, Reply, Transport
from webscale.kube.transport import new_api_client as new_api_client
from webscale.settings import Settings

log = logging.getLogger(__name__)

PLURALS = {
    ("apps/v1", "Deployment"): "deployments",
    ("v1", "Service"): "services",
    ("v1", "ConfigMap"): "configmaps",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("v1", "Event"): "events",
    ("v1", "Pod"): "pods",
    ("apps/v1", "ReplicaSet"): "replicasets",
    ("coordination.k8s.io/v1", "Lease"): "leases",
    (f"{models.GROUP}/{models.VERSION}", models.KIND): models.PLURAL,
}

TRANSIENT_STATUS = frozenset({409, 429, 500, 502, 503, 504})
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MAX_ATTEMPTS = 5


class NotLeader(RuntimeError):
    """A write was attempted by a replica that does not hold the leader Lease."""


def is_transient(exc: BaseException) -> bool:
    """409 conflicts, throttling and server errors are worth a retry; 4xx otherwise are not."""
    return isinstance(exc, ApiException) and (exc.status in TRANSIENT_STATUS or exc.status == 0)


def is_gone(exc: BaseException) -> bool:
    """The object or its namespace is going away: nothing to converge, nothing to retry."""
    if not isinstance(exc, ApiException):
        return False
    return exc.status == 404 or (exc.status == 403 and "NamespaceTerminating" in (exc.body or ""))


def is_rejected(exc: BaseException) -> bool:
    """The API server refused the object itself (400, 403, 422, ...): retrying the same body cannot help."""
    return isinstance(exc, ApiException) and 400 <= exc.status < 500 and not is_transient(exc) and not is_gone(exc)


def server_message(exc: BaseException) -> str:
    """The API server's own message from an error response (its Status object), else the reason."""
    if isinstance(exc, ApiException):
        try:
            return str(json.loads(exc.body or "{}").get("message") or exc.reason)
        except ValueError:
            return str(exc.reason)
    return str(exc)


def failure_reason(exc: BaseException) -> str:
    """A failure on one line: the status and the API server's own message, else the exception's type and
    words (what a log line says, and what tells one lasting failure from another)."""
    if isinstance(exc, ApiException):
        status = f"{exc.status} {exc.reason or _phrase(exc.status)}".strip()
        said = server_message(exc)
        text = status if said in ("", "None", str(exc.reason)) else f"{status}: {said}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:300]


def _phrase(status: int | None) -> str:
    try:
        return HTTPStatus(int(status or 0)).phrase
    except ValueError:
        return ""


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _api_error(reply: Reply, data: bytes) -> ApiException:
    error = ApiException(status=reply.status, reason=reply.reason)
    error.body = data.decode(errors="replace")
    error.headers = reply.headers
    return error


def path_of(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    plural = PLURALS[(api_version, kind)]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    ns = f"/namespaces/{namespace}" if namespace else ""
    return f"{base}{ns}/{plural}" + (f"/{name}" if name else "")


def _never_sent(exc: BaseException) -> bool:
    """No connection was made, so the server saw nothing: safe to resend even a create."""
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    return isinstance(exc, urllib3.exceptions.ConnectTimeoutError | ConnectionRefusedError)


def _may_retry(method: str, status: int) -> bool:
    """Throttling and server errors are retried; a create (POST) only on 429, the one answer that
    says it was not processed: after a 5xx it may exist already, and a generateName create would
    exist twice."""
    return status in RETRY_STATUS and (method != "POST" or status == 429)


class Kube:
    """Thin adapter over the API: dicts in, dicts out.

    `transport`, `sleep`, `clock` and `rand` are seams for unit tests (a fake wire, a fake clock);
    by default requests go through `api` and waits are real."""

    def __init__(
        self,
        api: client.ApiClient | None,
        settings: Settings,
        may_write: Callable[[], bool] = lambda: True,
        identity: str = "webscale-operator",
        *,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if transport is None:
            if api is None:
                raise ValueError("Kube needs an ApiClient or a transport")
            transport = ApiClientTransport(api)
        self.api = api
        self.transport = transport
        self.settings = settings
        self.may_write = may_write
        self.identity = identity
        self._sleep, self._rand = sleep, rand
        self.bucket = TokenBucket(settings.api_qps, settings.api_burst, clock, sleep)

    # ---- the one request path -------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        query: list[tuple[str, Any]] | None = None,
        gated: bool = True,
    ) -> dict[str, Any]:
        """Send one request, retrying throttling, server errors and lost connections (at most
        `_MAX_ATTEMPTS` sends). A write asks the leader gate before every send, after any wait, so
        a replica that lost the Lease while waiting sends nothing more. A create (POST) is resent
        only when the server cannot have acted on it (429, or no connection was made)."""
        gate = gated and method in _WRITES
        attempt = 0
        while True:
            attempt += 1
            self.bucket.acquire()
            if gate and not self.may_write():
                raise NotLeader(f"{method} {path}: this replica does not hold the leader Lease")
            try:
                reply = self.transport(
                    method, path, body, content_type, query or [], False, self.settings.request_timeout_seconds
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                telemetry.API_REQUESTS.labels(method, "error").inc()
                if method == "POST" and not _never_sent(exc):
                    raise ApiException(status=0, reason=f"outcome unknown, not resent (a create): {exc}") from exc
                if attempt >= _MAX_ATTEMPTS:
                    raise ApiException(status=0, reason=f"connection failed: {exc}") from exc
                self._back_off(attempt, None)
                continue
            telemetry.API_REQUESTS.labels(method, str(reply.status)).inc()
            data = reply.body()
            if 200 <= reply.status <= 299:
                found: dict[str, Any] = json.loads(data) if data else {}
                return found
            if _may_retry(method, reply.status) and attempt < _MAX_ATTEMPTS:
                self._back_off(attempt, retry_after_seconds(reply.headers.get("Retry-After")))
                continue
            raise _api_error(reply, data)

    def _back_off(self, attempt: int, retry_after: float | None) -> None:
        telemetry.API_RETRIES.inc()
        self._sleep(retry_delay(attempt, retry_after, rand=self._rand))

    # ---- reads --------------------------------------------------------------------------------------

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", path_of(api_version, kind, namespace, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list_pages(self, path: str, label_selector: str, page: int = 500) -> Iterator[tuple[list[dict[str, Any]], str]]:
        """Every object at `path` matching the selector, one page at a time, so a large list never lies
        in memory whole: (items, "") for each page but the last, (items, the list's resourceVersion)
        for the last."""
        cont = ""
        while True:
            query: list[tuple[str, Any]] = [("limit", page)]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if cont:
                query.append(("continue", cont))
            found = self._call("GET", path, query=query)
            meta = found.get("metadata") or {}
            cont = meta.get("continue") or ""
            yield found.get("items", []), "" if cont else str(meta.get("resourceVersion") or "")
            if not cont:
                return

    def watch(self, path: str, label_selector: str, resource_version: str, timeout: int) -> Iterator[dict[str, Any]]:
        """Watch events after `resource_version` (bookmarks on), until the server ends the watch.
        Raises ApiException(410) when the version is too old: the caller relists."""
        query: list[tuple[str, Any]] = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout),
        ]
        if label_selector:
            query.append(("labelSelector", label_selector))
        self.bucket.acquire()
        reply = self.transport("GET", path, None, "application/json", query, True, timeout + 15)
        telemetry.API_REQUESTS.labels("WATCH", str(reply.status)).inc()
        try:
            if reply.status != 200:
                raise ApiException(status=reply.status, reason=reply.reason)
            for line in reply.lines():
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise ApiException(status=int(status.get("code") or 500), reason=status.get("message", ""))
                yield event
        finally:
            reply.close()

    # ---- writes -------------------------------------------------------------------------------------

    def apply(self, obj: dict[str, Any], manager: str | None = None) -> dict[str, Any]:
        """Server-side apply `obj` as `manager` (default: the operator's field manager)."""
        meta = obj["metadata"]
        path = path_of(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        query = [("fieldManager", manager or self.settings.field_manager), ("force", "true")]
        return self._call("PATCH", path, obj, "application/apply-patch+yaml", query)

    def delete(self, api_version: str, kind: str, namespace: str, name: str, uid: str | None = None) -> None:
        """Delete one object (only if it still has `uid`, when given); gone already is fine."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            self._call("DELETE", path_of(api_version, kind, namespace, name), body)
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    def patch_annotations(self, api_version: str, kind: str, namespace: str, name: str, values: dict[str, str]) -> None:
        """Merge-patch annotations of one object (pods: the live worker count)."""
        body = {"metadata": {"annotations": values}}
        self._call("PATCH", path_of(api_version, kind, namespace, name), body, "application/merge-patch+json")

    def apply_status(self, namespace: str, name: str, status: dict[str, Any], manager: str) -> dict[str, Any]:
        """Server-side apply `status` to the ScaledWebApp's status subresource as `manager`.

        Each writer (reconciler, scaling loop) owns its own fields and condition types, so
        neither can overwrite the other's with a stale copy (conditions are a list-map by type).
        """
        api_version = f"{models.GROUP}/{models.VERSION}"
        path = path_of(api_version, models.KIND, namespace, name) + "/status"
        body = {
            "apiVersion": api_version,
            "kind": models.KIND,
            "metadata": {"name": name, "namespace": namespace},
            "status": _without_nulls(status),
        }
        return self._call(
            "PATCH", path, body, "application/apply-patch+yaml", [("fieldManager", manager), ("force", "true")]
        )

    def event(self, involved: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record a Kubernetes Event on `involved` (apiVersion/kind/name/namespace/uid)."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{involved['name']}.", "namespace": involved["namespace"]},
            "involvedObject": involved,
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": "webscale-operator"},
            "reportingComponent": "webscale.dev/operator",
            "reportingInstance": self.identity[:128],
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self._call("POST", path_of("v1", "Event", involved["namespace"]), body)
        except (ApiException, NotLeader) as exc:  # an Event is best effort: never fail a reconcile over it
            where = f"{involved['namespace']}/{involved['name']}"
            log.warning("could not record the %s event on %s: %s", reason, where, failure_reason(exc))

    # ---- the Lease (not gated: it is how a replica becomes the leader) ------------------------------

    def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get("coordination.k8s.io/v1", "Lease", namespace, name)

    def create_lease(self, lease: dict[str, Any]) -> dict[str, Any]:
        path = path_of("coordination.k8s.io/v1", "Lease", lease["metadata"]["namespace"])
        return self._call("POST", path, lease, gated=False)

    def replace_lease(self, lease: dict[str, Any]) -> dict[str, Any]:
        """PUT with the read resourceVersion: a 409 means another replica got there first."""
        meta = lease["metadata"]
        path = path_of("coordination.k8s.io/v1", "Lease", meta["namespace"], meta["name"])
        return self._call("PUT", path, lease, gated=False)


def _conforms(kube: Kube) -> KubeAPI:
    return kube  # type-checked: the real client is a KubeAPI
