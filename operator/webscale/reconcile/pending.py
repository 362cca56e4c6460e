"""Why an app's pods are Pending (pure): the scheduler's own words, from the pod cache.

A pod the scheduler cannot place carries `PodScheduled=False` (reason `Unschedulable`) with a
message such as "0/3 nodes are available: 3 Insufficient cpu. preemption: ...". The Ready condition
(and LoadBalancerReady, for the HAProxy pods) repeats it, so `kubectl describe swa` says why the
app is short of pods without a look at its pods: "1 of 5 pods Pending: 0/3 nodes are available:
3 Insufficient cpu."

The pod cache keeps `PodScheduled` only while it is not True (`kube.store.trim_pod`), so this
reads no more than it needs, and no request is made.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def unscheduled(pod: dict[str, Any] | None) -> str | None:
    """The scheduler's message for a pod it could not place (None: placed, or not tried yet)."""
    if not pod or (pod.get("status") or {}).get("phase") not in (None, "Pending"):
        return None
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            message = str(c.get("message") or c.get("reason") or "not scheduled")
            # the first sentence says it all ("0/3 nodes are available: 3 Insufficient cpu."); what
            # follows repeats it for preemption ("no new claims to deallocate, preemption: 0/3 ...")
            first, dot, _ = message.partition(". ")
            return (first + dot).strip()
    return None


def pending_summary(pods: list[dict[str, Any]], selector: dict[str, str], noun: str = "pods") -> str | None:
    """'1 of 5 pods Pending: 0/3 nodes are available: 3 Insufficient cpu.' for the pods that match
    `selector` (terminating ones left out), or None when the scheduler placed them all (or has
    not tried yet). Pods left for different reasons: the commonest reason, and how many others."""
    live = [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and selector.items() <= (p["metadata"].get("labels") or {}).items()
    ]
    reasons = Counter(m for m in (unscheduled(p) for p in live) if m is not None)
    if not reasons:
        return None
    count = sum(reasons.values())
    (top, _), *others = reasons.most_common()
    more = f" (and {len(others)} other reason{'s' if len(others) > 1 else ''})" if others else ""
    return f"{count} of {len(live)} {noun} Pending: {top}{more}"
