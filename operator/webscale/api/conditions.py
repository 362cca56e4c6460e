"""Standard Kubernetes conditions (pure): set one, keeping lastTransitionTime when nothing changed."""

from __future__ import annotations

from typing import Any


def set_condition(
    conditions: list[dict[str, Any]],
    type_: str,
    status: bool,
    reason: str,
    message: str,
    now: str,
    generation: int | None,
) -> list[dict[str, Any]]:
    """A new list with condition `type_` set; lastTransitionTime moves only when status flips."""
    value = "True" if status else "False"
    old = next((c for c in conditions if c.get("type") == type_), None)
    since = old["lastTransitionTime"] if old and old.get("status") == value and old.get("lastTransitionTime") else now
    new = {
        "type": type_,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }
    if old is None:
        return [*conditions, new]
    return [new if c is old else c for c in conditions]


def get_condition(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def owned(status: dict[str, Any], fields: tuple[str, ...], types: tuple[str, ...]) -> dict[str, Any]:
    """The part of `status` one writer owns: some top-level fields and some condition types.

    Status is written by server-side apply, one field manager per writer, and a manager that
    leaves out a field it owned deletes it: so each writer always sends its whole part.
    """
    part = {k: status[k] for k in fields if status.get(k) is not None}
    part["conditions"] = [c for c in status.get("conditions", []) if c.get("type") in types]
    return part


def status_holds(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Does `old` already carry everything in `new`? Conditions are matched by type."""
    for key, value in new.items():
        if key == "conditions":
            by_type = {c.get("type"): c for c in old.get("conditions", [])}
            if any(by_type.get(c["type"]) != c for c in value):
                return False
        elif old.get(key) != value:
            return False
    return True
