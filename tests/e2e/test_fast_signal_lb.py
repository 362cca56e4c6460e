"""The fast signal on real parts: a real haproxy running the operator's rendered haproxy.cfg in front of
real sample apps on loopback (webscale_local.lb_rig), the operator's own reader (runtime.fast_signal)
reading its exporter, and the operator's FastSignal round and Autoscaler writing to the real control
plane (no operator process: the test runs the leader's round itself, so it chooses when rounds happen).

The network rule: the app's HAProxy pod in the pod cache has a 10.x address, and its URL is never dialed;
the round's reader is the operator's, given the loopback address of the real haproxy instead (and the
test checks that the round asked for exactly that pod's URL). Every load loop is bounded in count."""

from __future__ import annotations

import math
import time

import pytest
from kubernetes import client
from waiting import eventually
from webscale_local.lb_rig import APP_HOSTS, Client, apps_on, rig
from webscale_local.owned import deployment_of, owned_by, replica_set_of
from webscale_local.swa import G, P, V, app_body

from webscale.api.app import App
from webscale.api.labels import lb_labels
from webscale.autoscaling.act import Autoscaler
from webscale.autoscaling.panic import in_band_rate
from webscale.kube.cache import InMemoryView
from webscale.kube.client import Kube
from webscale.reconcile import haproxy_config
from webscale.runtime.fast_signal import STATS_PATH, FastSignal, read_requests
from webscale.settings import Settings

pytestmark = pytest.mark.e2e

REQUESTS = 300
PER_WORKER = 5.0
"""requestsPerSecondPerWorker of the test app (one worker a pod): 2 ready pods carry 10 req/s."""
MAX = 20
POD_IP = "10.77.0.9"
"""The HAProxy pod's address in the pod cache: never contacted."""


def _send(url: str, count: int) -> int:
    """`count` requests one after another on one keep-alive connection; how many got 200."""
    c, ok = Client(url), 0
    try:
        for _ in range(count):
            status, _ = c.get("/healthz")
            ok += status == 200
    finally:
        c.close()
    return ok


def test_the_reader_counts_exactly_the_requests_haproxy_sent_to_the_pods(tmp_path):
    with apps_on(tmp_path, APP_HOSTS[:2]) as apps, rig(tmp_path, apps, "round-robin") as lb:
        url = f"http://127.0.0.1:{lb.metrics_port}{STATS_PATH}"
        before = read_requests([url])[url]
        assert before is not None
        assert _send(lb.url, REQUESTS) == REQUESTS
        after = read_requests([url])[url]
        assert after == before + REQUESTS
        # the counter is the one Prometheus reads for requestRateSource loadbalancer
        assert after == lb.metric("haproxy_backend_http_requests_total", proxy=haproxy_config.BACKEND)
        dead = "http://127.0.0.1:1" + STATS_PATH
        assert read_requests([dead]) == {dead: None}  # nothing listens: left out, not an error


def _deployment(apps: client.AppsV1Api, namespace: str) -> dict:
    dep = apps.read_namespaced_deployment("shop", namespace)
    body = client.ApiClient().sanitize_for_serialization(dep)
    return {"apiVersion": "apps/v1", "kind": "Deployment", **body}


def test_a_surge_at_the_load_balancer_scales_the_deployment_up_within_one_round(
    tmp_path, api_client, namespace, crd_installed, swa
):
    apps_api = client.AppsV1Api(api_client)
    spec = {
        "workers": {"mode": "fixed", "count": 1},
        "replicas": {"min": 1, "max": MAX, "count": 2},
        "loadBalancer": {"provider": "haproxy"},
        "autoscaling": {"target": {"requestsPerSecondPerWorker": PER_WORKER}},
    }
    created = swa.create_namespaced_custom_object(G, V, namespace, P, app_body(**spec))
    labels = {"app.kubernetes.io/name": "shop"}
    owner = client.V1OwnerReference(
        api_version=f"{G}/{V}", kind="ScaledWebApp", name="shop", uid=created["metadata"]["uid"], controller=True
    )  # as the operator makes it: a Deployment no app controls is never scaled
    apps_api.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="shop", owner_references=[owner]),
            spec=client.V1DeploymentSpec(
                replicas=2,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="registry.example/shop:1")]),
                ),
            ),
        ),
    )
    eventually(lambda: apps_api.read_namespaced_deployment("shop", namespace).status.ready_replicas == 2, 60, "2 ready")
    app = App.from_body(swa.get_namespaced_custom_object(G, V, namespace, P, "shop"))
    assert app.valid, app.errors
    # the app's HAProxy Deployment, its ReplicaSet and its pod, as the pod cache holds them
    lb = deployment_of(app.uid, "shop-haproxy", namespace, lb_labels("shop"), "lb-deployment-uid", app_name="shop")
    lb_rs = replica_set_of(lb, "lb-rs-uid", "5d8f")
    lb_pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "shop-haproxy-5d8f-1", "namespace": namespace, "labels": lb_labels("shop")},
        "status": {"phase": "Running", "podIP": POD_IP},
    }
    view = InMemoryView([_deployment(apps_api, namespace), lb, lb_rs, owned_by(lb_pod, lb_rs)])
    kube = Kube(api_client, Settings())
    pod_url = f"http://{POD_IP}:{haproxy_config.METRICS_PORT}{STATS_PATH}"

    with apps_on(tmp_path, APP_HOSTS[:2]) as sample, rig(tmp_path, sample, "round-robin") as lb:
        real = f"http://127.0.0.1:{lb.metrics_port}{STATS_PATH}"
        asked: list[list[str]] = []

        def read(urls):
            asked.append(list(urls))
            assert list(urls) == [pod_url]  # the app's own HAProxy pod, and only it
            return {pod_url: read_requests([real])[real]}  # ...reached at the real haproxy's loopback address

        fast = FastSignal(Autoscaler(kube, view), view, lambda: [app], 2.0, 200, read)
        fast.tick(time.time())
        assert _send(lb.url, REQUESTS) == REQUESTS
        fast.tick(time.time())

    readings = list(fast.readings[pod_url])
    assert len(readings) == 2 and readings[1][1] - readings[0][1] == REQUESTS
    rate = in_band_rate({pod_url: readings}, readings[1][0], 6.0, 8.0)
    assert rate is not None and rate >= 3 * 2 * PER_WORKER  # 300 requests on loopback: far over 3x
    expected = min(MAX, math.ceil(rate / PER_WORKER))
    assert apps_api.read_namespaced_deployment("shop", namespace).spec.replicas == expected
    status = swa.get_namespaced_custom_object_status(G, V, namespace, P, "shop")["status"]
    assert status["lastScale"]["reason"] == "BurstMode" and status["lastScale"]["to"] == expected
    events = client.CoreV1Api(api_client).list_namespaced_event(namespace, field_selector="reason=ScaledUp").items
    assert any("at the load balancer" in e.message and f"-> {expected} at once" in e.message for e in events)
