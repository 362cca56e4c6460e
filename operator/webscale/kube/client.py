"""The only module that sends requests to the Kubernetes API: reads, server-side apply, status,
deletes, Events, Leases, and the raw list/watch the informers use.

Every request passes a client-side token bucket (`WEBSCALE_API_QPS`/`_BURST`); 429s, 5xx and
connection errors are retried with the server's Retry-After or jittered backoff. Writes pass a gate:
a replica that is not the leader cannot write (`NotLeader`), so a leader that loses its Lease stops
writing at once. The user agent carries the replica's identity, so the audit log tells writers apart.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from webscale import telemetry
from webscale.api import models
from webscale.kube.ratelimit import RETRY_STATUS, TokenBucket, retry_after_seconds, retry_delay
from webscale.settings import Settings

log = logging.getLogger(__name__)

PLURALS = {
    ("apps/v1", "Deployment"): "deployments",
    ("v1", "Service"): "services",
    ("v1", "ConfigMap"): "configmaps",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("v1", "Event"): "events",
    ("v1", "Pod"): "pods",
    ("coordination.k8s.io/v1", "Lease"): "leases",
    (f"{models.GROUP}/{models.VERSION}", models.KIND): models.PLURAL,
}

USER_AGENT = "webscale-operator/0.1"
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


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def new_api_client(identity: str = "") -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the kubeconfig (KUBECONFIG)."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    api = client.ApiClient()
    api.user_agent = f"{USER_AGENT} ({identity})" if identity else USER_AGENT
    return api


def path_of(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    plural = PLURALS[(api_version, kind)]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    ns = f"/namespaces/{namespace}" if namespace else ""
    return f"{base}{ns}/{plural}" + (f"/{name}" if name else "")


class Kube:
    """Thin adapter over the API: dicts in, dicts out."""

    def __init__(
        self,
        api: client.ApiClient,
        settings: Settings,
        may_write: Callable[[], bool] = lambda: True,
        identity: str = "webscale-operator",
    ) -> None:
        self.api = api
        self.settings = settings
        self.may_write = may_write
        self.identity = identity
        self.bucket = TokenBucket(settings.api_qps, settings.api_burst)

    # ---- the one request path -------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        content_type: str,
        query: list[tuple[str, Any]],
        stream: bool,
        timeout: float | None,
    ) -> Any:
        method_, url, headers, payload, post = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query,
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        resp = self.api.rest_client.request(
            method_,
            url,
            headers=headers,
            body=payload,
            post_params=post,
            _request_timeout=timeout or self.settings.request_timeout_seconds,
        )
        if not stream:
            resp.read()
        return resp

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        query: list[tuple[str, Any]] | None = None,
        gated: bool = True,
    ) -> Any:
        if gated and method in _WRITES and not self.may_write():
            raise NotLeader(f"{method} {path}: this replica does not hold the leader Lease")
        attempt = 0
        while True:
            attempt += 1
            self.bucket.acquire()
            try:
                resp = self._send(method, path, body, content_type, query or [], False, None)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                telemetry.API_REQUESTS.labels(method, "error").inc()
                if attempt >= _MAX_ATTEMPTS:
                    raise ApiException(status=0, reason=f"connection failed: {exc}") from exc
                telemetry.API_RETRIES.inc()
                time.sleep(retry_delay(attempt, None))
                continue
            telemetry.API_REQUESTS.labels(method, str(resp.status)).inc()
            data = resp.data
            if 200 <= resp.status <= 299:
                return json.loads(data) if data else {}
            if resp.status in RETRY_STATUS and attempt < _MAX_ATTEMPTS:
                telemetry.API_RETRIES.inc()
                time.sleep(retry_delay(attempt, retry_after_seconds(resp.headers.get("Retry-After"))))
                continue
            error = ApiException(status=resp.status, reason=resp.reason)
            error.body = data.decode(errors="replace") if isinstance(data, bytes) else str(data or "")
            error.headers = resp.headers
            raise error

    # ---- reads --------------------------------------------------------------------------------------

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", path_of(api_version, kind, namespace, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        found = self._call("GET", path_of(api_version, kind, namespace), query=[("labelSelector", label_selector)])
        return list(found.get("items", []))

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
        resp = self._send("GET", path, None, "application/json", query, True, timeout + 15)
        telemetry.API_REQUESTS.labels("WATCH", str(resp.status)).inc()
        raw = resp.response
        try:
            if resp.status != 200:
                raise ApiException(status=resp.status, reason=resp.reason)
            for line in iter_resp_lines(raw):
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise ApiException(status=int(status.get("code") or 500), reason=status.get("message", ""))
                yield event
        finally:
            raw.release_conn()

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
            log.warning("could not record event %s on %s: %s", reason, involved["name"], exc)

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
