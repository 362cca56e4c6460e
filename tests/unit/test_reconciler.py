"""The reconciler against a fake of the client interface: exact desired state, foreign objects,
refusals, the replicas hand-over and the remembered scale. (The real API server: tests/integration.)"""

from __future__ import annotations

import copy
import logging

from orchestration import NS, World, swa

from webscale.api.labels import APPLIED_ANNOTATION
from webscale.reconcile.reconciler import Reconciler


def converge(world: World) -> list[str]:
    changed = Reconciler(world.kube, world.view).reconcile(world.app())
    world.sync()
    return changed


def container(world: World) -> dict:
    return world.kube.find("Deployment", NS, "shop")["spec"]["template"]["spec"]["containers"][0]


def test_create_applies_every_child_with_its_intent_hash_and_hands_replicas_to_the_scaler():
    world = World()
    changed = converge(world)
    assert sorted(changed) == ["Deployment/shop", "Service/shop", "Service/shop-pods"]
    for kind, name in (("Deployment", "shop"), ("Service", "shop"), ("Service", "shop-pods")):
        assert APPLIED_ANNOTATION in world.kube.find(kind, NS, name)["metadata"]["annotations"]
    dep = world.kube.find("Deployment", NS, "shop")
    assert dep["spec"]["replicas"] == 2  # replicas.min
    # shared with the creating apply until the operator's next apply (which leaves replicas out)
    assert "webscale-scaler" in [e["manager"] for e in dep["metadata"]["managedFields"]]
    assert world.condition("Invalid")["status"] == "False"


def test_an_app_already_right_costs_no_request():
    world = World()
    converge(world)
    world.kube.writes.clear()
    world.kube.reads.clear()
    assert converge(world) == []
    assert world.kube.writes == [] and world.kube.reads == []


def test_a_removed_field_is_removed_from_the_child():
    world = World()
    world.set_spec(
        resources={"cpu": "1", "memory": "256Mi", "limits": {"memory": "1Gi"}},
        env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
    )
    converge(world)
    assert container(world)["resources"]["limits"] == {"memory": "1Gi"}
    world.set_spec(env=[{"name": "A", "value": "1"}])
    assert converge(world) == ["Deployment/shop"]
    assert "limits" not in container(world)["resources"]
    assert [e["name"] for e in container(world)["env"] if e["name"] in "AB"] == ["A"]


def test_session_affinity_is_cleared_when_ip_hash_goes():
    world = World()
    world.set_spec(loadBalancer={"provider": "service", "strategy": "ip-hash"})
    converge(world)
    assert world.kube.find("Service", NS, "shop")["spec"]["sessionAffinity"] == "ClientIP"
    world.set_spec(loadBalancer={"provider": "service", "strategy": "round-robin"})
    converge(world)
    assert world.kube.find("Service", NS, "shop")["spec"].get("sessionAffinity", "None") == "None"


def test_a_hand_edit_of_an_owned_field_is_undone():
    world = World()
    converge(world)
    dep = world.kube.objects[("Deployment", NS, "shop")]
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:1"
    world.kube.add(dep)
    world.sync()
    assert converge(world) == ["Deployment/shop"]
    assert container(world)["image"] == "registry.example/shop:1"


def test_a_foreign_object_is_never_adopted():
    world = World()
    world.kube.add(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "shop", "namespace": NS},
            "spec": {"selector": {"app": "clash"}},
        }
    )
    changed = converge(world)
    assert "Service/shop" not in changed
    foreign = world.kube.find("Service", NS, "shop")
    assert foreign["spec"] == {"selector": {"app": "clash"}} and "ownerReferences" not in foreign["metadata"]
    ready = world.condition("Ready")
    assert ready["status"] == "False" and ready["reason"] == "NameConflict" and "Service/shop" in ready["message"]
    assert [e[:2] for e in world.kube.events] == [("Warning", "NameConflict")]
    converge(world)
    assert len(world.kube.events) == 1  # said once


def test_a_refusal_by_the_api_server_marks_the_app_invalid_once(caplog):
    caplog.set_level(logging.INFO, "webscale.reconcile.reconciler")
    world = World()
    world.kube.refuse[("Deployment", "shop")] = (422, 'Deployment.apps "shop" is invalid: spec.template: bad')
    converge(world)
    invalid = world.condition("Invalid")
    assert invalid["status"] == "True" and invalid["reason"] == "RejectedByAPIServer"
    assert "spec.template: bad" in invalid["message"]
    converge(world)
    assert [e[1] for e in world.kube.events] == ["RejectedByAPIServer"]
    del world.kube.refuse[("Deployment", "shop")]
    converge(world)
    assert world.condition("Invalid")["status"] == "False"
    converge(world)
    # what was written, once each, after it was written; a refused write is said once, as Invalid
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said
    assert said[0].startswith("default/shop is invalid: Deployment/shop: ")
    assert said[1].startswith(
        "default/shop: no longer Invalid (was RejectedByAPIServer); created Deployment/shop with 2 replica(s); created "
    )


def test_after_a_refused_child_nothing_that_needs_it_is_changed():
    world = World(swa(loadBalancer={"provider": "service"}))
    converge(world)
    entry = copy.deepcopy(world.kube.find("Service", NS, "shop")["spec"])
    world.kube.refuse[("ConfigMap", "shop-haproxy")] = (403, 'configmaps "shop-haproxy" is forbidden: exceeded quota')
    world.set_spec(loadBalancer={"provider": "haproxy"})
    converge(world)
    invalid = world.condition("Invalid")
    assert invalid["status"] == "True" and "exceeded quota" in invalid["message"]
    # no HAProxy pods that could not start without their ConfigMap, and the entry Service still on the app
    assert world.kube.find("Deployment", NS, "shop-haproxy") is None
    assert world.kube.find("Service", NS, "shop")["spec"] == entry
    del world.kube.refuse[("ConfigMap", "shop-haproxy")]
    converge(world)
    assert world.kube.find("Deployment", NS, "shop-haproxy") is not None
    assert world.kube.find("Service", NS, "shop")["spec"]["selector"] != entry["selector"]


def test_the_replicas_hand_over_is_repaired_when_the_operator_owns_them():
    world = World()
    converge(world)
    dep = world.kube.objects[("Deployment", NS, "shop")]
    dep["spec"]["replicas"] = 5
    dep["metadata"]["managedFields"] = [{"manager": "webscale", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]
    world.kube.add(dep)
    world.sync()
    world.set_spec(env=[{"name": "A", "value": "1"}])  # a template change: an apply without replicas
    converge(world)
    dep = world.kube.find("Deployment", NS, "shop")
    assert dep["spec"]["replicas"] == 5
    assert "webscale-scaler" in [e["manager"] for e in dep["metadata"]["managedFields"]]


def test_a_deleted_deployment_comes_back_at_the_decided_scale():
    world = World()
    converge(world)
    world.kube.objects[("ScaledWebApp", NS, "shop")]["status"]["desiredReplicas"] = 7
    del world.kube.objects[("Deployment", NS, "shop")]
    world.sync()
    converge(world)
    assert world.kube.find("Deployment", NS, "shop")["spec"]["replicas"] == 7


def test_children_the_spec_no_longer_asks_for_are_pruned_and_foreign_ones_kept():
    world = World()
    converge(world)
    owner = world.kube.find("Deployment", NS, "shop")["metadata"]["ownerReferences"]
    labels = {"app.kubernetes.io/instance": "shop", "app.kubernetes.io/managed-by": "webscale"}
    world.kube.add(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shop-old", "namespace": NS, "labels": labels, "ownerReferences": owner},
        }
    )
    world.kube.add(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shop-theirs", "namespace": NS, "labels": labels},
        }
    )
    world.sync()
    assert converge(world) == ["-ConfigMap/shop-old"]
    assert world.kube.find("ConfigMap", NS, "shop-old") is None
    assert world.kube.find("ConfigMap", NS, "shop-theirs") is not None


def test_an_invalid_spec_touches_no_child():
    world = World(swa(env=[{"name": "PORT", "value": "1"}]))
    converge(world)
    assert [w for w in world.kube.writes if w[0] != "status"] == []
    assert world.condition("Invalid")["status"] == "True"


def test_the_cluster_domain_setting_names_the_pods_haproxy_finds():
    from webscale.settings import Settings

    world = World(swa(loadBalancer={"provider": "haproxy"}))
    world.kube.settings = Settings(prometheus_urls="http://prometheus.monitoring:9090", cluster_domain="corp.internal")
    converge(world)
    cfg = world.kube.find("ConfigMap", NS, "shop-haproxy")["data"]["haproxy.cfg"]
    assert "_http._tcp.shop-pods.default.svc.corp.internal" in cfg and "cluster.local" not in cfg


def test_a_removed_service_account_is_replaced_by_the_default_one_and_never_named_otherwise():
    world = World()
    converge(world)
    pod = world.kube.find("Deployment", NS, "shop")["spec"]["template"]["spec"]
    assert "serviceAccountName" not in pod and pod["automountServiceAccountToken"] is False  # never had one
    world.set_spec(serviceAccountName="robot")
    converge(world)
    pod = world.kube.find("Deployment", NS, "shop")["spec"]["template"]["spec"]
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("robot", True)
    live = world.kube.objects[("Deployment", NS, "shop")]
    live["spec"]["template"]["spec"]["serviceAccount"] = "robot"  # the alias the API server adds
    world.kube.add(live)
    world.sync()
    world.set_spec()
    converge(world)
    pod = world.kube.find("Deployment", NS, "shop")["spec"]["template"]["spec"]
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("default", False)
    writes = len(world.kube.writes)
    converge(world)
    assert len(world.kube.writes) == writes  # stable: "default" stays named, nothing rewritten
