"""Which watch events cause work."""

from __future__ import annotations

import json

from webscale.api.ref import AppRef
from webscale.kube.store import Change
from webscale.runtime.changes import app_needs_reconcile, owner_of, route


def swa(generation: int, annotations: dict | None = None, status: dict | None = None) -> dict:
    return {
        "metadata": {"name": "a", "namespace": "ns", "generation": generation, "annotations": annotations or {}},
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


def test_events_are_routed_to_small_answers_in_the_informer_thread():
    kinds = ("ScaledWebApp", ("Deployment", "Service"))
    assert route("ScaledWebApp", Change("ADDED", None, swa(1)), *kinds) == ("reconcile", AppRef("ns", "a"))
    assert route("ScaledWebApp", Change("MODIFIED", swa(1), swa(1, status={"replicas": 3})), *kinds) is None
    # a compact store hands the old version over as bytes: read only when needed
    old = json.dumps(swa(1)).encode()
    assert route("ScaledWebApp", Change("MODIFIED", old, swa(2)), *kinds) == ("reconcile", AppRef("ns", "a"))
    assert route("ScaledWebApp", Change("DELETED", old, None), *kinds) == ("forget", AppRef("ns", "a"))
    child = {
        "metadata": {
            "name": "shop-pods",
            "namespace": "ns",
            "ownerReferences": [{"kind": "ScaledWebApp", "name": "shop", "controller": True}],
        }
    }
    assert route("Service", Change("MODIFIED", json.dumps(child).encode(), child), *kinds) == (
        "reconcile",
        AppRef("ns", "shop"),
    )
    assert route("Service", Change("DELETED", json.dumps(child).encode(), None), *kinds) == (
        "reconcile",
        AppRef("ns", "shop"),
    )
    assert route("Pod", Change("ADDED", None, child), *kinds) is None
    assert route("Service", Change("ADDED", None, {"metadata": {"name": "x", "namespace": "ns"}}), *kinds) is None
