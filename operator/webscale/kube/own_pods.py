"""Which pods of the pod cache are an app's own (pure): the one filter the wake loop, the fast signal,
the wake endpoint and the live worker resize apply before they dial, name or annotate a pod, and the
learned start-up time and the Pending message apply before they read one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from webscale.kube.cache import controller_uid


def own_pods(
    pods: list[dict[str, Any]], namespace: str, selector: dict[str, str], owners: frozenset[str]
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(metadata, status) of each pod in `namespace`, not being deleted, carrying every label of `selector`
    and controlled by one of the ReplicaSets `owners` (uids: `kube.cache.own_replica_sets`, those of the
    app's own Deployment). An app's owner cannot make the operator dial, name or write any other pod by
    labelling a pod of their own or by naming a ReplicaSet like the app's."""
    for pod in pods:
        meta, status = pod["metadata"], pod.get("status") or {}
        if meta.get("namespace") != namespace or meta.get("deletionTimestamp"):
            continue
        if not selector.items() <= (meta.get("labels") or {}).items():
            continue
        if controller_uid(pod) in owners:
            yield meta, status


def controlled_pods(pods: list[dict[str, Any]], owners: frozenset[str]) -> list[dict[str, Any]]:
    """The pods controlled by one of the ReplicaSets `owners` (uids), whole: what the app's status and its
    learned start-up time read, so a look-alike pod cannot put its Pending reason in the app's Ready
    condition or its start-up time into the app's lead time."""
    return [pod for pod in pods if controller_uid(pod) in owners]
