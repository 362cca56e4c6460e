"""The in-memory copy of one watched resource, and how a list or a watch event changes it (pure).

`Store.replace` takes a full list (start, or a relist after a watch gap) and returns every change
against what was held, deletions included: an object deleted while the watch was cut is reported
as DELETED, so nothing downstream keeps a ghost. Objects are trimmed on the way in (`trim_*`) so
memory grows with what the operator reads, not with what the API server stores.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from webscale.api.labels import LB_COMPONENT, WORKERS_ANNOTATION

Key = tuple[str, str]
Trim = Callable[[dict[str, Any]], dict[str, Any] | None]
"""What the store holds of an object; None: nothing (an object not worth holding is as if deleted)."""
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


@dataclass(frozen=True)
class Change:
    """One object added, modified or deleted (`old` None when added, `new` None when deleted).

    A compact store hands the old version over as it holds it (JSON bytes): it is decoded only
    if someone reads `old`, and most readers only need the new one."""

    type: str
    held_old: dict[str, Any] | bytes | None
    new: dict[str, Any] | None

    @property
    def old(self) -> dict[str, Any] | None:
        return json.loads(self.held_old) if isinstance(self.held_old, bytes) else self.held_old

    @property
    def obj(self) -> dict[str, Any]:
        obj = self.new if self.new is not None else self.old
        assert obj is not None
        return obj


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


def newer(a: dict[str, Any], b: dict[str, Any] | None) -> bool:
    """Is `a` a later version than `b`? (resourceVersions are etcd revisions: compare them as numbers)."""
    if b is None:
        return True
    ra, rb = str(a["metadata"].get("resourceVersion", "")), str(b["metadata"].get("resourceVersion", ""))
    if ra.isdigit() and rb.isdigit():
        return int(ra) > int(rb)
    return ra != rb


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
    annotations = meta.get("annotations")
    if annotations and any(a in annotations for a in _DROPPED_ANNOTATIONS):
        meta["annotations"] = {k: v for k, v in annotations.items() if k not in _DROPPED_ANNOTATIONS}
    return meta


def trim(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything but managedFields and kubectl's last-applied copy."""
    return {**obj, "metadata": _meta(obj)}


def replicas_owners(obj: dict[str, Any]) -> list[str]:
    """The field managers that own spec.replicas (from full managedFields)."""
    owners = []
    for entry in obj["metadata"].get("managedFields") or []:
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {}):
            owners.append(str(entry.get("manager")))
    return owners


def trim_deployment(obj: dict[str, Any]) -> dict[str, Any]:
    """A Deployment with managedFields reduced to who owns spec.replicas (for the hand-over check)."""
    meta = _meta(obj)
    meta["managedFields"] = [{"manager": m, "fieldsV1": {"f:spec": {"f:replicas": {}}}} for m in replicas_owners(obj)]
    return {**obj, "metadata": meta}


def owner_references(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The ownerReferences as the operator checks them: kind, name, uid and whether it is the controller."""
    refs = meta.get("ownerReferences") or []
    return [
        {"kind": o.get("kind"), "name": o.get("name"), "uid": o.get("uid"), "controller": o.get("controller")}
        for o in refs
    ]


def trim_replica_set(obj: dict[str, Any]) -> dict[str, Any] | None:
    """What the operator reads of a ReplicaSet: who it is, which app's (the index) and which Deployment
    controls it. Only to tell the pods of the app's own Deployments from look-alikes (`kube.cache`).
    None (not held) for one that neither has nor wants a pod: the old ReplicaSets a Deployment keeps for
    rollbacks (up to 10 each) then cost nothing, and one scaled up again is held again at that event."""
    if not _count(obj.get("spec"), "replicas") and not _count(obj.get("status"), "replicas"):
        return None
    meta, labels = obj["metadata"], obj["metadata"].get("labels") or {}
    kept = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta}
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {
            **kept,
            "labels": {k: labels[k] for k in POD_LABELS if k in labels},
            "ownerReferences": owner_references(meta),
        },
    }


def _count(part: Any, field: str) -> int:
    try:
        return int((part or {}).get(field) or 0)
    except (TypeError, ValueError, AttributeError):
        return 1  # unreadable: held, as before


POD_LABELS = ("app.kubernetes.io/instance", "app.kubernetes.io/component")
"""The labels the operator reads on a pod: which app (the index) and which component (web or LB)."""
POD_METADATA = ("name", "namespace", "resourceVersion", "creationTimestamp", "deletionTimestamp")


def trim_pod(obj: dict[str, Any]) -> dict[str, Any]:
    """What the operator reads of a pod, and nothing else (the pod cache holds one per replica of
    every app): identity, the app and component labels, the live worker count annotation, creation
    and deletion times, the Ready condition, and PodScheduled only while it is not True (with the
    scheduler's reason and message: why the pod is Pending)."""
    meta, status = obj["metadata"], obj.get("status") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    kept = []
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready":
            kept.append({k: c.get(k) for k in ("type", "status", "lastTransitionTime")})
        elif c.get("type") == "PodScheduled" and c.get("status") != "True":
            kept.append({k: c.get(k) for k in ("type", "status", "reason", "message")})
    trimmed = {
        "metadata": {
            **{k: meta[k] for k in POD_METADATA if k in meta},
            "labels": {k: labels[k] for k in POD_LABELS if k in labels},
            "annotations": {k: v for k, v in annotations.items() if k == WORKERS_ANNOTATION},
        },
        "status": {"phase": status.get("phase"), "conditions": kept},
    }
    if labels.get("app.kubernetes.io/component") in (LB_COMPONENT, "web"):
        # the wake loop (runtime.wake) reads the held-request counters of an app's HAProxy pods, and the
        # wake endpoint (runtime.wake_answer) names an app's ready pod to them
        trimmed["metadata"]["ownerReferences"] = owner_references(meta)
        trimmed["status"]["podIP"] = status.get("podIP")
    return trimmed


Index = Callable[[dict[str, Any]], str | None]


def app_index(obj: dict[str, Any]) -> str | None:
    """Index value of an operator-made object: "namespace/app" from its app.kubernetes.io/instance label."""
    meta = obj["metadata"]
    instance = (meta.get("labels") or {}).get("app.kubernetes.io/instance")
    return f"{meta.get('namespace', '')}/{instance}" if instance else None


class Store:
    """Thread-safe map of key -> trimmed object for one resource, with an optional index
    (e.g. by owning app) so a lookup costs the app's objects, not the cluster's.

    compact: hold each object as its JSON bytes and decode it when read. A Deployment takes ~10x
    less memory that way; the operator reads children rarely (on a change or a resync), so the
    decoding costs little. The apps and pods, read every poll, stay decoded."""

    def __init__(self, trim_fn: Trim = trim, index: Index | None = None, compact: bool = False) -> None:
        self.trim = trim_fn
        self.index = index
        self.compact = compact
        self._items: dict[Key, Any] = {}
        self._versions: dict[Key, str] = {}
        self._index_of: dict[Key, str] = {}
        self._by_index: dict[str, set[Key]] = {}
        self._lock = threading.Lock()

    def _encode(self, obj: dict[str, Any]) -> Any:
        return json.dumps(obj, separators=(",", ":")).encode() if self.compact else obj

    @staticmethod
    def _decode(held: Any) -> dict[str, Any]:
        obj: dict[str, Any] = json.loads(held) if isinstance(held, bytes) else held
        return obj

    def _hold(self, key: Key, obj: dict[str, Any]) -> None:
        """Store `obj` (trimmed) under `key` with its version and index value (lock held)."""
        self._drop(key)
        self._items[key] = self._encode(obj)
        self._versions[key] = str(obj["metadata"].get("resourceVersion") or "")
        value = self.index(obj) if self.index else None
        if value is not None:
            self._index_of[key] = value
            self._by_index.setdefault(value, set()).add(key)

    def _drop(self, key: Key) -> Any:
        held = self._items.pop(key, None)
        self._versions.pop(key, None)
        value = self._index_of.pop(key, None)
        if value is not None and value in self._by_index:
            self._by_index[value].discard(key)
            if not self._by_index[value]:
                del self._by_index[value]
        return held

    def indexed(self, value: str) -> list[dict[str, Any]]:
        """The objects whose index value is `value`."""
        with self._lock:
            held = [self._items[k] for k in self._by_index.get(value, ()) if k in self._items]
        return [self._decode(h) for h in held]

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            held = self._items.get((namespace, name))
        return None if held is None else self._decode(held)

    def version(self, namespace: str, name: str) -> str | None:
        """The held object's resourceVersion (None: not held), without decoding it."""
        with self._lock:
            return self._versions.get((namespace, name))

    def versions(self) -> dict[Key, str]:
        """Key -> resourceVersion of every held object, without decoding any."""
        with self._lock:
            return dict(self._versions)

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            held = list(self._items.values())
        return [self._decode(h) for h in held]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def replace(self, objects: Iterable[dict[str, Any]], trimmed: bool = False) -> list[Change]:
        """Hold exactly `objects` (already trimmed, or trimmed here) from now on; returns what changed
        (vanished objects as DELETED)."""
        return list(self.replace_stream(objects, trimmed))

    def replace_stream(self, objects: Iterable[dict[str, Any] | None], trimmed: bool = False) -> Iterator[Change]:
        """`replace`, one object at a time: each listed object is held (and its change yielded) as it
        arrives, so a relist of thousands never holds them all decoded at once; objects not listed go
        at the end, as DELETED. Readers meanwhile see each object either as before or as listed."""
        seen: set[Key] = set()
        for listed in objects:
            obj = listed if trimmed or listed is None else self.trim(listed)
            if obj is None:  # not held: if it was, it goes at the end with the vanished ones
                continue
            key = key_of(obj)
            seen.add(key)
            with self._lock:
                before, version = self._items.get(key), self._versions.get(key)
                self._hold(key, obj)
            if before is None:
                yield Change("ADDED", None, obj)
            elif version != obj["metadata"].get("resourceVersion"):
                yield Change("MODIFIED", before, obj)
        with self._lock:
            gone = [(key, self._drop(key)) for key in list(self._items) if key not in seen]
        for _, held in gone:
            yield Change("DELETED", held, None)

    def apply(self, type_: str, obj: dict[str, Any]) -> Change | None:
        """A watch event; None when it carries nothing newer than what is held."""
        key = key_of(obj)
        with self._lock:
            if type_ == "DELETED":
                held = self._drop(key)
                return None if held is None else Change("DELETED", held, None)
            trimmed = self.trim(obj)
            if trimmed is None:  # no longer worth holding: as if deleted
                held = self._drop(key)
                return None if held is None else Change("DELETED", held, None)
            version = self._versions.get(key)
            if version is not None and not newer(trimmed, {"metadata": {"resourceVersion": version}}):
                return None
            before = self._items.get(key)
            self._hold(key, trimmed)
        return Change("ADDED" if before is None else "MODIFIED", before, trimmed)

    def put(self, obj: dict[str, Any]) -> None:
        """Write-through of an object the operator just wrote (if newer than the cached one), so a
        reconcile right after its own write does not see the old version and write again."""
        self.apply("MODIFIED", obj)
