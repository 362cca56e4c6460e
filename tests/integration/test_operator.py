"""Step 2: the operator reconciles ScaledWebApps on a real control plane."""

from __future__ import annotations

import pytest
from kubernetes import client
from waiting import eventually

pytestmark = pytest.mark.integration

G, V, P = "webscale.dev", "v1alpha1", "scaledwebapps"


def app_body(name: str = "shop", **spec: object) -> dict:
    base = {"image": "registry.example/shop:1", "resources": {"cpu": "2", "memory": "256Mi"}}
    return {"apiVersion": f"{G}/{V}", "kind": "ScaledWebApp", "metadata": {"name": name}, "spec": {**base, **spec}}


def container(apps: client.AppsV1Api, ns: str, name: str = "shop") -> client.V1Container:
    return apps.read_namespaced_deployment(name, ns).spec.template.spec.containers[0]


def env_of(c: client.V1Container) -> dict[str, str | None]:
    return {e.name: e.value for e in c.env}


def condition(swa, ns: str, name: str, type_: str) -> dict | None:
    obj = swa.get_namespaced_custom_object(G, V, ns, P, name)
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), None)


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
    ready = eventually(lambda: (condition(swa, namespace, "shop", "Ready") or {}).get("status") == "True", 60, "Ready")
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


def test_null_keeps_an_optional_default_off(namespace, crd_installed, swa):
    """cpuUtilization: null means "request rate alone"; the API server keeps the null."""
    body = app_body(autoscaling={"target": {"cpuUtilization": None}, "behavior": {"scaleUp": {"maxPods": None}}})
    created = swa.create_namespaced_custom_object(G, V, namespace, P, body)
    autoscaling = created["spec"]["autoscaling"]
    assert autoscaling["target"]["cpuUtilization"] is None
    assert autoscaling["target"]["requestsPerSecondPerWorker"] == 50  # defaults still apply around it
    assert autoscaling["behavior"]["scaleUp"]["maxPods"] is None
    assert swa.get_namespaced_custom_object(G, V, namespace, P, "shop")["spec"]["resources"]["cpu"] == "2"
