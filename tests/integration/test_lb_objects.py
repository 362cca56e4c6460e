"""The load-balancer tier's objects on a real control plane, made by the real operator: created, rolled on a
strategy change, left alone when the app scales, pruned on a provider switch and with the app; the service
provider's sessionAffinity set and cleared. (The traffic itself is tests/e2e/test_lb_haproxy.py.)"""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from waiting import eventually
from webscale_local.swa import G, P, V, app_body, condition

from webscale.api.labels import CONFIG_CHECKSUM_ANNOTATION

pytestmark = pytest.mark.integration

LB = "shop-haproxy"


def patch(swa, namespace: str, spec: dict) -> None:
    swa.patch_namespaced_custom_object(G, V, namespace, P, "shop", {"spec": spec})


def gone(read) -> bool:
    try:
        read()
    except ApiException as exc:
        return exc.status == 404
    return False


def checksum(apps: client.AppsV1Api, namespace: str) -> str:
    return apps.read_namespaced_deployment(LB, namespace).spec.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION]


def test_haproxy_tier_created_rolled_on_strategy_change_and_left_alone_on_scaling(api_client, namespace, operator, swa):
    apps, core, policy = client.AppsV1Api(api_client), client.CoreV1Api(api_client), client.PolicyV1Api(api_client)
    created = swa.create_namespaced_custom_object(G, V, namespace, P, app_body(autoscaling={"mode": "off"}))
    uid = created["metadata"]["uid"]
    cfg = eventually(lambda: core.read_namespaced_config_map(LB, namespace), 30, "the haproxy.cfg ConfigMap")
    lb = eventually(lambda: apps.read_namespaced_deployment(LB, namespace), 30, "the HAProxy Deployment")
    pdb = eventually(lambda: policy.read_namespaced_pod_disruption_budget(LB, namespace), 30, "the PDB")
    entry = eventually(lambda: core.read_namespaced_service("shop", namespace), 30, "the entry Service")
    for obj in (cfg, lb, pdb, entry):
        (ref,) = obj.metadata.owner_references
        assert (ref.kind, ref.name, ref.uid, ref.controller) == ("ScaledWebApp", "shop", uid, True)
    assert "balance roundrobin" in cfg.data["haproxy.cfg"]
    assert f"server-template pod 1-20 _http._tcp.shop-pods.{namespace}.svc.cluster.local" in cfg.data["haproxy.cfg"]
    assert lb.spec.replicas == 2 and pdb.spec.min_available == 1
    assert entry.spec.selector == lb.spec.selector.match_labels, "the entry Service points at HAProxy"
    assert entry.spec.session_affinity == "None"
    app_dep = apps.read_namespaced_deployment("shop", namespace)
    assert app_dep.spec.replicas == 2, "the app's Deployment is sized by the scaler, not like HAProxy's"
    # True from the first ready HAProxy pod (HAProxyDegraded), HAProxyReady once both are
    eventually(
        lambda: (condition(swa, namespace, "shop", "LoadBalancerReady") or {}).get("reason") == "HAProxyReady",
        60,
        "LoadBalancerReady=True, HAProxyReady (kwok makes the HAProxy pods ready)",
    )
    assert condition(swa, namespace, "shop", "LoadBalancerReady")["status"] == "True"
    # HAProxy faces the clients: the API server's ServiceAccount admission mounted no token in its pods
    selector = ",".join(f"{k}={v}" for k, v in lb.spec.selector.match_labels.items())
    haproxy_pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    assert len(haproxy_pods) == 2
    for pod in haproxy_pods:
        assert pod.spec.automount_service_account_token is False
        assert not [v for v in pod.spec.volumes or [] if v.projected], [v.name for v in pod.spec.volumes]
    status = swa.get_namespaced_custom_object(G, V, namespace, P, "shop")["status"]["loadBalancer"]
    assert status["address"] == entry.spec.cluster_ip and status["readyReplicas"] == 2

    # The app scales: nothing of the HAProxy tier changes.
    before = (cfg.metadata.resource_version, apps.read_namespaced_deployment(LB, namespace).metadata.generation)
    patch(swa, namespace, {"replicas": {"count": 5}})
    eventually(lambda: apps.read_namespaced_deployment("shop", namespace).spec.replicas == 5, 30, "5 app pods")
    after = (
        core.read_namespaced_config_map(LB, namespace).metadata.resource_version,
        apps.read_namespaced_deployment(LB, namespace).metadata.generation,
    )
    assert after == before, "scaling the app must not touch haproxy.cfg or roll HAProxy"

    # A strategy change: a new config, and the checksum rolls the HAProxy pods.
    old_sum = checksum(apps, namespace)
    app_template = apps.read_namespaced_deployment("shop", namespace).spec.template.metadata.annotations
    patch(swa, namespace, {"loadBalancer": {"strategy": "least-connections"}})
    eventually(lambda: checksum(apps, namespace) != old_sum, 30, "the HAProxy pod template to roll")
    assert "balance leastconn" in core.read_namespaced_config_map(LB, namespace).data["haproxy.cfg"]
    assert apps.read_namespaced_deployment("shop", namespace).spec.template.metadata.annotations == app_template

    # One HAProxy pod: no PodDisruptionBudget.
    patch(swa, namespace, {"loadBalancer": {"replicas": 1}})
    eventually(lambda: gone(lambda: policy.read_namespaced_pod_disruption_budget(LB, namespace)), 30, "the PDB to go")
    assert apps.read_namespaced_deployment(LB, namespace).spec.replicas == 1


def test_provider_switch_removes_the_other_providers_objects(api_client, namespace, operator, swa):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body())
    eventually(lambda: apps.read_namespaced_deployment(LB, namespace), 30, "the HAProxy Deployment")

    patch(swa, namespace, {"loadBalancer": {"provider": "service"}})
    eventually(lambda: gone(lambda: apps.read_namespaced_deployment(LB, namespace)), 30, "HAProxy to be pruned")
    eventually(lambda: gone(lambda: core.read_namespaced_config_map(LB, namespace)), 30, "haproxy.cfg to be pruned")
    app_pods = apps.read_namespaced_deployment("shop", namespace).spec.selector.match_labels
    eventually(
        lambda: core.read_namespaced_service("shop", namespace).spec.selector == app_pods,
        30,
        "the entry Service to point at the app's pods",
    )

    patch(swa, namespace, {"loadBalancer": {"provider": "haproxy"}})
    lb = eventually(lambda: apps.read_namespaced_deployment(LB, namespace), 30, "HAProxy back")
    eventually(
        lambda: core.read_namespaced_service("shop", namespace).spec.selector == lb.spec.selector.match_labels,
        30,
        "the entry Service to point at HAProxy again",
    )


def test_service_provider_sets_and_clears_session_affinity(api_client, namespace, operator, swa):
    core = client.CoreV1Api(api_client)
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body(loadBalancer={"provider": "service"}))
    eventually(lambda: core.read_namespaced_service("shop", namespace), 30, "the entry Service")
    assert core.read_namespaced_service("shop", namespace).spec.session_affinity == "None"

    patch(swa, namespace, {"loadBalancer": {"strategy": "ip-hash"}})
    eventually(
        lambda: core.read_namespaced_service("shop", namespace).spec.session_affinity == "ClientIP", 30, "ClientIP"
    )
    patch(swa, namespace, {"loadBalancer": {"strategy": "round-robin"}})
    eventually(
        lambda: core.read_namespaced_service("shop", namespace).spec.session_affinity == "None",
        30,
        "sessionAffinity cleared when ip-hash goes",
    )


def test_service_type_and_annotations_pass_through(api_client, namespace, operator, swa):
    core = client.CoreV1Api(api_client)
    service = {"type": "NodePort", "annotations": {"example.com/lb-scheme": "internal"}}
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body(loadBalancer={"service": service}))
    svc = eventually(lambda: core.read_namespaced_service("shop", namespace), 30, "the entry Service")
    assert svc.spec.type == "NodePort" and svc.metadata.annotations["example.com/lb-scheme"] == "internal"


def test_bad_annotation_key_is_refused_at_admission(namespace, crd_installed, swa):
    body = app_body(loadBalancer={"service": {"annotations": {"bad key\nbackend x": "v"}}})
    with pytest.raises(ApiException) as err:
        swa.create_namespaced_custom_object(G, V, namespace, P, body)
    assert err.value.status == 422 and "loadBalancer.service.annotations" in err.value.body


def test_deleting_the_app_removes_the_haproxy_tier(api_client, namespace, operator, swa):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body())
    eventually(lambda: apps.read_namespaced_deployment(LB, namespace), 30, "the HAProxy Deployment")
    swa.delete_namespaced_custom_object(G, V, namespace, P, "shop")
    eventually(lambda: gone(lambda: apps.read_namespaced_deployment(LB, namespace)), 60, "HAProxy to go with the app")
    eventually(lambda: gone(lambda: core.read_namespaced_config_map(LB, namespace)), 60, "haproxy.cfg to go")
