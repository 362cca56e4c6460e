"""Owner chains as the API server and the controllers make them, for tests that give the operator pods:
a ReplicaSet controlled by a Deployment (by uid), and a pod controlled by that ReplicaSet."""

from __future__ import annotations

from typing import Any

APP_API_VERSION = "webscale.dev/v1alpha1"


def controller_ref(owner: dict[str, Any]) -> dict[str, Any]:
    """The controller ownerReference to `owner` (it must have a uid)."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner.get("apiVersion", "apps/v1"),
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def deployment_of(
    app_uid: str, name: str, namespace: str, labels: dict[str, str], uid: str, app_name: str | None = None
) -> dict[str, Any]:
    """A Deployment `name` as the operator makes it for the app `app_name` (default: `name`) whose uid is
    `app_uid` (controlled by it), with pods labelled `labels`: only what the pod cache's owner chain needs."""
    owner = {"apiVersion": APP_API_VERSION, "kind": "ScaledWebApp", "name": app_name or name, "uid": app_uid}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "labels": labels,
            "ownerReferences": [{**owner, "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {"template": {"metadata": {"labels": labels}}},
    }


def replica_set_of(
    deployment: dict[str, Any], uid: str, template_hash: str = "5d9f", replicas: int = 1
) -> dict[str, Any]:
    """The ReplicaSet the Deployment controller makes for `deployment`: named after it and its template's
    hash, labelled like its pods, controlled by it, with `replicas` pods (0: an old one kept for rollbacks)."""
    meta = deployment["metadata"]
    labels = dict(deployment["spec"]["template"]["metadata"].get("labels") or {})
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{template_hash}",
            "namespace": meta["namespace"],
            "uid": uid,
            "labels": {**labels, "pod-template-hash": template_hash},
            "ownerReferences": [controller_ref(deployment)],
        },
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas},
    }


def owned_by(pod: dict[str, Any], replica_set: dict[str, Any]) -> dict[str, Any]:
    """`pod`, controlled by `replica_set` (as the ReplicaSet controller creates it)."""
    return {**pod, "metadata": {**pod["metadata"], "ownerReferences": [controller_ref(replica_set)]}}
