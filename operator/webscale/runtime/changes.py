"""Which watch events need work (pure): a ScaledWebApp whose spec, annotations or deletion changed,
and the owner of a child that changed. A status-only change of an app needs nothing."""

from __future__ import annotations

from typing import Any

from webscale.api import models
from webscale.kube.store import Change

_RELEVANT_META = ("generation", "annotations", "deletionTimestamp", "uid", "labels")


def app_needs_reconcile(change: Change) -> bool:
    """ADDED, or a change of spec (generation), annotations, labels or deletion; not status alone."""
    if change.type != "MODIFIED" or change.old is None or change.new is None:
        return change.type == "ADDED"
    old, new = change.old["metadata"], change.new["metadata"]
    return any(old.get(k) != new.get(k) for k in _RELEVANT_META)


def owner_of(obj: dict[str, Any]) -> str | None:
    """The name of the ScaledWebApp that controls `obj`, if one does."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == models.KIND and ref.get("controller"):
            return str(ref["name"])
    return None
