"""The only module that calls the Kubernetes API: get, server-side apply, status, Events."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from webscale.api import models
from webscale.settings import Settings

log = logging.getLogger(__name__)

_PLURALS = {
    ("apps/v1", "Deployment"): "deployments",
    ("v1", "Service"): "services",
    ("v1", "ConfigMap"): "configmaps",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("v1", "Event"): "events",
    ("v1", "Pod"): "pods",
    (f"{models.GROUP}/{models.VERSION}", models.KIND): models.PLURAL,
}

USER_AGENT = "webscale-operator/0.1"
TRANSIENT_STATUS = frozenset({409, 429, 500, 502, 503, 504})


def is_transient(exc: BaseException) -> bool:
    """409 conflicts, throttling and server errors are worth a retry; 4xx otherwise are not."""
    return isinstance(exc, ApiException) and (exc.status in TRANSIENT_STATUS or exc.status == 0)


def is_gone(exc: BaseException) -> bool:
    """The object or its namespace is going away: nothing to converge, nothing to retry."""
    if not isinstance(exc, ApiException):
        return False
    return exc.status == 404 or (exc.status == 403 and "NamespaceTerminating" in (exc.body or ""))


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def new_api_client() -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the kubeconfig (KUBECONFIG)."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    api = client.ApiClient()
    api.user_agent = USER_AGENT
    return api


def _path(api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
    plural = _PLURALS[(api_version, kind)]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    ns = f"/namespaces/{namespace}" if namespace else ""
    return f"{base}{ns}/{plural}" + (f"/{name}" if name else "")


class Kube:
    """Thin adapter over the API: dicts in, dicts out, one request per call."""

    def __init__(self, api: client.ApiClient, settings: Settings) -> None:
        self.api = api
        self.settings = settings

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        query: list[tuple[str, Any]] | None = None,
    ) -> Any:
        method, url, headers, payload, post = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        resp = self.api.call_api(
            method,
            url,
            header_params=headers,
            body=payload,
            post_params=post,
            _request_timeout=self.settings.request_timeout_seconds,
        )
        data = resp.read()
        if not 200 <= resp.status <= 299:
            raise ApiException.from_response(http_resp=resp, body=data.decode(errors="replace"), data=None)
        return json.loads(data) if data else {}

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", _path(api_version, kind, namespace, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        found = self._call("GET", _path(api_version, kind, namespace), query=[("labelSelector", label_selector)])
        return list(found.get("items", []))

    def apply(self, obj: dict[str, Any], manager: str | None = None) -> dict[str, Any]:
        """Server-side apply `obj` as `manager` (default: the operator's field manager)."""
        meta = obj["metadata"]
        path = _path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        query = [("fieldManager", manager or self.settings.field_manager), ("force", "true")]
        return self._call("PATCH", path, obj, "application/apply-patch+yaml", query)

    def patch_annotations(self, api_version: str, kind: str, namespace: str, name: str, values: dict[str, str]) -> None:
        """Merge-patch annotations of one object (pods: the live worker count)."""
        body = {"metadata": {"annotations": values}}
        self._call("PATCH", _path(api_version, kind, namespace, name), body, "application/merge-patch+json")

    def apply_status(self, namespace: str, name: str, status: dict[str, Any], manager: str) -> dict[str, Any]:
        """Server-side apply `status` to the ScaledWebApp's status subresource as `manager`.

        Each writer (reconciler, scaling loop) owns its own fields and condition types, so
        neither can overwrite the other's with a stale copy (conditions are a list-map by type).
        """
        api_version = f"{models.GROUP}/{models.VERSION}"
        path = _path(api_version, models.KIND, namespace, name) + "/status"
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
            "reportingInstance": "webscale-operator",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self._call("POST", _path("v1", "Event", involved["namespace"]), body)
        except ApiException as exc:  # an Event is best effort: never fail a reconcile over it
            log.warning("could not record event %s on %s: %s", reason, involved["name"], exc.reason)
