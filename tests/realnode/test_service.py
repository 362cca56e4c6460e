"""The node's data path: a ClusterIP Service reaches real pods through kube-proxy from inside the
namespace; pods resolve Services through CoreDNS and reach the API server through the `kubernetes`
Service; `kubectl exec` and `logs` reach the kubelet."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from installed import sample_container
from webscale_local.node import RealNode
from webscale_local.waiting import wait_for

pytestmark = pytest.mark.node

MANIFEST = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [sample_container()]},
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 3000}]},
        },
    ],
}


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


def _available(node: RealNode) -> bool:
    d = json.loads(node.kubectl("get", "deployment", "web", "-o", "json"))
    return d["status"].get("availableReplicas", 0) == 2


def test_cluster_ip_reaches_pods_and_pods_reach_dns_and_the_api(node: RealNode) -> None:
    node.kubectl("apply", "-f", "-", stdin=json.dumps(MANIFEST))
    try:
        _wait(lambda: _available(node), 120, "deployment web to have 2 available pods")
        ip = json.loads(node.kubectl("get", "service", "web", "-o", "json"))["spec"]["clusterIP"]
        # the pods are available before kube-proxy has their endpoints (it rejects until then): a bounded wait
        wait_for(lambda: _get_json(f"http://{ip}/healthz"), 30, 0.5, "a first answer from the Service web")
        pods_seen = {_get_json(f"http://{ip}/healthz")["pid"] for _ in range(20)}  # kube-proxy spreads them
        assert len(pods_seen) >= 1

        pod = node.kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
        lookup = "require('dns').lookup('web.default.svc.cluster.local',(e,a)=>{console.log(e?'ERR '+e.code:a)})"
        assert node.kubectl("exec", pod, "--", "node", "-e", lookup).strip() == ip
        api = (
            "require('https').get({host:'kubernetes.default.svc',path:'/version',rejectUnauthorized:false},"
            "r=>{console.log(r.statusCode);process.exit(0)})"
            ".on('error',e=>{console.log('ERR '+e.code);process.exit(1)})"
        )
        # 401 without a token: the API server answered through the Service, which is all this checks; the
        # script exits at once (Node keeps an idle HTTPS connection open, and so itself alive, otherwise)
        assert node.kubectl("exec", pod, "--", "node", "-e", api).strip() in {"200", "401", "403"}
        assert '"starting"' in node.kubectl("logs", pod)  # the app's first log line, read from the kubelet
    finally:
        node.kubectl("delete", "-f", "-", "--wait=true", "--timeout=60s", stdin=json.dumps(MANIFEST), check=False)
