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
from webscale.reconcile import haproxy_config
from webscale.reconcile.haproxy_config import DEFAULT_CLUSTER_DOMAIN, HTTP_PORT, METRICS_PORT

HAPROXY_IMAGE = "haproxy:3.2-alpine"
"""The official image, pinned to the 3.2 LTS branch by tag (no digest: patch releases come in)."""
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


def build_haproxy_config_map(app: App, cfg: str, owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(app, lb_name(app), owner),
        "data": {CONFIG_KEY: cfg},
    }


def _probe(period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/healthz", "port": "metrics"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def build_haproxy_deployment(app: App, cfg: str, owner: dict[str, Any]) -> dict[str, Any]:
    """HAProxy pods: non-root, read-only root FS, probes, spread over nodes, config checksum on the template."""
    lb = app.valid_spec.load_balancer
    selector = lb_selector_labels(app.name)
    container = {
        "name": "haproxy",
        "image": HAPROXY_IMAGE,
        "ports": [
            {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "readinessProbe": _probe(5, 2),
        "livenessProbe": _probe(10, 3),
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
    app: App, owner: dict[str, Any], cluster_domain: str = DEFAULT_CLUSTER_DOMAIN
) -> list[dict[str, Any]]:
    """The HAProxy tier of a provider-haproxy app, in apply order (ConfigMap before the pods that mount it)."""
    cfg = haproxy_config.render_for(app.namespace, app.name, app.valid_spec, cluster_domain)
    children = [build_haproxy_config_map(app, cfg, owner), build_haproxy_deployment(app, cfg, owner)]
    pdb = build_haproxy_pdb(app, owner)
    return [*children, pdb] if pdb else children
