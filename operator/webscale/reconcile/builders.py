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
from webscale.api.labels import WORKERS_ANNOTATION, labels, lb_selector_labels, selector_labels
from webscale.api.models import ScaledWebAppSpec
from webscale.api.scale_to_zero import may_scale_to_zero
from webscale.api.workers import workers_per_pod
from webscale.kube.drift import holds
from webscale.reconcile.haproxy import HAPROXY_IMAGE, build_lb_children
from webscale.reconcile.haproxy_config import DEFAULT_CLUSTER_DOMAIN, HOLD_VALID

PODINFO_DIR = "/etc/podinfo"
ANNOTATIONS_FILE = f"{PODINFO_DIR}/annotations"
APP_UID = 1000
CLUSTER_DNS_TTL_SECONDS = 5
"""How long the cluster DNS may keep answering with a pod that left (CoreDNS's kubernetes plugin's TTL;
its cache plugin never keeps an answer longer than the record's TTL)."""
DRAIN_DELAY_SECONDS = int(HOLD_VALID.removesuffix("s")) + CLUSTER_DNS_TTL_SECONDS + 2
"""A pod told to stop keeps serving this long before its container gets SIGTERM (a ``preStop`` sleep,
run by the kubelet: no binary needed in the image). HAProxy finds pods through DNS, which lists only
Ready pods: a terminating pod leaves the headless Service at once, but an HAProxy pod can hold the
old answer for up to `HOLD_VALID` (5 s) plus the DNS TTL (5 s) and keeps sending it requests until
then. A pod that stopped listening before that is a refused connection, retried on another pod; a
pod whose sandbox is gone is an address that answers nothing, and a request sent there waits the
whole ``timeout connect`` (seen on the real node: 2 of ~6,000 requests timed out during a rolling
update). 12 s covers both, with 2 s for the EndpointSlice to reach the DNS server."""
GRACE_AFTER_SIGTERM_SECONDS = 30
"""The app's own time to finish in-flight requests after SIGTERM (Kubernetes' default grace)."""


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


def service_account(spec: ScaledWebAppSpec, named: str | None = None) -> dict[str, Any]:
    """The pod's ServiceAccount fields: no API token unless the spec names an account for the app.
    `named`: the account to name when the spec names none (`template_account`)."""
    if spec.service_account_name is None:
        return {"automountServiceAccountToken": False, **({"serviceAccountName": named} if named else {})}
    return {"serviceAccountName": spec.service_account_name, "automountServiceAccountToken": True}


def template_account(spec: ScaledWebAppSpec, live: dict[str, Any] | None) -> str | None:
    """With no spec.serviceAccountName, the account the pod template names anyway: "default" once the
    running template names one (the spec named one before). Leaving the field out would keep the old
    account: the API server keeps the deprecated serviceAccount alias of a field an apply drops
    (kubernetes#108208). "default" is the account a pod with none runs as."""
    if spec.service_account_name is not None or live is None:
        return None
    pod = live.get("spec", {}).get("template", {}).get("spec", {})
    return "default" if pod.get("serviceAccountName") or pod.get("serviceAccount") else None


def build_deployment(app: App, workers: int | None = None, account: str | None = None) -> dict[str, Any]:
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
        "lifecycle": {"preStop": {"sleep": {"seconds": DRAIN_DELAY_SECONDS}}},
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
                    **service_account(spec, account),
                    "terminationGracePeriodSeconds": DRAIN_DELAY_SECONDS + GRACE_AFTER_SIGTERM_SECONDS,
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
    """Replicas of a new Deployment: replicas.count when given, else replicas.min; but at least one pod
    unless the operator wakes the app from zero (scaleToZero in mode auto): in mode recommend or off
    nothing would ever scale a Deployment created at zero, and every request would wait for nothing."""
    if spec.replicas.count is not None:
        return spec.replicas.count
    return spec.replicas.min if may_scale_to_zero(spec) else max(1, spec.replicas.min)


def build_service(app: App) -> dict[str, Any]:
    """The app's entry Service on port 80, named after the app.

    provider haproxy: in front of the HAProxy pods; with ip-hash it keeps each client on one
    HAProxy pod (sessionAffinity ClientIP), so every client meets one hash ring even while the
    HAProxy pods' DNS answers arrive in different orders. provider service: in front of the app's
    pods, ip-hash as kube-proxy's ClientIP affinity. `sessionAffinity` and `externalTrafficPolicy`
    are always written, so switching strategy back clears them. With ip-hash on a NodePort or
    LoadBalancer Service, externalTrafficPolicy Local keeps the client's address (Cluster would
    replace it with a node's, and every client of a node would hash alike).
    """
    lb = app.valid_spec.load_balancer
    haproxy = lb.provider == "haproxy"
    spec: dict[str, Any] = {
        "type": lb.service.type,
        "selector": lb_selector_labels(app.name) if haproxy else selector_labels(app.name),
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        "sessionAffinity": "ClientIP" if lb.strategy == "ip-hash" else "None",
    }
    if lb.service.type != "ClusterIP":
        spec["externalTrafficPolicy"] = "Local" if lb.strategy == "ip-hash" else "Cluster"
    metadata = _metadata(app, app.name)
    if lb.service.annotations:
        metadata["annotations"] = dict(lb.service.annotations)
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def build_headless_service(app: App) -> dict[str, Any]:
    """Headless Service `<name>-pods` listing ready pod addresses: HAProxy finds the pods through its
    DNS records (SRV `_http._tcp.<name>-pods...`, port `http`), and they stay reachable through it."""
    spec: dict[str, Any] = {
        "clusterIP": "None",
        "selector": selector_labels(app.name),
        "ports": [{"name": "http", "port": app.valid_spec.port, "targetPort": "http", "protocol": "TCP"}],
        "publishNotReadyAddresses": False,
    }
    return {"apiVersion": "v1", "kind": "Service", "metadata": _metadata(app, f"{app.name}-pods"), "spec": spec}


def build_children(
    app: App,
    workers: int | None = None,
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
    haproxy_image: str = HAPROXY_IMAGE,
    wake_base: str = "",
    account: str | None = None,
) -> list[dict[str, Any]]:
    """Everything the operator owns for this app, in apply order: the app's Deployment and headless
    Service, then (provider haproxy) the HAProxy ConfigMap, Deployment and PodDisruptionBudget, then
    the entry Service. Owned objects not in this list are the other provider's and go. `wake_base`:
    the operator setting wake_url (reconcile.hold); `account`: see `template_account`."""
    children = [build_deployment(app, workers, account), build_headless_service(app)]
    if app.valid_spec.load_balancer.provider == "haproxy":
        children += build_lb_children(app, owner_reference(app), cluster_domain, haproxy_image, wake_base)
    return [*children, build_service(app)]


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
