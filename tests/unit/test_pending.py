"""Why an app's pods are Pending: the scheduler's words in Ready and LoadBalancerReady, from the pod cache,
and the watch events that bring them there."""

from __future__ import annotations

from orchestration import NS, World
from webscale_local.owned import owned_by, replica_set_of

from webscale.api.app import App
from webscale.api.ref import AppRef
from webscale.kube.store import Change, trim_pod
from webscale.reconcile.pending import pending_summary, unscheduled
from webscale.reconcile.reconciler import Reconciler
from webscale.reconcile.status import ready_status
from webscale.runtime.changes import route

NOW = "2026-12-03T14:00:00Z"
CPU = "0/2 nodes are available: 2 Insufficient cpu."
PREEMPTION = " preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
WEB = {"app.kubernetes.io/instance": "shop", "app.kubernetes.io/component": "web"}
LB = {"app.kubernetes.io/instance": "shop", "app.kubernetes.io/component": "loadbalancer"}


def pod(name: str, labels: dict = WEB, message: str | None = None, phase: str = "Pending", **meta: str) -> dict:
    """A pod as the API server has it (trimmed as the cache holds it by the callers that need it)."""
    conditions = []
    if message is not None:
        conditions.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message})
    elif phase != "Pending":
        conditions.append({"type": "PodScheduled", "status": "True"})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": labels, "resourceVersion": "1", **meta},
        "status": {"phase": phase, "conditions": conditions},
    }


def deployment(wanted: int, ready: int) -> dict:
    return {"spec": {"replicas": wanted}, "status": {"replicas": wanted, "readyReplicas": ready}}


def test_the_scheduler_message_says_why_without_the_preemption_clause():
    assert unscheduled(pod("a", message=CPU + PREEMPTION)) == CPU
    # kube-scheduler 1.34's words, dynamic resource allocation included
    claims = " no new claims to deallocate, preemption: 0/3 nodes are available: 3 No preemption victims found."
    assert unscheduled(pod("a", message=CPU + claims)) == CPU
    taint = "0/1 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."
    assert unscheduled(pod("a", message=taint)) == taint
    assert unscheduled(pod("a")) is None  # not tried yet
    assert unscheduled(pod("a", phase="Running")) is None
    assert unscheduled(None) is None


def test_the_summary_counts_the_apps_pending_pods_among_its_live_ones():
    pods = [
        pod("a", phase="Running"),
        pod("b", phase="Running"),
        pod("c", message=CPU + PREEMPTION),
        pod("d", message=CPU, deletionTimestamp=NOW),  # terminating: not counted at all
        pod("lb", labels=LB, message=CPU),  # another component
    ]
    assert pending_summary(pods, WEB) == f"1 of 3 pods Pending: {CPU}"
    assert pending_summary(pods, LB, "HAProxy pods") == f"1 of 1 HAProxy pods Pending: {CPU}"
    assert pending_summary(pods[:2], WEB) is None


def test_pods_left_for_different_reasons_name_the_commonest():
    memory = "0/2 nodes are available: 2 Insufficient memory."
    taint = "0/2 nodes are available: 2 node(s) had untolerated taint."
    pods = [pod("a", message=CPU), pod("b", message=memory), pod("c", message=CPU), pod("d", message=taint)]
    assert pending_summary(pods, WEB) == f"4 of 4 pods Pending: {CPU} (and 2 other reasons)"
    assert pending_summary(pods[:2], WEB) == f"2 of 2 pods Pending: {CPU} (and 1 other reason)"


def test_ready_says_why_pods_are_pending_and_so_does_load_balancer_ready():
    app = App.from_body({"metadata": {"name": "shop", "namespace": NS, "generation": 1}, "spec": {"image": "x"}})
    pods = [trim_pod(p) for p in (pod("a", phase="Running"), pod("b", message=CPU), pod("lb", LB, CPU))]
    haproxy = {"status": {"replicas": 2, "readyReplicas": 1}}
    service = {"spec": {"type": "ClusterIP", "clusterIP": "10.96.0.7"}}
    status = ready_status(app, deployment(2, 1), NOW, service=service, haproxy=haproxy, pods=pods)
    ready, lb = (next(c for c in status["conditions"] if c["type"] == t) for t in ("Ready", "LoadBalancerReady"))
    assert (ready["status"], ready["reason"]) == ("False", "PodsUnschedulable")
    assert ready["message"] == f"1/2 pods ready; 1 of 2 pods Pending: {CPU}"
    assert lb["message"] == f"round-robin: 1/2 HAProxy pods ready at 10.96.0.7; 1 of 1 HAProxy pods Pending: {CPU}"
    # pods not yet placed but not refused either: only the count
    starting = ready_status(app, deployment(2, 1), NOW, pods=[trim_pod(pod("a", phase="Running")), trim_pod(pod("b"))])
    ready = next(c for c in starting["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == ("PodsNotReady", "1/2 pods ready")


def test_the_reconciler_reads_pending_pods_from_the_cache_and_writes_once():
    world = World()
    Reconciler(world.kube, world.view).reconcile(world.app())
    world.sync()
    web = replica_set_of(world.kube.objects[("Deployment", NS, "shop")], "rs-web-uid")
    world.kube.add(web)
    world.kube.add(owned_by(pod("shop-1", message=CPU + PREEMPTION), web))
    # labelled as the app's pods, but no ReplicaSet of the app's Deployments made them: not the app's
    memory = "0/2 nodes are available: 2 Insufficient memory."
    world.kube.add(pod("look-alike", message=memory))
    world.kube.add(owned_by(pod("look-alike-lb", LB, memory), {**web, "metadata": {**web["metadata"], "uid": "x"}}))
    world.sync()
    world.kube.writes.clear()
    world.kube.reads.clear()
    Reconciler(world.kube, world.view).reconcile(world.app())
    world.sync()
    assert world.kube.reads == []  # the pods come from the cache
    assert world.condition("Ready")["message"] == f"0/2 pods ready; 1 of 1 pods Pending: {CPU}"
    assert "Pending" not in world.condition("LoadBalancerReady")["message"]
    writes = len(world.kube.writes)
    Reconciler(world.kube, world.view).reconcile(world.app())
    assert len(world.kube.writes) == writes  # nothing new: nothing written


def test_a_pod_the_scheduler_refuses_or_then_places_reconciles_its_app():
    kinds = ("ScaledWebApp", ("Deployment",))
    new, refused = trim_pod(pod("a")), trim_pod(pod("a", message=CPU))
    placed = trim_pod(pod("a", phase="Running"))
    shop = ("reconcile", AppRef(NS, "shop"))
    assert route("Pod", Change("ADDED", None, new), *kinds) is None  # an ordinary pod: no work
    assert route("Pod", Change("MODIFIED", new, placed), *kinds) is None
    assert route("Pod", Change("MODIFIED", new, refused), *kinds) == shop
    assert route("Pod", Change("MODIFIED", refused, refused), *kinds) is None
    assert route("Pod", Change("MODIFIED", refused, placed), *kinds) == shop
    assert route("Pod", Change("DELETED", refused, None), *kinds) == shop
