"""Which watch events cause work, and the liveness rule."""

from __future__ import annotations

from webscale.kube.store import Change
from webscale.runtime.changes import app_needs_reconcile, owner_of
from webscale.runtime.http import loop_is_live


def swa(generation: int, annotations: dict | None = None, status: dict | None = None) -> dict:
    return {
        "metadata": {"name": "a", "generation": generation, "annotations": annotations or {}},
        "status": status or {},
    }


def test_status_only_changes_need_no_reconcile():
    assert not app_needs_reconcile(Change("MODIFIED", swa(1), swa(1, status={"replicas": 3})))
    assert app_needs_reconcile(Change("MODIFIED", swa(1), swa(2)))
    assert app_needs_reconcile(Change("MODIFIED", swa(1), swa(1, {"webscale.dev/paused": "true"})))
    assert app_needs_reconcile(Change("ADDED", None, swa(1)))
    assert not app_needs_reconcile(Change("DELETED", swa(1), None))


def test_the_owner_is_the_controlling_scaledwebapp():
    child = {
        "metadata": {
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": "x", "controller": True},
                {"kind": "ScaledWebApp", "name": "shop", "controller": True},
            ]
        }
    }
    assert owner_of(child) == "shop"
    assert owner_of({"metadata": {"ownerReferences": [{"kind": "ScaledWebApp", "name": "s"}]}}) is None


def test_liveness_fails_after_the_stale_ticks():
    assert loop_is_live(last_tick=100, now=129, tick_seconds=1, stale_ticks=30)
    assert not loop_is_live(last_tick=100, now=131, tick_seconds=1, stale_ticks=30)
