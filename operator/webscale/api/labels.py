"""The label and annotation contract shared by the children builders, the scaling loop and the
watch caches: which labels mark our objects and select an app's pods."""

from __future__ import annotations

from webscale.api import models

MANAGED_BY = "webscale"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
"""Server-side label selector of every object the operator creates (the watch caches use it)."""
WORKERS_ANNOTATION = f"{models.GROUP}/workers"
"""Pod annotation with the worker count the app runs (read live through the downward API)."""


def selector_labels(name: str) -> dict[str, str]:
    """Labels that select the app's pods (immutable once the Deployment exists)."""
    return {"app.kubernetes.io/instance": name, "app.kubernetes.io/component": "web"}


def labels(name: str) -> dict[str, str]:
    """Labels on every object and pod of the app (the Prometheus label contract uses instance/managed-by)."""
    return {"app.kubernetes.io/name": name, **selector_labels(name), MANAGED_BY_LABEL: MANAGED_BY}


def selector_string(name: str) -> str:
    return ",".join(f"{k}={v}" for k, v in selector_labels(name).items())


LB_COMPONENT = "loadbalancer"
CONFIG_CHECKSUM_ANNOTATION = f"{models.GROUP}/config-checksum"
"""HAProxy pod-template annotation: sha256 of the rendered haproxy.cfg (a new config rolls the pods)."""


def lb_selector_labels(name: str) -> dict[str, str]:
    """Labels that select the app's HAProxy pods (never its app pods: the component differs)."""
    return {"app.kubernetes.io/instance": name, "app.kubernetes.io/component": LB_COMPONENT}


def lb_labels(name: str) -> dict[str, str]:
    """Labels on the HAProxy objects and pods: `instance` and `managed-by` carry the metrics label contract."""
    return {"app.kubernetes.io/name": name, **lb_selector_labels(name), MANAGED_BY_LABEL: MANAGED_BY}


APPLIED_ANNOTATION = f"{models.GROUP}/applied"
"""On every child: a hash of the whole intent last applied to it. The reconciler writes when the intent's
hash differs (a field added, changed or removed) or a field it owns was changed by hand."""
