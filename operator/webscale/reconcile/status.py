"""The reconciler's part of status (pure): observedGeneration, pod counts, Ready and Invalid.

Ready says why pods are not serving: not yet ready, a name held by an object we did not create
(NameConflict), or an object the API server refused (Invalid=True with the server's message).
"""

from __future__ import annotations

from typing import Any

from webscale.api.app import App
from webscale.api.conditions import owned, set_condition
from webscale.api.labels import selector_string
from webscale.api.status import RECONCILER_CONDITIONS, RECONCILER_FIELDS
from webscale.api.workers import workers_per_pod
from webscale.reconcile.lb_status import load_balancer_status


def invalid_status(app: App, reason: str, errors: list[str], now: str) -> dict[str, Any]:
    """Invalid=True with the reasons; everything else as it was (children untouched)."""
    conditions = set_condition(
        list(app.status.get("conditions", [])), "Invalid", True, reason, "; ".join(errors), now, app.generation
    )
    status = {**app.status, "observedGeneration": app.generation, "conditions": conditions}
    return owned(status, RECONCILER_FIELDS, RECONCILER_CONDITIONS)


def ready_status(
    app: App,
    deployment: dict[str, Any] | None,
    now: str,
    conflicts: list[str] | None = None,
    service: dict[str, Any] | None = None,
    haproxy: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Valid spec, children applied: pod counts, Ready (False with NameConflict when a name is taken),
    and the load-balancer tier (address, HAProxy pods, LoadBalancerReady) from the entry Service and
    the HAProxy Deployment."""
    dep_status = (deployment or {}).get("status", {})
    replicas = int(dep_status.get("replicas") or 0)
    ready = int(dep_status.get("readyReplicas") or 0)
    wanted = int((deployment or {}).get("spec", {}).get("replicas") or 0)
    conditions = list(app.status.get("conditions", []))
    conditions = set_condition(conditions, "Invalid", False, "SpecValid", "spec is valid", now, app.generation)
    if conflicts:
        message = (
            f"{', '.join(conflicts)} already exist(s) and was not created by this ScaledWebApp: left untouched; "
            "rename the app or remove the object"
        )
        conditions = set_condition(conditions, "Ready", False, "NameConflict", message, now, app.generation)
    else:
        is_ready = wanted > 0 and ready >= wanted
        reason = "PodsReady" if is_ready else "PodsNotReady"
        conditions = set_condition(
            conditions, "Ready", is_ready, reason, f"{ready}/{wanted} pods ready", now, app.generation
        )
    lb_part, conditions = load_balancer_status(app, service, haproxy, conditions, now)
    status = {
        "loadBalancer": lb_part,
        "observedGeneration": app.generation,
        "replicas": replicas,
        "readyReplicas": ready,
        "selector": selector_string(app.name),
        "workersPerPod": workers_per_pod(app.valid_spec),
        "conditions": conditions,
    }
    return owned(status, RECONCILER_FIELDS, RECONCILER_CONDITIONS)
