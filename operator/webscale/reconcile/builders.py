"""Pure builders: a parsed ScaledWebApp -> the Kubernetes objects the operator owns.

Each builder returns a plain dict ready for server-side apply, with labels and
the owner reference set inside it. The Deployment never carries spec.replicas
here: after creation that field belongs to the scaling loop's field manager
(see `initial_replicas`).
"""

from __future__ import annotations

from typing import Any

from webscale.api import models
from webscale.api.app import App
from webscale.api.labels import WORKERS_ANNOTATION, labels, selector_labels
from webscale.api.models import ScaledWebAppSpec
from webscale.api.workers import workers_per_pod
from webscale.kube.drift import holds

PODINFO_DIR = "/etc/podinfo"
ANNOTATIONS_FILE = f"{PODINFO_DIR}/annotations"
APP_UID = 1000


def owner_reference(app: App) -> dict[str, Any]:
    return {
        "apiVersion": f"{models.GROUP}/{models.VERSION}",
        "kind": models.KIND,
        "name": app.name,
        "uid": app.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _metadata(app: App, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": app.namespace,
        "labels": labels(app.name),
        "ownerReferences": [owner_reference(app)],
    }


def container_resources(spec: ScaledWebAppSpec) -> dict[str, Any]:
    r = spec.resources
    requests = {k: v for k, v in (("cpu", r.cpu), ("memory", r.memory)) if v}
    limits = {k: v for k, v in (("cpu", r.limits.cpu), ("memory", r.limits.memory)) if v}
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def container_env(spec: ScaledWebAppSpec, workers: int) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = []
    for var in spec.env:
        item: dict[str, Any] = {"name": var.name}
        if var.value is not None:
            item["value"] = var.value
        if var.value_from is not None:
            item["valueFrom"] = var.value_from
        env.append(item)
    env += [
        {"name": "PORT", "value": str(spec.port)},
        {"name": "WEB_CONCURRENCY", "value": str(workers)},
        {"name": "WEBSCALE_ANNOTATIONS_FILE", "value": ANNOTATIONS_FILE},
    ]
    if spec.state.redis_url:
        env.append({"name": "REDIS_URL", "value": spec.state.redis_url})
    return env


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def build_deployment(app: App, workers: int | None = None) -> dict[str, Any]:
    """The app's Deployment (without spec.replicas; see initial_replicas).

    workers: the count to start new pods with; None derives it from the spec. With
    workers.live the reconciler keeps the running template's count (see template_workers)
    and the scaling loop resizes the pods in place, so a worker change rolls nothing.
    """
    spec = app.valid_spec
    workers = workers_per_pod(spec) if workers is None else workers
    restricted = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = {
        "name": "app",
        "image": spec.image,
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "env": container_env(spec, workers),
        "resources": container_resources(spec),
        "livenessProbe": _probe("/healthz", 10, 3),
        "readinessProbe": _probe("/readyz", 5, 2),
        "securityContext": restricted,
        "volumeMounts": [
            {"name": "podinfo", "mountPath": PODINFO_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod_annotations = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(spec.port),
        "prometheus.io/path": "/metrics",
        WORKERS_ANNOTATION: str(workers),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(app, app.name),
        "spec": {
            "selector": {"matchLabels": selector_labels(app.name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels(app.name), "annotations": pod_annotations},
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": APP_UID,
                        "runAsGroup": APP_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "podinfo",
                            "downwardAPI": {
                                "items": [{"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]
                            },
                        },
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def initial_replicas(spec: ScaledWebAppSpec) -> int:
    """Replicas of a new Deployment: replicas.count when given, else replicas.min."""
    return spec.replicas.count if spec.replicas.count is not None else spec.replicas.min


def _service(app: App, name: str, headless: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": selector_labels(app.name),
        "ports": [{"name": "http", "port": 80 if not headless else app.valid_spec.port, "targetPort": "http"}],
    }
    if headless:
        spec["clusterIP"] = "None"
        spec["publishNotReadyAddresses"] = False
    else:
        spec["type"] = "ClusterIP"
        lb = app.valid_spec.load_balancer
        if lb.provider == "service" and lb.strategy == "ip-hash":
            spec["sessionAffinity"] = "ClientIP"
    return {"apiVersion": "v1", "kind": "Service", "metadata": _metadata(app, name), "spec": spec}


def build_service(app: App) -> dict[str, Any]:
    """ClusterIP Service on port 80 in front of the pods."""
    return _service(app, app.name, headless=False)


def build_headless_service(app: App) -> dict[str, Any]:
    """Headless Service listing ready pod addresses (for load-balancer discovery)."""
    return _service(app, f"{app.name}-pods", headless=True)


def build_children(app: App, workers: int | None = None) -> list[dict[str, Any]]:
    """Everything the operator owns for this app, in apply order."""
    return [build_deployment(app, workers), build_service(app), build_headless_service(app)]


def template_workers(spec: ScaledWebAppSpec, live: dict[str, Any] | None) -> int | None:
    """The worker count to keep in the pod template: the running one when workers change live
    and nothing else about the pods' CPU changed; None (derive from spec) otherwise."""
    if live is None or not spec.workers.live:
        return None
    template = live.get("spec", {}).get("template", {})
    running = (template.get("metadata", {}).get("annotations") or {}).get(WORKERS_ANNOTATION, "")
    containers = template.get("spec", {}).get("containers") or [{}]
    live_resources, wanted = containers[0].get("resources", {}), container_resources(spec)
    if not running.isdigit() or not (holds(wanted, live_resources) and holds(live_resources, wanted)):
        return None
    return int(running)
