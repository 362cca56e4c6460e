"""Decision -> status fields, conditions and Events (pure).

Status is written only when something a person would read changed: a steady
app, or a steady outage, produces no write at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webscale.api.conditions import get_condition, set_condition
from webscale.api.observation import Observation
from webscale.api.status import SCALER_CONDITIONS, iso, parse_iso
from webscale.autoscaling.decide import Decision
from webscale.autoscaling.history import History
from webscale.autoscaling.reasons import LIMITED_REASONS


@dataclass(frozen=True)
class EventSpec:
    """A Kubernetes Event to record: type (Normal|Warning), reason, message."""

    type: str
    reason: str
    message: str


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
    if mode == "off":
        # metrics are not read: no statement about them (a condition from before goes), no Event
        conditions = [c for c in conditions if c.get("type") != "MetricsAvailable"]
    elif decision.metrics_available:
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


STEP_FAILED = "ScalingStepFailed"


def failed_status(old: dict[str, Any], why: str, now: float, generation: int) -> dict[str, Any]:
    """ScalingActive False while this app's scaling step fails (an error of its own: its next successful
    step writes the decision again)."""
    message = f"the scaling step failed: {why}; the next poll retries"
    conditions = set_condition(
        list(old.get("conditions", [])), "ScalingActive", False, STEP_FAILED, message, iso(now), generation
    )
    return {"conditions": conditions}


def moved(before: float | None, after: float | None, quantum: float) -> bool:
    """Did a measured value move by more than `quantum` (a fraction of the old value)?"""
    if before is None or after is None:
        return before != after
    return abs(after - before) > quantum * max(abs(before), 1e-9)


def _condition_key(c: dict[str, Any]) -> tuple[Any, ...]:
    return c.get("type"), c.get("status"), c.get("reason"), c.get("observedGeneration")


def meaningful(old: dict[str, Any], new: dict[str, Any], quantum: float = 0.0) -> bool:
    """Does `new` tell a reader anything `old` did not? observed.at alone does not, and neither does
    a measured rate or CPU that moved by `quantum` (a fraction) or less."""
    for key, value in new.items():
        if key == "observed":
            before = old.get("observed") or {}
            if any(moved(before.get(k), value.get(k), quantum) for k in ("requestsPerSecond", "cpuUtilization")):
                return True
        elif key == "conditions":
            # a condition changes with its status or reason; a message whose numbers moved is not news
            before = {_condition_key(c) for c in old.get("conditions", [])}
            if any(_condition_key(c) not in before for c in value):
                return True
            # a condition of this writer's that it no longer states (SSA then removes it)
            stated = {c.get("type") for c in value}
            if any(
                c.get("type") in SCALER_CONDITIONS and c.get("type") not in stated for c in old.get("conditions", [])
            ):
                return True
        elif old.get(key) != value:
            return True
    return False


BURST_PERSIST_STEP = 30.0
"""A running burst's end time is persisted again only when it moved by more than this (seconds)."""


def memory_status(old: dict[str, Any], history: History) -> dict[str, Any] | None:
    """status.memory for `history`: what a restarted operator needs (last good replicas, burst hold).
    Unchanged values keep the old one, so a steady app writes nothing."""
    before = old.get("memory") or {}
    memory: dict[str, Any] = {}
    if history.last_good is not None:
        memory["lastGood"] = history.last_good
    if history.burst_until is not None:
        held = parse_iso(before.get("burstUntil"))
        if held is not None and abs(history.burst_until - held) <= BURST_PERSIST_STEP:
            memory["burstUntil"] = before["burstUntil"]
        else:
            memory["burstUntil"] = iso(history.burst_until)
    return memory or None


FALLBACK_REASONS = frozenset({"MetricsUnavailableHolding", "FallbackReplicas"})


def history_from_status(status: dict[str, Any], current_replicas: int, now: float, after_failures: int = 1) -> History:
    """The History a restarted operator starts an app with: the remembered last good replicas and burst
    hold, and the current size as a recommendation at `now` (the scale-down window starts again, so a
    restart never scales down early). An outage that had reached its fallback resumes there, so a restart
    in the middle of it changes no condition (and writes nothing)."""
    memory = status.get("memory") or {}
    last_good = memory.get("lastGood")
    burst = parse_iso(memory.get("burstUntil"))
    seed = max(current_replicas, int(last_good or 0))
    active = get_condition(list(status.get("conditions", [])), "ScalingActive") or {}
    failures = after_failures - 1 if active.get("reason") in FALLBACK_REASONS else 0
    history = History(last_good=int(last_good) if last_good else None, burst_until=burst, failures=failures)
    return history.with_recommendation(now, seed) if seed > 0 else history
