"""The reconciler's part of status (pure): observedGeneration, pod counts, Ready and Invalid.

Ready says why pods are not serving: not yet ready, not placed by the scheduler (PodsUnschedulable,
with its message), a rollout the Deployment controller gave up on (RolloutStuck) or whose pods it
cannot create (ReplicaFailure), a name held by an object we did not create (NameConflict), or an
object the API server refused (Invalid=True with the server's message).
"""

from __future__ import annotations

from typing import Any

from webscale.api.app import App
from webscale.api.conditions import owned, set_condition
from webscale.api.labels import lb_selector_labels, selector_labels, selector_string
from webscale.api.scale_to_zero import settings as zero_settings
from webscale.api.status import RECONCILER_CONDITIONS, RECONCILER_FIELDS
from webscale.api.workers import workers_per_pod
from webscale.reconcile.lb_status import load_balancer_status
from webscale.reconcile.pending import pending_summary


def invalid_status(app: App, reason: str, errors: list[str], now: str) -> dict[str, Any]:
    """Invalid=True with the reasons; everything else as it was (children untouched)."""
    conditions = set_condition(
        list(app.status.get("conditions", [])), "Invalid", True, reason, "; ".join(errors), now, app.generation
    )
    status = {**app.status, "observedGeneration": app.generation, "conditions": conditions}
    return owned(status, RECONCILER_FIELDS, RECONCILER_CONDITIONS)


def pods_message(ready: int, wanted: int, replicas: int) -> str:
    """'2/3 pods ready', or while the Deployment still has more pods than wanted (a scale-down
    whose surplus pods are being removed, or a rollout's surge): '1/1 pods ready; 2 surplus pods
    to remove (3 pods, 1 wanted)'. Never more ready than wanted: the Deployment's readyReplicas
    counts the surplus pods until its controller has removed them."""
    message = f"{min(ready, wanted)}/{wanted} pods ready"
    pods = max(replicas, ready)
    if pods > wanted:
        surplus = pods - wanted
        message += f"; {surplus} surplus pod{'s' if surplus > 1 else ''} to remove ({pods} pods, {wanted} wanted)"
    return message


def rollout(deployment: dict[str, Any] | None) -> tuple[str | None, str]:
    """What the Deployment controller says of the app's rollout (pure): (a reason Ready is False for,
    or None; and a note for Ready's message, empty when every pod runs the newest template). A rollout
    whose new pods never become ready (an image that does not exist, a missing ServiceAccount) leaves
    the old pods serving: ready counts alone would call it healthy. A rollout is under way while some
    of the Deployment's pods run an older template; a scale-up is not one (its new pods run the newest
    template, and when they cannot be placed Ready says why: PodsUnschedulable)."""
    if deployment is None:
        return None, ""
    status = deployment.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    failure = conditions.get("ReplicaFailure") or {}
    if failure.get("status") == "True":
        return "ReplicaFailure", f"the Deployment controller cannot create pods: {failure.get('message', '')}".strip()
    if "updatedReplicas" not in status and "observedGeneration" not in status:
        return None, ""  # the controller has reported nothing yet: the pod counts speak
    pods = int(status.get("replicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    if updated >= pods:
        return None, ""
    progressing = conditions.get("Progressing") or {}
    if progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        return "RolloutStuck", f"the rollout is stuck: {progressing.get('message', '')}".strip()
    return None, f"rolling out: {updated} of {pods} pods run the new template"


def ready_status(
    app: App,
    deployment: dict[str, Any] | None,
    now: str,
    conflicts: list[str] | None = None,
    service: dict[str, Any] | None = None,
    haproxy: dict[str, Any] | None = None,
    pods: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Valid spec, children applied: pod counts, Ready (False with NameConflict when a name is taken,
    with PodsUnschedulable and the scheduler's message when pods are Pending for want of a node),
    and the load-balancer tier (address, HAProxy pods, LoadBalancerReady) from the entry Service and
    the HAProxy Deployment. `pods`: the app's pods from the pod cache (web and HAProxy)."""
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
    elif wanted == 0 and replicas == 0 and zero_settings(app.valid_spec) is not None:
        message = "scaled to zero: no pod while idle; the load balancer holds the first request and wakes the app"
        conditions = set_condition(conditions, "Ready", True, "ScaledToZero", message, now, app.generation)
    else:
        failed, note = rollout(deployment)
        is_ready = wanted > 0 and ready >= wanted and failed is None
        pending = None if is_ready else pending_summary(pods or [], selector_labels(app.name))
        reason = "PodsReady" if is_ready else failed or ("PodsUnschedulable" if pending else "PodsNotReady")
        counts = pods_message(ready, wanted, replicas)
        notes = [note, counts] if failed else [counts, note]  # what went wrong first
        message = "; ".join(n for n in (*notes, pending) if n)
        conditions = set_condition(conditions, "Ready", is_ready, reason, message, now, app.generation)
    lb_pending = pending_summary(pods or [], lb_selector_labels(app.name), "HAProxy pods")
    lb_part, conditions = load_balancer_status(app, service, haproxy, conditions, now, lb_pending)
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
