"""What the operator reads: the informers' stores behind one small interface (`ClusterView`).

The reconciler and the scaling loop read only from here — never a GET per poll. `InMemoryView` is the
same interface over plain dicts, for unit tests of the orchestration layer and for the benchmark's
direct-client floor.
"""

from __future__ import annotations

from typing import Any, Protocol

from webscale.api.app import App
from webscale.kube.store import Store, Trim, app_index, trim, trim_deployment, trim_pod, trim_replica_set

CHILD_KINDS = ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget")
"""Kinds the operator creates for an app (and prunes when the spec no longer asks for them)."""

TRIMS: dict[str, Trim] = {"Deployment": trim_deployment, "Pod": trim_pod, "ReplicaSet": trim_replica_set}
"""How each kind is trimmed in the cache (others: `trim`): Deployments keep who owns spec.replicas."""


def trim_for(kind: str) -> Trim:
    return TRIMS.get(kind, trim)


def controller_uid(obj: dict[str, Any]) -> str | None:
    """The uid in `obj`'s controller ownerReference (None: nothing controls it)."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller") and ref.get("uid"):
            return str(ref["uid"])
    return None


def controlled_by(obj: dict[str, Any], app: App) -> bool:
    """Is `obj` controlled by this very ScaledWebApp (its controller ownerReference has the app's uid)?"""
    return bool(app.uid) and controller_uid(obj) == app.uid


class ClusterView(Protocol):
    """Read access to the cached cluster state."""

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def children(self, kind: str, app: App) -> list[dict[str, Any]]:
        """Objects of `kind` labelled as this app's (whoever controls them)."""
        ...

    def put(self, obj: dict[str, Any]) -> None:
        """Write-through: remember an object the operator just wrote."""
        ...


class StoreView:
    """`ClusterView` over informer stores, keyed by kind ("Pod" for the app's pods)."""

    def __init__(self, stores: dict[str, Store]) -> None:
        self.stores = stores

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        store = self.stores.get(kind)
        return store.get(namespace, name) if store is not None else None

    def children(self, kind: str, app: App) -> list[dict[str, Any]]:
        store = self.stores.get(kind)
        return store.indexed(f"{app.namespace}/{app.name}") if store is not None else []

    def put(self, obj: dict[str, Any]) -> None:
        store = self.stores.get(obj.get("kind", ""))
        if store is not None:
            store.put(obj)


class InMemoryView:
    """`ClusterView` over a dict of objects (tests, benchmarks)."""

    def __init__(self, objects: list[dict[str, Any]] | None = None) -> None:
        self.stores: dict[str, Store] = {}
        for obj in objects or []:
            self.put(obj)

    def _store(self, kind: str) -> Store:
        return self.stores.setdefault(kind, Store(trim_for(kind), index=app_index, compact=kind in CHILD_KINDS))

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._store(kind).get(namespace, name)

    def children(self, kind: str, app: App) -> list[dict[str, Any]]:
        return self._store(kind).indexed(f"{app.namespace}/{app.name}")

    def put(self, obj: dict[str, Any]) -> None:
        self._store(obj["kind"]).apply("MODIFIED", obj)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        obj = self.get(kind, namespace, name)
        if obj is not None:
            self._store(kind).apply("DELETED", obj)


def own_deployment(view: ClusterView, app: App, name: str | None = None) -> dict[str, Any] | None:
    """The app's Deployment `name` (default: the app's own) from the cache, only if this very app controls
    it: a Deployment someone else made under that name (another app's, the user's) is never scaled."""
    deployment = view.get("Deployment", app.namespace, name or app.name)
    return deployment if deployment is not None and controlled_by(deployment, app) else None


def own_replica_sets(view: ClusterView, app: App, deployment_name: str) -> frozenset[str]:
    """The uids of the ReplicaSets of the app's own Deployment `deployment_name` (its controller reference
    names the Deployment's uid). A pod is the app's when its controller is one of these: labels and names
    can be copied by anyone who may create pods in the namespace, uids of live owners cannot."""
    deployment = own_deployment(view, app, deployment_name)
    uid = None if deployment is None else deployment["metadata"].get("uid")
    if not uid:
        return frozenset()
    return frozenset(
        str(rs["metadata"]["uid"])
        for rs in view.children("ReplicaSet", app)
        if rs["metadata"].get("uid") and controller_uid(rs) == uid
    )
