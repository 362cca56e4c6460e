"""An in-memory fake of the `Kube` client interface, for unit tests of the orchestration layer.

It keeps objects by (kind, namespace, name), gives them uids and resourceVersions, emulates what
server-side apply does to spec.replicas (who owns it, and that leaving out a field one owns alone
removes it), records every write, and can refuse chosen objects as the API server would (4xx).
The real API server stays the judge in tests/integration; this fake only makes the decisions of
`Reconciler` and `Autoscaler` observable without one. It implements `KubeAPI`, as the real client
does; `make lint` (mypy) checks both against it, so the two cannot drift apart.
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from kubernetes.client.rest import ApiException

from webscale.kube.interface import KubeAPI
from webscale.settings import Settings

Key = tuple[str, str, str]


def _key(obj: dict[str, Any]) -> Key:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


class FakeKube:
    """Objects in a dict; `writes` lists (verb, kind, name) of every write."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.objects: dict[Key, dict[str, Any]] = {}
        self.writes: list[tuple[str, str, str]] = []
        self.reads: list[tuple[str, str, str]] = []
        self.events: list[tuple[str, str, str]] = []
        self.refuse: dict[tuple[str, str], tuple[int, str]] = {}
        self._rv = itertools.count(1)
        self._conditions_of: dict[tuple[str, str, str], set[str]] = {}
        self._uid = itertools.count(1)

    # ---- helpers for tests ----------------------------------------------------------------------

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Put an object in as if someone else created it."""
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        meta.setdefault("uid", f"uid-{next(self._uid)}")
        meta["resourceVersion"] = str(next(self._rv))
        self.objects[_key(obj)] = obj
        return copy.deepcopy(obj)

    def find(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.objects.get((kind, namespace, name)))

    # ---- the Kube interface ---------------------------------------------------------------------

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads.append(("get", kind, name))
        return self.find(kind, namespace, name)

    def apply(self, obj: dict[str, Any], manager: str | None = None) -> dict[str, Any]:
        manager = manager or self.settings.field_manager
        kind, namespace, name = _key(obj)
        if (kind, name) in self.refuse:
            status, message = self.refuse[(kind, name)]
            error = ApiException(status=status, reason="Invalid")
            error.body = json.dumps({"kind": "Status", "message": message, "code": status})
            raise error
        self.writes.append(("apply", kind, name))
        live = self.objects.get((kind, namespace, name))
        new = copy.deepcopy(obj)
        meta = new["metadata"]
        meta["uid"] = live["metadata"]["uid"] if live else f"uid-{next(self._uid)}"
        meta["resourceVersion"] = str(next(self._rv))
        if live is not None and manager != self.settings.field_manager:
            # a partial apply by another manager (the scaler's replicas): merge into the live object
            merged = copy.deepcopy(live)
            merged["spec"] = {**live.get("spec", {}), **new.get("spec", {})}
            merged["metadata"]["resourceVersion"] = meta["resourceVersion"]
            new = merged
        elif live is not None:
            new["status"] = live.get("status", {})
        if kind == "Deployment":
            self._replicas(new, live, obj, manager)
        self.objects[(kind, namespace, name)] = new
        return copy.deepcopy(new)

    def _replicas(self, new: dict[str, Any], live: dict[str, Any] | None, sent: dict[str, Any], manager: str) -> None:
        owners = [e["manager"] for e in (live or {}).get("metadata", {}).get("managedFields", [])]
        spec = new.setdefault("spec", {})
        if "replicas" in sent.get("spec", {}):
            owners = sorted({*owners, manager})
        elif manager in owners:
            owners = [o for o in owners if o != manager]
            if not owners:
                spec["replicas"] = 1  # the field went with its only owner: the default is back
        if "replicas" not in spec and live is not None:
            spec["replicas"] = live.get("spec", {}).get("replicas", 1)
        new["metadata"]["managedFields"] = [{"manager": m, "fieldsV1": {"f:spec": {"f:replicas": {}}}} for m in owners]

    def delete(self, api_version: str, kind: str, namespace: str, name: str, uid: str | None = None) -> None:
        self.writes.append(("delete", kind, name))
        self.objects.pop((kind, namespace, name), None)

    def patch_annotations(self, api_version: str, kind: str, namespace: str, name: str, values: dict[str, str]) -> None:
        self.writes.append(("patch", kind, name))
        obj = self.objects[(kind, namespace, name)]
        obj["metadata"].setdefault("annotations", {}).update(values)
        obj["metadata"]["resourceVersion"] = str(next(self._rv))

    def apply_status(self, namespace: str, name: str, status: dict[str, Any], manager: str) -> dict[str, Any]:
        self.writes.append(("status", "ScaledWebApp", name))
        obj = self.objects.get(("ScaledWebApp", namespace, name))
        if obj is None:
            raise ApiException(status=404, reason="NotFound")
        merged = dict(obj.get("status") or {})
        merged.update({k: v for k, v in status.items() if k != "conditions"})
        by_type = {c["type"]: c for c in merged.get("conditions", [])}
        stated = {c["type"] for c in status.get("conditions", [])}
        for gone in self._conditions_of.get((namespace, name, manager), set()) - stated:
            by_type.pop(gone, None)  # server-side apply: a list-map entry the manager no longer sends goes
        self._conditions_of[(namespace, name, manager)] = stated
        by_type.update({c["type"]: c for c in status.get("conditions", [])})
        merged["conditions"] = list(by_type.values())
        obj["status"] = merged
        obj["metadata"]["resourceVersion"] = str(next(self._rv))
        return copy.deepcopy(obj)

    def event(self, involved: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.events.append((type_, reason, message))


def _conforms(fake: FakeKube) -> KubeAPI:
    return fake  # type-checked (make lint): the fake is a KubeAPI, as the real client is
