"""The act step with scale to zero, against the fake client: an idle app goes to zero with a
ScaledToZero Event, the fast path wakes it with a Waking Event and status, and a warm app is sized by
`decide` with a floor of one pod."""

from __future__ import annotations

from orchestration import NS, SETTINGS, World, swa
from test_act import NOW, act, running

from webscale.api.observation import Observation
from webscale.autoscaling.act import Autoscaler

SPEC = {
    "replicas": {"min": 0, "max": 5, "count": 2},
    "autoscaling": {"scaleToZero": {"idleAfter": "5m"}, "target": {"cpuUtilization": None}},
    "loadBalancer": {"provider": "haproxy"},
}


def idle(now: float) -> Observation:
    return Observation(at=now, requests_per_second=0.0, pods_reporting=2)


def replicas(world: World) -> int:
    return world.kube.objects[("Deployment", NS, "shop")]["spec"]["replicas"]


def test_idle_app_goes_to_zero_and_a_held_request_wakes_it():
    world = World(swa(**SPEC))
    running(world)
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    first = act(world, scaler, idle(NOW))
    assert first is not None and first.replicas >= 1  # idle, but decide keeps a warm app at >= 1 pod
    before = act(world, scaler, idle(NOW + 299), NOW + 299)
    assert before is not None and before.replicas >= 1 and before.reason != "ScaledToZero"  # 299 s < idleAfter
    gone = act(world, scaler, idle(NOW + 300), NOW + 300)
    assert gone is not None and (gone.replicas, gone.reason) == (0, "ScaledToZero") and replicas(world) == 0
    message = f"no request for 5 min (idleAfter 5 min); scaling {before.replicas} -> 0"
    assert ("Normal", "ScaledToZero", message) in world.kube.events
    stay = act(world, scaler, Observation.failed(NOW + 315, "no series"), NOW + 315)  # no pods, no reading: stays
    assert stay is not None and stay.replicas == 0 and replicas(world) == 0

    woken = scaler.wake(world.app(), waiting=4, now=NOW + 320)
    world.sync()
    assert woken is not None and replicas(world) == 1
    assert ("Normal", "Waking", "4 requests waiting at the load balancer; scaling 0 -> 1 to serve them") in (
        world.kube.events
    )
    status = world.kube.find("ScaledWebApp", NS, "shop")["status"]
    assert status["lastScale"]["reason"] == "Waking" and status["desiredReplicas"] == 1
    # the next poll sees the held requests: the app stays up (decide sizes it from here)
    after = act(world, scaler, idle(NOW + 330), NOW + 330)
    assert after is not None and after.replicas >= 1


def test_the_fast_path_does_nothing_for_a_warm_app_or_an_app_without_the_section():
    world = World(swa(**SPEC))
    running(world)
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    world.kube.writes.clear()
    assert scaler.wake(world.app(), waiting=3, now=NOW) is None and world.kube.writes == []
    plain = World(swa(replicas={"min": 1, "max": 5}))
    running(plain)
    plain.kube.writes.clear()
    assert Autoscaler(plain.kube, plain.view).wake(plain.app(), waiting=3, now=NOW) is None
    assert plain.kube.writes == []


def test_an_app_at_zero_is_ready_and_says_why():
    from webscale.reconcile.reconciler import Reconciler

    world = World(swa(**{**SPEC, "replicas": {"min": 0, "max": 5}}))
    Reconciler(world.kube, world.view).reconcile(world.app())  # created at min: 0 pods
    world.sync()
    assert replicas(world) == 0
    ready = world.condition("Ready")
    assert (ready["status"], ready["reason"]) == ("True", "ScaledToZero")
    plain = World(swa(replicas={"min": 1, "max": 5}))
    Reconciler(plain.kube, plain.view).reconcile(plain.app())
    plain.sync()
    assert plain.condition("Ready")["status"] == "False"  # its one pod is not ready yet
