"""Decision -> status fields, conditions and Events (pure).

Status is written only when something a person would read changed: a steady
app, or a steady outage, produces no write at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webscale.api.conditions import get_condition, set_condition
from webscale.api.observation import Observation
from webscale.autoscaling.decide import Decision
from webscale.autoscaling.reasons import LIMITED_REASONS

# The status fields and condition types the scaling loop owns (the reconciler owns the rest).
STATUS_FIELDS = ("desiredReplicas", "capacityRequestsPerSecond", "observed", "lastScale")
STATUS_CONDITIONS = ("MetricsAvailable", "ScalingActive", "ScalingLimited")


@dataclass(frozen=True)
class EventSpec:
    """A Kubernetes Event to record: type (Normal|Warning), reason, message."""

    type: str
    reason: str
    message: str


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def decision_status(
    old: dict[str, Any],
    decision: Decision,
    observation: Observation,
    mode: str,
    applied: bool,
    now: float,
    generation: int,
) -> tuple[dict[str, Any], list[EventSpec]]:
    """The status fields of the scaling loop, and the Events this poll deserves."""
    at = iso(now)
    conditions = list(old.get("conditions", []))
    events: list[EventSpec] = []
    status: dict[str, Any] = {
        "desiredReplicas": decision.replicas,
        "capacityRequestsPerSecond": _round(decision.capacity_rps),
    }
    if observation.ok:
        status["observed"] = {
            "requestsPerSecond": _round(observation.requests_per_second, 2),
            "cpuUtilization": _round(decision.cpu_utilization),
            "at": at,
        }
    was_available = (get_condition(conditions, "MetricsAvailable") or {}).get("status") != "False"
    if decision.metrics_available:
        conditions = set_condition(conditions, "MetricsAvailable", True, "MetricsRead", "metrics read", at, generation)
        if not was_available:
            events.append(EventSpec("Normal", "MetricsRecovered", f"metrics are back: {decision.message}"))
    else:
        reason = observation.error or "no reading"
        conditions = set_condition(conditions, "MetricsAvailable", False, "MetricsUnavailable", reason, at, generation)
        if was_available:
            events.append(EventSpec("Warning", "MetricsUnavailable", f"{reason}; {decision.message}"))
    active = mode == "auto" or mode == "off"
    conditions = set_condition(
        conditions,
        "ScalingActive",
        (active and decision.metrics_available) or mode == "off",
        decision.reason if active else "RecommendOnly",
        decision.message if active else f"mode recommend: {decision.message} (Deployment not changed)",
        at,
        generation,
    )
    conditions = set_condition(
        conditions,
        "ScalingLimited",
        decision.limited or decision.reason in LIMITED_REASONS,
        decision.reason,
        decision.message,
        at,
        generation,
    )
    status["conditions"] = conditions
    if applied:
        status["lastScale"] = {
            "at": at,
            "from": decision.from_replicas,
            "to": decision.replicas,
            "reason": decision.reason,
            "message": decision.message,
        }
        verb = "up" if decision.replicas > decision.from_replicas else "down"
        events.append(EventSpec("Normal", f"Scaled{verb.capitalize()}", decision.message))
    return status, events


def paused_status(old: dict[str, Any], now: float, generation: int) -> dict[str, Any]:
    conditions = set_condition(
        list(old.get("conditions", [])),
        "ScalingActive",
        False,
        "Paused",
        "annotation webscale.dev/paused is true: replicas are frozen",
        iso(now),
        generation,
    )
    return {"conditions": conditions}


def meaningful(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Does `new` tell a reader anything `old` did not? (observed.at alone does not.)"""
    for key, value in new.items():
        if key == "observed":
            before = old.get("observed") or {}
            if any(before.get(k) != value.get(k) for k in ("requestsPerSecond", "cpuUtilization")):
                return True
        elif key == "conditions":
            strip = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in value]
            before = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in old.get("conditions", [])]
            if any(c not in before for c in strip):
                return True
        elif old.get(key) != value:
            return True
    return False
