"""Step 2: the operator reconciles ScaledWebApps on a real control plane."""

from __future__ import annotations

import re

import pytest
from kubernetes import client
from waiting import eventually
from webscale_local.swa import G, P, V, app_body, condition, container, env_of, is_ready

pytestmark = pytest.mark.integration


def test_create_builds_deployment_and_services_with_owner_refs(api_client, namespace, operator, swa):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    created = swa.create_namespaced_custom_object(G, V, namespace, P, app_body())
    uid = created["metadata"]["uid"]
    dep = eventually(lambda: apps.read_namespaced_deployment("shop", namespace), 30, "the Deployment")
    svc = eventually(lambda: core.read_namespaced_service("shop", namespace), 30, "the entry Service")
    headless = eventually(lambda: core.read_namespaced_service("shop-pods", namespace), 30, "the headless Service")
    for obj in (dep, svc, headless):
        (ref,) = obj.metadata.owner_references
        assert (ref.kind, ref.name, ref.uid, ref.controller) == ("ScaledWebApp", "shop", uid, True)
    assert dep.spec.replicas == 2  # replicas.min
    assert env_of(dep.spec.template.spec.containers[0])["WEB_CONCURRENCY"] == "2"
    assert headless.spec.cluster_ip == "None" and svc.spec.ports[0].port == 80
    ready = eventually(lambda: is_ready(swa, namespace, "shop"), 60, "Ready")
    assert ready
    obj = swa.get_namespaced_custom_object(G, V, namespace, P, "shop")
    status = obj["status"]
    assert (status["readyReplicas"], status["workersPerPod"], status["observedGeneration"]) == (2, 2, 1)
    # no finalizer: deleting an app never waits for the operator to be running
    assert not obj["metadata"].get("finalizers")


def test_update_image_env_cpu_is_followed(api_client, namespace, operator, swa):
    apps = client.AppsV1Api(api_client)
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body())
    eventually(lambda: apps.read_namespaced_deployment("shop", namespace), 30, "the Deployment")
    patch = {
        "spec": {
            "image": "registry.example/shop:2",
            "env": [{"name": "FEATURE", "value": "on"}],
            "resources": {"cpu": "4"},
        }
    }
    swa.patch_namespaced_custom_object(G, V, namespace, P, "shop", patch)

    def followed() -> bool:
        c = container(apps, namespace)
        env = env_of(c)
        return c.image == "registry.example/shop:2" and env.get("FEATURE") == "on" and env["WEB_CONCURRENCY"] == "4"

    eventually(followed, 30, "the Deployment to follow image, env and cpu")
    assert container(apps, namespace).resources.requests["cpu"] == "4"


def test_hand_edit_of_managed_field_is_undone(api_client, namespace, operator, swa):
    apps = client.AppsV1Api(api_client)
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body())
    eventually(lambda: apps.read_namespaced_deployment("shop", namespace), 30, "the Deployment")
    apps.patch_namespaced_deployment(
        "shop", namespace, {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "evil:1"}]}}}}
    )
    eventually(lambda: container(apps, namespace).image == "registry.example/shop:1", 30, "the image to be restored")


def test_hand_scaled_replicas_are_not_fought_over(api_client, namespace, operator, swa):
    apps = client.AppsV1Api(api_client)
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body())
    eventually(lambda: apps.read_namespaced_deployment("shop", namespace), 30, "the Deployment")
    apps.patch_namespaced_deployment_scale("shop", namespace, {"spec": {"replicas": 5}})
    swa.patch_namespaced_custom_object(G, V, namespace, P, "shop", {"spec": {"image": "registry.example/shop:3"}})
    eventually(lambda: container(apps, namespace).image == "registry.example/shop:3", 30, "the new image")
    assert apps.read_namespaced_deployment("shop", namespace).spec.replicas == 5


def test_delete_removes_children(api_client, namespace, operator, swa):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body())
    eventually(lambda: core.read_namespaced_service("shop-pods", namespace), 30, "the children")
    swa.delete_namespaced_custom_object(G, V, namespace, P, "shop")
    eventually(lambda: not apps.list_namespaced_deployment(namespace).items, 60, "the Deployment to be collected")
    eventually(
        lambda: not [s for s in core.list_namespaced_service(namespace).items if s.metadata.name.startswith("shop")],
        60,
        "the Services to be collected",
    )


def test_ready_says_why_pods_are_pending_when_the_nodes_are_full(cluster, namespace, operator, swa):
    """The real scheduler leaves pods Pending on full kwok nodes; Ready repeats its message."""
    cpu = int(cluster.node_cpu) // 2 + 1  # over half a node: at most one such pod per node
    pods = cluster.nodes + 1  # so at least one of them stays Pending, whatever else runs
    off = {"mode": "off"}
    lb = {"provider": "service", "strategy": "round-robin"}
    resources = {"cpu": str(cpu), "memory": "128Mi"}
    body = app_body("full", resources=resources, replicas={"min": pods, "max": pods}, autoscaling=off, loadBalancer=lb)
    swa.create_namespaced_custom_object(G, V, namespace, P, body)
    pattern = re.compile(
        rf"^\d+/{pods} pods ready; (\d+) of {pods} pods Pending: 0/{cluster.nodes} nodes are available: "
        rf"(\d+ )?.*Insufficient cpu\.( \(and \d+ other reasons?\))?$"
    )
    seen: dict = {}

    def says_why() -> dict | None:
        seen["Ready"] = c = condition(swa, namespace, "full", "Ready") or {}
        return c if pattern.match(c.get("message", "")) else None

    try:
        ready = eventually(says_why, 60, "Ready=False saying why pods are Pending")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; Ready was {seen.get('Ready')}") from None
    assert (ready["status"], ready["reason"]) == ("False", "PodsUnschedulable")
    assert int(pattern.match(ready["message"]).group(1)) >= 1
    # one pod fits: the Pending pods go and so does the message (on the way, Ready may say "1/1 pods
    # ready; 2 surplus pods to remove (3 pods, 1 wanted)" while the Deployment's surplus pods go)
    swa.patch_namespaced_custom_object(G, V, namespace, P, "full", {"spec": {"replicas": {"min": 1, "max": 1}}})
    ready = eventually(
        lambda: (c := condition(swa, namespace, "full", "Ready")) and c["message"] == "1/1 pods ready" and c,
        60,
        "Ready=True with 1/1 pods ready",
    )
    assert (ready["status"], ready["reason"]) == ("True", "PodsReady")


def test_null_keeps_an_optional_default_off(namespace, crd_installed, swa):
    """cpuUtilization: null means "request rate alone"; the API server keeps the null."""
    body = app_body(autoscaling={"target": {"cpuUtilization": None}, "behavior": {"scaleUp": {"maxPods": None}}})
    created = swa.create_namespaced_custom_object(G, V, namespace, P, body)
    autoscaling = created["spec"]["autoscaling"]
    assert autoscaling["target"]["cpuUtilization"] is None
    assert autoscaling["target"]["requestsPerSecondPerWorker"] == 50  # defaults still apply around it
    assert autoscaling["behavior"]["scaleUp"]["maxPods"] is None
    assert swa.get_namespaced_custom_object(G, V, namespace, P, "shop")["spec"]["resources"]["cpu"] == "2"
