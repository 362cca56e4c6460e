"""Which watch events need work (pure): a ScaledWebApp whose spec, annotations or deletion changed,
the owner of a child that changed, and the app of a pod the scheduler could (or now can) not place
(Ready says why pods are Pending). A status-only change of an app needs nothing."""

from __future__ import annotations

from typing import Any

from webscale.api import models
from webscale.api.ref import AppRef
from webscale.kube.store import Change
from webscale.reconcile.pending import unscheduled

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


def route(kind: str, change: Change, app_kind: str, child_kinds: tuple[str, ...]) -> tuple[str, AppRef] | None:
    """What a watch event asks of the runtime: ("forget", app) for a deleted ScaledWebApp,
    ("reconcile", app) for an app or a child of one that needs work, None for nothing.

    Computed in the informer's thread, so only this small answer crosses to the event loop — not the
    object's old and new versions, which would pile up in memory while many events arrive at once."""
    if kind == app_kind:
        meta = change.obj["metadata"]
        key = AppRef(meta["namespace"], meta["name"])
        if change.type == "DELETED":
            return "forget", key
        return ("reconcile", key) if app_needs_reconcile(change) else None
    if kind in child_kinds:
        owner = owner_of(change.obj)
        if owner is not None:
            return "reconcile", AppRef(change.obj["metadata"]["namespace"], owner)
    if kind == "Pod" and unscheduled(change.old) != unscheduled(change.new):
        meta = change.obj["metadata"]
        instance = (meta.get("labels") or {}).get("app.kubernetes.io/instance")
        if instance:
            return "reconcile", AppRef(meta["namespace"], instance)
    return None
