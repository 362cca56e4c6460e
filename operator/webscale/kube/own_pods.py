"""Which pods of the pod cache are an app's own (pure): the one filter the wake loop and the wake
endpoint apply before they dial a pod or name one to HAProxy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def own_pods(
    pods: list[dict[str, Any]], namespace: str, selector: dict[str, str], owner_prefix: str
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(metadata, status) of each pod in `namespace`, not being deleted, carrying every label of `selector`
    and owned by a ReplicaSet whose name starts with `owner_prefix` (made by the app's Deployment): an app's
    owner cannot make the operator use any other address by labelling a pod of their own."""
    for pod in pods:
        meta, status = pod["metadata"], pod.get("status") or {}
        if meta.get("namespace") != namespace or meta.get("deletionTimestamp"):
            continue
        if not selector.items() <= (meta.get("labels") or {}).items():
            continue
        owners = meta.get("ownerReferences") or []
        if any(o.get("kind") == "ReplicaSet" and str(o.get("name", "")).startswith(owner_prefix) for o in owners):
            yield meta, status
