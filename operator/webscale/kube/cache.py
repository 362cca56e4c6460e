"""What the operator reads: the informers' stores behind one small interface (`ClusterView`).

The reconciler and the scaling loop read only from here — never a GET per poll. `InMemoryView` is the
same interface over plain dicts, for unit tests of the orchestration layer and for the benchmark's
direct-client floor.
"""

from __future__ import annotations

from typing import Any, Protocol

from webscale.api.app import App
from webscale.kube.store import Store, Trim, app_index, trim, trim_deployment, trim_pod

CHILD_KINDS = ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget")
"""Kinds the operator creates for an app (and prunes when the spec no longer asks for them)."""

TRIMS: dict[str, Trim] = {"Deployment": trim_deployment, "Pod": trim_pod}
"""How each kind is trimmed in the cache (others: `trim`): Deployments keep who owns spec.replicas."""


def trim_for(kind: str) -> Trim:
    return TRIMS.get(kind, trim)


def controlled_by(obj: dict[str, Any], app: App) -> bool:
    """Is `obj` controlled by this very ScaledWebApp (its controller ownerReference has the app's uid)?"""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller") and ref.get("uid") == app.uid:
            return True
    return False


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
