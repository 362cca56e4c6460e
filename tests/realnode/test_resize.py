"""Live resize on a real node: a new worker count in the pod's annotation reaches the running app through
the downward API file the kubelet rewrites, and the app resizes with no container restart."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from webscale_local.node import RealNode
from webscale_local.node_config import APP_IMAGE
from webscale_local.waiting import wait_for

from webscale.api.labels import WORKERS_ANNOTATION
from webscale.reconcile.builders import ANNOTATIONS_FILE, PODINFO_DIR

pytestmark = pytest.mark.node


def _pod(name: str, workers: int) -> str:
    """The podinfo volume and mount as the operator's Deployment has them (reconcile/builders.py)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "annotations": {WORKERS_ANNOTATION: str(workers)}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": APP_IMAGE,
                        "imagePullPolicy": "IfNotPresent",
                        "env": [{"name": "WEBSCALE_ANNOTATIONS_FILE", "value": ANNOTATIONS_FILE}],
                        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "2"}},
                        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 3000}, "periodSeconds": 1},
                        "volumeMounts": [{"name": "podinfo", "mountPath": PODINFO_DIR, "readOnly": True}],
                    }
                ],
                "volumes": [
                    {
                        "name": "podinfo",
                        "downwardAPI": {
                            "items": [{"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]
                        },
                    }
                ],
            },
        }
    )


def _status(node: RealNode, name: str) -> dict:
    return json.loads(node.kubectl("get", "pod", name, "-o", "json"))["status"]


def _workers(ip: str) -> float:
    with urllib.request.urlopen(f"http://{ip}:3000/metrics", timeout=5) as resp:
        match = re.search(r"^webscale_workers (\S+)$", resp.read().decode(), re.M)
    return float(match.group(1)) if match else -1


def test_worker_count_changes_live_through_the_annotation(node: RealNode) -> None:
    name = "resize"
    node.kubectl("apply", "-f", "-", stdin=_pod(name, 1))
    try:
        # the pod has an IP before the app listens: a refused connection is "not yet" (wait_for)
        wait_for(lambda: _workers(_status(node, name)["podIP"]) == 1, 90, 0.5, "1 worker")
        before = _status(node, name)
        ip = before["podIP"]
        started = before["containerStatuses"][0]["state"]["running"]["startedAt"]

        node.kubectl("annotate", "pod", name, f"{WORKERS_ANNOTATION}=2", "--overwrite")
        # the kubelet rewrites the downward API file on its next sync of the pod (syncFrequency 10s here)
        wait_for(lambda: _workers(ip) == 2, 90, 0.5, "2 workers after the annotation changed")

        after = _status(node, name)["containerStatuses"][0]
        assert after["restartCount"] == 0
        assert after["state"]["running"]["startedAt"] == started, "the container was not restarted"
        assert "worker count set" in node.kubectl("logs", name)
    finally:
        node.kubectl("delete", "pod", name, "--wait=true", "--timeout=60s", check=False)
