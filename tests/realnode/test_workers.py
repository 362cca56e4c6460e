"""Workers from the real cgroup: the sample app, in a real container with a CPU limit, runs as many
cluster workers as the limit allows (read from its own cgroup: cpu.cfs_quota_us here, cgroup v1)."""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest
from webscale_local.node import RealNode
from webscale_local.node_config import APP_IMAGE

pytestmark = pytest.mark.node


def _pod(name: str, cpu: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": APP_IMAGE,
                        "imagePullPolicy": "IfNotPresent",
                        "ports": [{"containerPort": 3000}],
                        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": cpu}},
                        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 3000}, "periodSeconds": 1},
                    }
                ]
            },
        }
    )


def _ready_ip(node: RealNode, name: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pod = json.loads(node.kubectl("get", "pod", name, "-o", "json"))
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
        if ready:
            return pod["status"]["podIP"]
        time.sleep(0.5)
    raise AssertionError(f"pod {name} not Ready in {timeout}s: {node.kubectl('describe', 'pod', name)}")


def _workers(ip: str) -> float:
    with urllib.request.urlopen(f"http://{ip}:3000/metrics", timeout=5) as resp:
        text = resp.read().decode()
    match = re.search(r"^webscale_workers (\S+)$", text, re.M)
    assert match, f"no webscale_workers in the app's metrics:\n{text[:2000]}"
    return float(match.group(1))


@pytest.mark.parametrize(("cpu", "workers"), [("2", 2), ("1", 1)])
def test_worker_count_follows_the_containers_cpu_limit(node: RealNode, cpu: str, workers: int) -> None:
    name = f"workers-cpu-{cpu}"
    node.kubectl("apply", "-f", "-", stdin=_pod(name, cpu))
    try:
        ip = _ready_ip(node, name)
        deadline = time.monotonic() + 30
        while _workers(ip) != workers and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _workers(ip) == workers
        logs = node.kubectl("logs", name)
        assert "cfs_quota_us" in logs or "cpu.max" in logs, f"the app did not say where its count came from:\n{logs}"
    finally:
        node.kubectl("delete", "pod", name, "--wait=true", "--timeout=60s", check=False)
