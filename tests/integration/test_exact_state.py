"""Every spec change lands exactly, nothing foreign is touched, and the scale survives: on the real
control plane with the operator as in production."""

from __future__ import annotations

import pytest
from kubernetes import client
from waiting import eventually
from webscale_local.operator_process import OperatorProcess
from webscale_local.swa import G, P, V, app_body, condition, container, env_of, replace_spec

from webscale.kube.client import Kube
from webscale.settings import Settings

pytestmark = pytest.mark.integration


def replicas_owners(dep: client.V1Deployment) -> list[str]:
    return [m.manager for m in dep.metadata.managed_fields if "f:replicas" in (m.fields_v1 or {}).get("f:spec", {})]


def test_removed_limits_and_env_leave_the_deployment(api_client, namespace, operator, swa):
    apps = client.AppsV1Api(api_client)
    body = app_body(
        resources={"cpu": "500m", "memory": "64Mi", "limits": {"memory": "1Gi"}},
        env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
    )
    swa.create_namespaced_custom_object(G, V, namespace, P, body)
    eventually(lambda: container(apps, namespace).resources.limits == {"memory": "1Gi"}, 30, "the limit")
    spec = {**body["spec"], "resources": {"cpu": "500m", "memory": "64Mi"}, "env": [{"name": "A", "value": "1"}]}
    replace_spec(swa, namespace, "shop", spec)
    eventually(lambda: not container(apps, namespace).resources.limits, 30, "the limit to go")
    env = env_of(container(apps, namespace))
    assert env["A"] == "1" and "B" not in env
    generation = swa.get_namespaced_custom_object(G, V, namespace, P, "shop")["metadata"]["generation"]
    eventually(
        lambda: (condition(swa, namespace, "shop", "Invalid") or {}).get("observedGeneration") == generation,
        30,
        "status for the new generation",
    )


def test_a_foreign_service_is_never_adopted(api_client, namespace, operator, swa):
    core = client.CoreV1Api(api_client)
    theirs = client.V1Service(
        metadata=client.V1ObjectMeta(name="clash"),
        spec=client.V1ServiceSpec(selector={"app": "clash"}, ports=[client.V1ServicePort(port=80)]),
    )
    core.create_namespaced_service(namespace, theirs)
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body("clash", loadBalancer={"provider": "service"}))
    ready = eventually(
        lambda: (c := condition(swa, namespace, "clash", "Ready")) and c["reason"] == "NameConflict" and c,
        30,
        "Ready=False NameConflict",
    )
    assert ready["status"] == "False" and "Service/clash" in ready["message"]
    svc = core.read_namespaced_service("clash", namespace)
    assert svc.spec.selector == {"app": "clash"} and not svc.metadata.owner_references
    eventually(
        lambda: core.list_namespaced_event(namespace, field_selector="reason=NameConflict").items,
        30,
        "the NameConflict Event",
    )
    swa.delete_namespaced_custom_object(G, V, namespace, P, "clash")
    eventually(lambda: not swa.list_namespaced_custom_object(G, V, namespace, P)["items"], 30, "the app to go")
    assert core.read_namespaced_service("clash", namespace).spec.selector == {"app": "clash"}


def test_a_child_the_api_server_refuses_marks_the_app_invalid(api_client, namespace, operator, swa):
    bad_env = [{"name": "WHO", "valueFrom": {"fieldRef": {"fieldPath": "spec.nothing"}}}]
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body(env=bad_env))
    invalid = eventually(
        lambda: (c := condition(swa, namespace, "shop", "Invalid")) and c["status"] == "True" and c, 30, "Invalid=True"
    )
    assert invalid["reason"] == "RejectedByAPIServer" and "fieldPath" in invalid["message"], invalid
    events = eventually(
        lambda: (
            client.CoreV1Api(api_client)
            .list_namespaced_event(namespace, field_selector="reason=RejectedByAPIServer")
            .items
        ),
        30,
        "the Warning Event",
    )
    assert len(events) == 1 and events[0].type == "Warning"


def test_the_decided_scale_survives_a_deleted_deployment_and_a_restart(
    cluster, api_client, namespace, swa, crd_installed, dead_prometheus_url, tmp_path
):
    """With Prometheus unreachable the fallback decides 4 pods; a Deployment deleted by hand comes back
    at 4, also when the operator was down meanwhile (and metrics still are)."""
    apps = client.AppsV1Api(api_client)
    env = {"WEBSCALE_RESYNC_SECONDS": "2", "WEBSCALE_PROMETHEUS_URLS": dead_prometheus_url}
    op = OperatorProcess(cluster, tmp_path / "op.log", **env).start()
    try:
        autoscaling = {"pollingInterval": "5s", "fallback": {"afterFailures": 1, "action": "replicas", "replicas": 4}}
        body = app_body(
            resources={"cpu": "100m", "memory": "64Mi"},
            autoscaling=autoscaling,
            metrics={"prometheus": {"url": dead_prometheus_url}},
        )
        swa.create_namespaced_custom_object(G, V, namespace, P, body)
        eventually(lambda: apps.read_namespaced_deployment("shop", namespace).spec.replicas == 4, 30, "4 replicas")
        apps.delete_namespaced_deployment("shop", namespace)
        eventually(
            lambda: apps.read_namespaced_deployment("shop", namespace).spec.replicas == 4,
            30,
            "the Deployment back at 4",
        )
    finally:
        op.stop()
    apps.delete_namespaced_deployment("shop", namespace)
    names = lambda: {d.metadata.name for d in apps.list_namespaced_deployment(namespace).items}  # noqa: E731
    eventually(lambda: "shop" not in names(), 30, "the Deployment to go")
    op = OperatorProcess(cluster, tmp_path / "op2.log", **env).start()
    try:
        dep = eventually(lambda: apps.read_namespaced_deployment("shop", namespace), 30, "the Deployment re-created")
        assert dep.spec.replicas == 4
    finally:
        op.stop()


def test_the_replicas_hand_over_is_repaired(cluster, api_client, namespace, operator, swa):
    """A failure between a create's two applies leaves the operator's manager owning spec.replicas; the
    next template change would then drop the Deployment to 1 pod. The reconciler repairs it first."""
    apps = client.AppsV1Api(api_client)
    body = app_body(autoscaling={"mode": "off"}, replicas={"min": 1, "max": 5, "count": 3})
    swa.create_namespaced_custom_object(G, V, namespace, P, body)
    eventually(lambda: apps.read_namespaced_deployment("shop", namespace).spec.replicas == 3, 30, "3 replicas")
    # the state a failure between a create's two applies leaves: the operator's manager applied the whole
    # Deployment with replicas, and the scaler's manager does not own them (forced off it here)
    live = apps.api_client.sanitize_for_serialization(apps.read_namespaced_deployment("shop", namespace))
    meta = {k: live["metadata"][k] for k in ("name", "namespace", "labels", "annotations", "ownerReferences")}
    intent = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {**live["spec"], "replicas": 2}}
    applied = Kube(api_client, Settings()).apply(intent, manager="webscale")
    fields = applied["metadata"]["managedFields"]  # as the apply left it (a resync may repair it right after)
    assert [m["manager"] for m in fields if "f:replicas" in m.get("fieldsV1", {}).get("f:spec", {})] == ["webscale"]
    replace_spec(swa, namespace, "shop", {**body["spec"], "env": [{"name": "NEW", "value": "1"}]})
    eventually(lambda: "NEW" in env_of(container(apps, namespace)), 30, "the template change")
    dep = apps.read_namespaced_deployment("shop", namespace)
    assert dep.spec.replicas in (2, 3) and "webscale-scaler" in replicas_owners(dep), replicas_owners(dep)


def test_a_removed_service_account_leaves_the_pods(api_client, namespace, operator, swa):
    """spec.serviceAccountName removed: the pods run as the namespace's default account again, with no
    token. The API server keeps the deprecated serviceAccount alias of a field an apply drops
    (kubernetes#108208), so leaving the field out would keep the old account."""
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="robot"))
    )
    body = app_body(serviceAccountName="robot")
    swa.create_namespaced_custom_object(G, V, namespace, P, body)

    def pod_spec() -> client.V1PodSpec:
        return apps.read_namespaced_deployment("shop", namespace).spec.template.spec

    eventually(lambda: pod_spec().service_account_name == "robot", 30, "the account")
    assert pod_spec().automount_service_account_token is True
    replace_spec(swa, namespace, "shop", {k: v for k, v in body["spec"].items() if k != "serviceAccountName"})
    eventually(lambda: pod_spec().automount_service_account_token is False, 30, "no token")
    spec = pod_spec()
    assert spec.service_account_name in (None, "default") and spec.service_account in (None, "default")
