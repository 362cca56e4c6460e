"""Helpers for the real-node install tests: waiting on the node, helm, ready pods, Prometheus from
manifests/prometheus-kind and shop as examples/shop.yaml with the locally built image."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from webscale_local.node import RealNode
from webscale_local.node_config import APP_IMAGE, OPERATOR_IMAGE

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "manifests" / "helm" / "webscale-operator"
OPERATOR_SELECTOR = "app.kubernetes.io/name=webscale-operator"


def wait_node(check: object, timeout: float, what: str, node: RealNode) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except (subprocess.SubprocessError, ValueError, KeyError, OSError):
            pass
        time.sleep(1)
    pods = node.kubectl("get", "pods", "-A", "-o", "wide", check=False)
    events = node.kubectl("get", "events", "-A", "--sort-by=.lastTimestamp", check=False)[-3000:]
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{pods}\n{events}")


def helm(node: RealNode, *args: str) -> str:
    helm = os.environ.get("WEBSCALE_HELM")
    if not helm:
        pytest.fail("WEBSCALE_HELM is not set (make test-node-real builds helm and sets it)")
    proc = subprocess.run([helm, f"--kubeconfig={node.kubeconfig}", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"helm {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def ready_pods(node: RealNode, namespace: str, selector: str) -> list[str]:
    pods = json.loads(node.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json"))["items"]
    return [
        p["metadata"]["name"]
        for p in pods
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    ]


def install_prometheus(node: RealNode) -> None:
    """manifests/prometheus-kind with its image replaced by the local one (a kustomize image override, as a
    cluster without Docker Hub would do it)."""
    with tempfile.TemporaryDirectory() as d:
        base = os.path.relpath(ROOT / "manifests" / "prometheus-kind", d)
        kustomization = {
            "resources": [base],
            "images": [{"name": "prom/prometheus", "newName": "localhost/webscale-prometheus", "newTag": "dev"}],
        }
        Path(d, "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        node.kubectl("apply", "-k", d)


def shop_manifest() -> str:
    shop = yaml.safe_load((ROOT / "examples" / "shop.yaml").read_text())
    shop["spec"]["resources"]["cpu"] = "300m"
    shop["spec"]["image"] = APP_IMAGE  # the sample app built here (the example names a registry's)
    return json.dumps(shop)


def condition(node: RealNode, kind: str) -> bool:
    swa = json.loads(node.kubectl("get", "scaledwebapp", "shop", "-o", "json"))
    return any(c["type"] == kind and c["status"] == "True" for c in swa.get("status", {}).get("conditions", []))


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def haproxy_logs(node: RealNode) -> str:
    pods = node.kubectl("get", "pods", "-l", "app.kubernetes.io/name=shop", "-o", "name", check=False).split()
    return "\n".join(node.kubectl("logs", p, "--tail=40", check=False) for p in pods if "haproxy" in p)


def install_operator_and_prometheus(node: RealNode, system: str) -> None:
    """The chart (2 operator replicas, the locally built operator and HAProxy images) and Prometheus from
    manifests/prometheus-kind, both Ready."""
    repo, tag = OPERATOR_IMAGE.rsplit(":", 1)
    helm(
        node, "install", "webscale", str(CHART), "--namespace", system, "--create-namespace",
        "--set", f"image.repository={repo}", "--set", f"image.tag={tag}",
        "--set", "settings.haproxyImage=localhost/webscale-haproxy:dev",
    )  # fmt: skip
    wait_node(lambda: len(ready_pods(node, system, OPERATOR_SELECTOR)) == 2, 180, "2 operator pods Ready", node)
    install_prometheus(node)
    wait_node(lambda: ready_pods(node, "monitoring", "app.kubernetes.io/name=prometheus"), 120, "Prometheus", node)


def install_shop(node: RealNode, system: str) -> str:
    """`install_operator_and_prometheus`, then examples/shop.yaml with the image built here, Ready; its URL
    (the ClusterIP)."""
    install_operator_and_prometheus(node, system)
    node.kubectl("apply", "-f", "-", stdin=shop_manifest())
    wait_node(lambda: condition(node, "Ready"), 240, "shop Ready", node)
    service = json.loads(node.kubectl("get", "service", "shop", "-o", "json"))["spec"]
    return f"http://{service['clusterIP']}:{service['ports'][0]['port']}"


def sample_container() -> dict:
    """The sample app built here as a bare container: one worker, 50m, a 1-CPU limit, ready on /readyz."""
    return {
        "name": "app",
        "image": APP_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "env": [{"name": "WEB_CONCURRENCY", "value": "1"}],
        "ports": [{"containerPort": 3000}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "1"}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 3000}, "periodSeconds": 1},
    }


def zero_manifest(name: str, replicas_min: int = 0, idle_after: str = "30s", hold_for: str = "30s") -> str:
    """An app of the sample app built here that may scale to zero: autoscaling.scaleToZero with `idle_after`
    (30s is the schema's shortest; pollingInterval 5s, the shortest, so idleness is seen within 5 s),
    HAProxy holding requests up to `hold_for`; one worker per pod (100m) so several fit on the node."""
    return json.dumps(
        {
            "apiVersion": "webscale.dev/v1alpha1",
            "kind": "ScaledWebApp",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "image": APP_IMAGE,
                "port": 3000,
                "resources": {"cpu": "100m", "memory": "128Mi"},
                "workers": {"mode": "fixed", "count": 1},
                "replicas": {"min": replicas_min, "max": 3},
                "autoscaling": {
                    "pollingInterval": "5s",
                    "scaleToZero": {"idleAfter": idle_after, "holdRequestsFor": hold_for},
                },
                "loadBalancer": {"provider": "haproxy", "strategy": "least-connections"},
            },
        }
    )


def app_events(node: RealNode, name: str, reason: str) -> list[dict]:
    """The Events on ScaledWebApp `name` with `reason`, oldest first."""
    selector = f"involvedObject.name={name},involvedObject.kind=ScaledWebApp,reason={reason}"
    items = json.loads(node.kubectl("get", "events", "--field-selector", selector, "-o", "json"))["items"]
    return sorted(items, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
