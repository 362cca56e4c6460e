"""The scaling loop's act step against a fake of the client interface: paused, recommend mode,
live resize from the pod cache, no write when nothing changed, deletion during a poll, memory."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from orchestration import NS, SETTINGS, World, swa
from webscale_local.owned import replica_set_of

from webscale.api.labels import WORKERS_ANNOTATION, labels
from webscale.api.observation import Observation
from webscale.autoscaling.act import Autoscaler, learned_startup, pods_to_resize, startup_seconds
from webscale.reconcile.reconciler import Reconciler

NOW = 1_800_000_000.0


WEB_RS, LB_RS = "rs-web-uid", "rs-lb-uid"
"""The uids of the ReplicaSets of the app's Deployment and of its HAProxy Deployment (`running`)."""


def running(world: World, ready: int = 2) -> None:
    """The app's children exist, each Deployment has its ReplicaSet, and `ready` pods are ready."""
    Reconciler(world.kube, world.view).reconcile(world.app())
    dep = world.kube.objects[("Deployment", NS, "shop")]
    dep["status"] = {"replicas": dep["spec"]["replicas"], "readyReplicas": ready}
    world.kube.add(dep)  # a new resourceVersion, as the API server gives a status update
    world.kube.add(replica_set_of(dep, WEB_RS))
    lb = world.kube.objects.get(("Deployment", NS, "shop-haproxy"))
    if lb is not None:
        world.kube.add(replica_set_of(lb, LB_RS, "77c4"))
    world.sync()


def pod(name: str, workers: str, owner: str = WEB_RS) -> dict:
    """A web pod of the app's ReplicaSet (`owner`: the uid of the ReplicaSet that controls it)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": labels("shop"),
            "annotations": {WORKERS_ANNOTATION: workers},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "shop-5d9f", "uid": owner, "controller": True}],
        },
    }


def busy(rps: float) -> Observation:
    return Observation(at=NOW, requests_per_second=rps, pods_reporting=2)


def act(world: World, scaler: Autoscaler, observation: Observation, now: float = NOW):
    decision = scaler.act(world.app(), observation, now)
    world.sync()
    return decision


@pytest.fixture()
def world() -> World:
    w = World(swa(autoscaling={"target": {"cpuUtilization": None}}))
    running(w)
    w.kube.writes.clear()
    return w


def test_load_above_target_scales_the_deployment_as_the_scaler(world):
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    decision = act(world, scaler, busy(400.0))  # 1 worker x 50 rps per pod: 8 pods
    assert decision is not None and decision.replicas == 8
    assert world.kube.find("Deployment", NS, "shop")["spec"]["replicas"] == 8
    assert ("apply", "Deployment", "shop") in world.kube.writes
    assert world.kube.find("ScaledWebApp", NS, "shop")["status"]["lastScale"]["to"] == 8
    assert world.kube.events[-1][:2] == ("Normal", "ScaledUp")


def test_steady_load_writes_nothing_the_second_time(world):
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    act(world, scaler, busy(100.0))
    world.kube.writes.clear()
    act(world, scaler, busy(102.0), NOW + 15)  # moved 2 %: under the 5 % quantum
    assert world.kube.writes == []


def test_a_metric_move_beyond_the_quantum_is_written(world):
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    act(world, scaler, busy(100.0))
    world.kube.writes.clear()
    act(world, scaler, busy(90.0), NOW + 15)
    assert world.kube.writes == [("status", "ScaledWebApp", "shop")]


def test_recommend_mode_writes_status_only(world):
    world.set_spec(autoscaling={"mode": "recommend", "target": {"cpuUtilization": None}})
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    decision = act(world, scaler, busy(400.0))
    assert decision is not None and decision.replicas == 8
    assert [w for w in world.kube.writes if w[1] != "ScaledWebApp"] == []
    assert world.kube.find("ScaledWebApp", NS, "shop")["status"]["desiredReplicas"] == 8
    assert world.kube.find("Deployment", NS, "shop")["spec"]["replicas"] == 2


def test_recommend_mode_still_gives_running_pods_the_workers_the_spec_asks_for(world):
    world.kube.add(pod("a", "1"))
    world.set_spec(
        workers={"mode": "fixed", "count": 6}, autoscaling={"mode": "recommend", "target": {"cpuUtilization": None}}
    )
    world.sync()
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    act(world, scaler, busy(400.0))
    assert [w for w in world.kube.writes if w[1] == "Pod"] == [("patch", "Pod", "a")]
    assert world.kube.find("Pod", NS, "a")["metadata"]["annotations"][WORKERS_ANNOTATION] == "6"
    assert world.kube.find("Deployment", NS, "shop")["spec"]["replicas"] == 2  # replicas: recommended only


def test_paused_apps_are_not_scaled(world):
    world.kube.objects[("ScaledWebApp", NS, "shop")]["metadata"]["annotations"]["webscale.dev/paused"] = "true"
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    assert act(world, scaler, busy(400.0)) is None
    assert world.kube.find("Deployment", NS, "shop")["spec"]["replicas"] == 2
    active = next(
        c for c in world.kube.find("ScaledWebApp", NS, "shop")["status"]["conditions"] if c["type"] == "ScalingActive"
    )
    assert active["status"] == "False" and active["reason"] == "Paused"


def test_live_resize_patches_only_pods_with_another_count(world):
    for p in (pod("a", "1"), pod("b", "3")):
        world.kube.add(p)
    world.sync()
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    act(world, scaler, busy(100.0))
    assert [w for w in world.kube.writes if w[1] == "Pod"] == [("patch", "Pod", "b")]


def test_pods_to_resize_skips_terminating_and_other_components():
    lb = pod("lb", "9")
    lb["metadata"]["labels"] = {**lb["metadata"]["labels"], "app.kubernetes.io/component": "loadbalancer"}
    gone = pod("gone", "9")
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    lookalike = pod("z", "9", owner="someone-elses-rs")  # labelled as the app's, made by another ReplicaSet
    pods = [lb, gone, lookalike, pod("x", "2"), pod("y", "9")]
    assert pods_to_resize(pods, World(swa()).app(), frozenset({WEB_RS}), 2) == ["y"]


def test_a_pod_labelled_as_the_apps_but_not_made_by_its_deployment_is_never_annotated(world):
    bare = pod("bare", "3")
    bare["metadata"]["ownerReferences"] = []
    world.kube.add(pod("theirs", "3", owner="their-rs-uid"))
    world.kube.add(bare)
    world.kube.add(pod("mine", "3"))
    world.sync()
    act(world, Autoscaler(world.kube, world.view, SETTINGS.status_quantum), busy(100.0))
    assert [w for w in world.kube.writes if w[1] == "Pod"] == [("patch", "Pod", "mine")]
    assert world.kube.find("Pod", NS, "theirs")["metadata"]["annotations"][WORKERS_ANNOTATION] == "3"


def test_an_app_deleted_during_a_poll_is_no_error(world):
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    app = world.app()
    del world.kube.objects[("ScaledWebApp", NS, "shop")]
    assert scaler.act(app, busy(100.0), NOW) is not None  # the status write's 404 is swallowed


def test_a_restart_starts_from_the_remembered_scale_and_never_scales_down_at_once(world):
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    act(world, scaler, busy(400.0))  # 2 -> 8, remembered in status.memory
    assert world.kube.find("ScaledWebApp", NS, "shop")["status"]["memory"]["lastGood"] == 8
    restarted = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    decision = act(world, restarted, busy(10.0), NOW + 30)  # load gone right after the restart
    assert decision is not None and decision.replicas == 8
    assert decision.reason == "ScaleDownStabilized"


def test_due_apps_follow_their_polling_grid(world):
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    app = world.app()
    assert scaler.due([app], NOW) == [app]
    scaler.mark_polled(app, NOW)
    assert scaler.due([app], NOW + 1) == []
    assert scaler.due([app], NOW + 15) == [app]


def test_a_changed_spec_is_polled_at_once_then_back_on_the_grid(world):
    """A new generation (e.g. a raised replicas.min) does not wait for the next grid point."""
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    app = world.app()
    scaler.mark_polled(app, NOW)
    changed = dataclasses.replace(app, generation=app.generation + 1)
    assert scaler.due([app], NOW + 1) == [] and scaler.due([changed], NOW + 1) == [changed]
    scaler.mark_polled(changed, NOW + 1)
    assert scaler.due([changed], NOW + 2) == []
    assert scaler.due([changed], NOW + 15) == [changed]  # the grid goes on


def test_startup_is_learned_from_the_app_s_recent_ready_pods():
    def timed(name: str, created: str, ready: str | None, app: str = "shop") -> dict:
        p = pod(name, "1")
        p["metadata"]["creationTimestamp"] = created
        p["metadata"]["labels"] = labels(app)
        conditions = [{"type": "Ready", "status": "True", "lastTransitionTime": ready}] if ready else []
        p["status"] = {"conditions": conditions}
        return p

    pods = [
        timed("a", "2026-01-01T00:00:00Z", "2026-01-01T00:00:20Z"),
        timed("b", "2026-01-01T00:01:00Z", "2026-01-01T00:01:40Z"),
        timed("c", "2026-01-01T00:02:00Z", "2026-01-01T00:02:30Z"),
        timed("not-ready", "2026-01-01T00:03:00Z", None),
        timed("other-app", "2026-01-01T00:03:00Z", "2026-01-01T00:09:00Z", app="else"),
    ]
    assert startup_seconds(pods, "shop") == 30.0
    assert startup_seconds(pods[3:], "shop") is None


def test_the_learned_startup_reads_only_the_pods_of_the_apps_own_replica_sets(world):
    running(world)
    mine = pod("mine", "1")
    mine["metadata"]["creationTimestamp"], became = "2026-01-01T00:00:00Z", "2026-01-01T00:00:20Z"
    mine["status"] = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": became}]}
    slow = {**mine, "metadata": {**mine["metadata"], "creationTimestamp": "2025-12-31T23:50:00Z"}}
    world.kube.add(mine)
    for name, owner in (("theirs", "their-rs-uid"), ("bare", None)):  # look-alikes ready after 10 min
        other = pod(name, "1", owner=owner or "")
        other["metadata"] = {**slow["metadata"], "name": name, "ownerReferences": other["metadata"]["ownerReferences"]}
        other["status"] = slow["status"]
        world.kube.add(other)
    world.sync()
    assert learned_startup(world.view, world.app()) == 20.0


def test_autoscaling_off_makes_no_statement_about_metrics(world):
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    act(world, scaler, Observation(at=NOW, error="Prometheus unreachable"))  # auto: metrics unavailable
    types = {c["type"]: c for c in world.kube.find("ScaledWebApp", NS, "shop")["status"]["conditions"]}
    assert types["MetricsAvailable"]["status"] == "False"
    world.set_spec(autoscaling={"mode": "off", "target": {"cpuUtilization": None}})
    world.kube.events.clear()
    act(world, scaler, Observation(at=NOW + 15, error="not measured (autoscaling off)"), NOW + 15)
    status = world.kube.find("ScaledWebApp", NS, "shop")["status"]
    assert "MetricsAvailable" not in {c["type"] for c in status["conditions"]}
    assert [e for e in world.kube.events if e[1].startswith("Metrics")] == []


def test_a_deployment_of_the_apps_name_that_the_app_does_not_control_is_never_scaled(world):
    dep = world.kube.objects[("Deployment", NS, "shop")]
    dep["metadata"]["ownerReferences"] = [{**dep["metadata"]["ownerReferences"][0], "uid": "another-apps-uid"}]
    world.kube.add(dep)  # e.g. another app named "shop-haproxy"'s load balancer would be named like this one
    world.sync()
    world.kube.writes.clear()
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    assert act(world, scaler, busy(400.0)) is None
    assert scaler.wake(world.app(), 5, NOW) is None and scaler.panic(world.app(), 400.0, NOW) is None
    assert [w for w in world.kube.writes if w[1] == "Deployment"] == []
    assert world.kube.find("Deployment", NS, "shop")["spec"]["replicas"] == 2


def test_a_failed_step_is_said_in_scaling_active_once_and_the_next_decision_replaces_it(world):
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    act(world, scaler, busy(100))
    writes = len(world.kube.writes)
    for at in (NOW + 15, NOW + 30):
        scaler.report_failure(world.app(), "OverflowError: cannot convert float infinity to integer", at)
        world.sync()
    active = world.condition("ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "ScalingStepFailed")
    assert active["message"].startswith("the scaling step failed: OverflowError: cannot convert")
    assert len(world.kube.writes) == writes + 1  # the same failure again: nothing new to write
    act(world, scaler, busy(100), NOW + 45)
    assert world.condition("ScalingActive")["reason"] != "ScalingStepFailed"


def test_a_change_of_the_apps_metrics_is_logged_once_with_its_event(world, caplog):
    caplog.set_level(logging.INFO, "webscale.autoscaling.act")
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    act(world, scaler, busy(100))
    for at in (NOW + 15, NOW + 30, NOW + 45):
        act(world, scaler, Observation(at=at, error="Prometheus unreachable"), at)
    act(world, scaler, busy(100), NOW + 60)
    said = [r.getMessage() for r in caplog.records]
    assert [m.split(": ")[1] for m in said] == ["MetricsUnavailable", "MetricsRecovered"], said
    assert said[0].startswith("default/shop: MetricsUnavailable: Prometheus unreachable")
