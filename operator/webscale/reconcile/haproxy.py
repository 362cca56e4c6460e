"""Pure builders of the HAProxy tier (provider haproxy): ConfigMap, Deployment, PodDisruptionBudget.

`build_children` (webscale.reconcile.builders) calls `build_lb_children`; the entry Service in
front of these pods is built there too. The rendered haproxy.cfg (`haproxy_config`) depends on
the spec only through the strategy, ``replicas.max``, the workers per pod and the app's name
and namespace, so scaling the app's replicas changes none of these objects. The pod template
carries the config's sha256 (`CONFIG_CHECKSUM_ANNOTATION`): a new config rolls the HAProxy
pods, an unchanged one rolls nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any

from webscale.api.app import App
from webscale.api.labels import CONFIG_CHECKSUM_ANNOTATION, lb_labels, lb_selector_labels
from webscale.reconcile import haproxy_config, hold
from webscale.reconcile.haproxy_config import DEFAULT_CLUSTER_DOMAIN, HTTP_PORT, METRICS_PORT

HAPROXY_IMAGE = "haproxy:3.2-alpine"
"""The official image, pinned to the 3.2 LTS branch by tag (no digest: patch releases come in); the
operator setting `haproxy_image` (WEBSCALE_HAPROXY_IMAGE) replaces it."""
HAPROXY_UID = 99
"""The official image's `haproxy` user."""
CONFIG_DIR = "/usr/local/etc/haproxy"
"""Where the official image's entrypoint reads haproxy.cfg."""
CONFIG_KEY = "haproxy.cfg"
PDB_MIN_REPLICAS = 2
"""From this many HAProxy pods on, a PodDisruptionBudget keeps one serving through node drains."""


def lb_name(app: App) -> str:
    """Name of the app's HAProxy ConfigMap, Deployment and PodDisruptionBudget."""
    return f"{app.name}-haproxy"


def _metadata(app: App, name: str, owner: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "namespace": app.namespace, "labels": lb_labels(app.name), "ownerReferences": [owner]}


def checksum(cfg: str) -> str:
    return hashlib.sha256(cfg.encode()).hexdigest()


def build_haproxy_config_map(app: App, cfg: str, owner: dict[str, Any], lua: str | None = None) -> dict[str, Any]:
    """haproxy.cfg, and the Lua script that holds requests when the app may scale to zero (`hold`)."""
    data = {CONFIG_KEY: cfg} if lua is None else {CONFIG_KEY: cfg, hold.LUA_KEY: lua}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(app, lb_name(app), owner),
        "data": data,
    }


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "metrics"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def build_haproxy_deployment(app: App, cfg: str, owner: dict[str, Any], image: str = HAPROXY_IMAGE) -> dict[str, Any]:
    """HAProxy pods: non-root, read-only root FS, no API token, probes, spread over nodes, config checksum on
    the template."""
    lb = app.valid_spec.load_balancer
    selector = lb_selector_labels(app.name)
    container = {
        "name": "haproxy",
        "image": image,
        "ports": [
            {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        # Ready once a server of the app is up (haproxy_config.LB_READY_PATH); alive while it answers
        "readinessProbe": _probe(haproxy_config.LB_READY_PATH, 2, 2),
        "livenessProbe": _probe("/healthz", 10, 3),
        # kube-proxy needs a moment to stop sending new connections before HAProxy stops
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    annotations = {
        CONFIG_CHECKSUM_ANNOTATION: checksum(cfg),
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(METRICS_PORT),
        "prometheus.io/path": "/metrics",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(app, lb_name(app), owner),
        "spec": {
            "replicas": lb.replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": lb_labels(app.name), "annotations": annotations},
                "spec": {
                    # internet-facing and never calls the API: no ServiceAccount token to steal
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": HAPROXY_UID,
                        "runAsGroup": HAPROXY_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": 30,
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "topologyKey": "kubernetes.io/hostname",
                                        "labelSelector": {"matchLabels": selector},
                                    },
                                }
                            ]
                        }
                    },
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": lb_name(app)}},
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def build_haproxy_pdb(app: App, owner: dict[str, Any]) -> dict[str, Any] | None:
    """minAvailable 1 while there are at least two HAProxy pods; None (no PDB) for one."""
    if app.valid_spec.load_balancer.replicas < PDB_MIN_REPLICAS:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(app, lb_name(app), owner),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": lb_selector_labels(app.name)}},
    }


def build_lb_children(
    app: App,
    owner: dict[str, Any],
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
    image: str = HAPROXY_IMAGE,
    wake_base: str = "",
) -> list[dict[str, Any]]:
    """The HAProxy tier of a provider-haproxy app, in apply order (ConfigMap before the pods that mount it).
    `wake_base`: the operator setting wake_url, where held requests ask for a ready pod (`hold`)."""
    cfg = haproxy_config.render_for(app.namespace, app.name, app.valid_spec, cluster_domain, wake_base)
    lua = hold.HOLD_LUA if hold.hold_for(app.valid_spec) else None
    children = [
        build_haproxy_config_map(app, cfg, owner, lua),
        build_haproxy_deployment(app, cfg + (lua or ""), owner, image),  # the checksum covers the script too
    ]
    pdb = build_haproxy_pdb(app, owner)
    return [*children, pdb] if pdb else children
