"""The fast wake-up loop (runtime.wake) against the fake client, with the HAProxy pods' counters given
by the test (tests/e2e/test_scale_to_zero_lb.py reads real ones): which apps are watched, the wake to
one pod, the cold start measured and told, and which pods are asked (runtime.held)."""

from __future__ import annotations

import asyncio

from orchestration import NS, SETTINGS, World, swa
from test_act import LB_RS, running
from webscale_local.owned import replica_set_of

from webscale.api.labels import lb_labels
from webscale.autoscaling.act import Autoscaler
from webscale.reconcile.hold import HELD_TOTAL, OLDEST, RELEASED_TOTAL, TIMED_OUT_TOTAL, WAITING
from webscale.reconcile.reconciler import Reconciler
from webscale.runtime import wake
from webscale.runtime.held import haproxy_pod_urls

ZERO = {
    "replicas": {"min": 0, "max": 5},
    "autoscaling": {"scaleToZero": {}},
    "loadBalancer": {"provider": "haproxy"},
}
URL = "http://10.1.2.3:8404/webscale/held"  # never contacted: the reader is the test's


def lb_pod(name: str = "shop-haproxy-77c4-1", ip: str = "10.1.2.3", owner: str = LB_RS, **meta) -> dict:
    """An HAProxy pod of the app (`owner`: the uid of the ReplicaSet that controls it)."""
    ref = {"kind": "ReplicaSet", "name": "shop-haproxy-77c4", "uid": owner, "controller": True}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": meta.get("namespace", NS),
            "labels": meta.get("labels", lb_labels("shop")),
            "ownerReferences": meta.get("owners", [ref]),
        },
        "status": {"phase": "Running", "podIP": ip},
    }


def counters(waiting: int, held: int, released: int, oldest: float = 0.0) -> dict[str, float]:
    return {WAITING: waiting, OLDEST: oldest, HELD_TOTAL: held, RELEASED_TOTAL: released, TIMED_OUT_TOTAL: 0}


class Pods:
    """What the HAProxy pods answer, round by round, and which URLs were asked."""

    def __init__(self) -> None:
        self.answer: dict[str, float] | None = counters(0, 0, 0)
        self.asked: list[list[str]] = []

    def __call__(self, urls):
        self.asked.append(list(urls))
        return {u: self.answer for u in urls}


def world_at_zero() -> World:
    world = World(swa(**ZERO))
    running(world, ready=0)
    world.kube.add(lb_pod())
    world.sync()
    return world


def replicas(world: World) -> int:
    return world.kube.objects[("Deployment", NS, "shop")]["spec"]["replicas"]


def test_a_held_request_wakes_the_app_and_its_cold_start_is_measured():
    world, pods = world_at_zero(), Pods()
    assert replicas(world) == 0  # min 0: created at zero
    waker = wake.Waker(
        Autoscaler(world.kube, world.view, SETTINGS.status_quantum), world.view, lambda: [world.app()], pods
    )
    before = wake.COLD_START.labels("served")._sum.get()
    waker.tick(100.0)
    assert pods.asked == [[URL]] and replicas(world) == 0 and not waker.tracks  # nothing waiting
    pods.answer = counters(waiting=3, held=3, released=0, oldest=0.3)
    waker.tick(100.5)
    world.sync()
    assert replicas(world) == 1 and ("Normal", "Waking") in [e[:2] for e in world.kube.events]
    assert waker.tracks[world.app().ref].held_at == 100.2
    dep = world.kube.objects[("Deployment", NS, "shop")]
    dep["status"] = {"replicas": 1, "readyReplicas": 1}
    world.kube.add(dep)
    world.sync()
    pods.answer = counters(waiting=0, held=3, released=3)
    waker.tick(102.2)
    assert not waker.tracks and pods.asked[-1] == [URL]
    cold = [e for e in world.kube.events if e[1] == "ColdStart"]
    assert cold and "2.0 s after it arrived" in cold[0][2] and "ready after 2.0 s" in cold[0][2]
    assert round(wake.COLD_START.labels("served")._sum.get() - before, 3) == 2.0
    pods.asked.clear()
    waker.tick(103.0)
    assert pods.asked == []  # warm now: its HAProxy pods are not asked any more


def test_warm_apps_and_apps_without_the_section_are_never_asked():
    world, pods = World(swa(replicas={"min": 1, "max": 5}, loadBalancer={"provider": "haproxy"})), Pods()
    running(world)
    world.kube.add(lb_pod())
    world.sync()
    wake.Waker(Autoscaler(world.kube, world.view), world.view, lambda: [world.app()], pods).tick(1.0)
    assert pods.asked == []


def test_only_the_apps_own_running_haproxy_pods_are_asked():
    world = world_at_zero()
    app = world.app()
    named_alike = {"kind": "ReplicaSet", "name": "shop-haproxy-77c4", "uid": "their-rs-uid", "controller": True}
    others = [
        lb_pod("x1", "10.0.0.9", namespace="other"),
        lb_pod("x2", "10.0.0.8", owner="evil-rs"),
        lb_pod("x3", "10.0.0.7", labels={"app.kubernetes.io/instance": "shop", "app.kubernetes.io/component": "web"}),
        {**lb_pod("x4", "10.0.0.6"), "status": {"phase": "Pending", "podIP": "10.0.0.6"}},
        lb_pod("x5", "fd00::5"),
        lb_pod("x6", "10.0.0.5", owners=[named_alike]),  # a ReplicaSet of theirs, named like the app's
        lb_pod("x7", "10.0.0.4", owners=[{**named_alike, "uid": LB_RS, "controller": False}]),  # not its controller
        lb_pod("x8", "10.0.0.3", owners=[]),  # a bare pod
    ]
    for pod in [lb_pod(), *others]:
        world.kube.add(pod)
    world.sync()
    urls = haproxy_pod_urls(world.view, app)
    assert urls == ["http://10.1.2.3:8404/webscale/held", "http://[fd00::5]:8404/webscale/held"]


def test_no_pod_is_asked_while_the_haproxy_deployment_is_not_the_apps_own():
    world = world_at_zero()
    lb = world.kube.objects[("Deployment", NS, "shop-haproxy")]
    lb["metadata"]["ownerReferences"] = [{**lb["metadata"]["ownerReferences"][0], "uid": "another-apps-uid"}]
    world.kube.add(lb)
    world.sync()
    assert haproxy_pod_urls(world.view, world.app()) == []


def test_a_pod_that_does_not_answer_counts_nothing():
    world, pods = world_at_zero(), Pods()
    pods.answer = None
    waker = wake.Waker(Autoscaler(world.kube, world.view), world.view, lambda: [world.app()], pods)
    waker.tick(1.0)
    assert replicas(world) == 0 and not waker.tracks


def test_the_pod_cache_keeps_address_and_owner_of_the_apps_haproxy_and_web_pods_only():
    from webscale.kube.store import trim_pod

    kept = trim_pod(lb_pod())
    ref = {"kind": "ReplicaSet", "name": "shop-haproxy-77c4", "uid": LB_RS, "controller": True}
    assert kept["status"]["podIP"] == "10.1.2.3" and kept["metadata"]["ownerReferences"] == [ref]
    web = trim_pod(lb_pod(labels={"app.kubernetes.io/instance": "shop", "app.kubernetes.io/component": "web"}))
    assert web["status"]["podIP"] == "10.1.2.3" and web["metadata"]["ownerReferences"] == [ref]
    other = trim_pod(lb_pod(labels={"app.kubernetes.io/instance": "shop", "app.kubernetes.io/component": "job"}))
    assert "podIP" not in other["status"] and "ownerReferences" not in other["metadata"]


class Ticks:
    """A Waker stand-in for the loop: counts its rounds (the loop calls tick in a worker thread)."""

    def __init__(self) -> None:
        self.nudged = asyncio.Event()
        self.rounds: list[float] = []

    def tick(self, now: float) -> None:
        self.rounds.append(now)


async def _rounds(ticks: Ticks, count: int) -> None:
    while len(ticks.rounds) < count:
        await asyncio.sleep(0.01)


async def test_a_nudge_starts_a_round_at_once_and_without_one_the_loop_waits_its_interval():
    ticks = Ticks()
    loop = asyncio.create_task(wake.wake_loop(ticks, 3600, lambda: True))  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(_rounds(ticks, 1), 30)
        await asyncio.sleep(wake.NUDGE_GAP_SECONDS * 3)
        assert len(ticks.rounds) == 1  # the next round is an hour away
        ticks.nudged.set()  # what Waker.nudge does when an HAProxy pod asks for a ready pod
        await asyncio.wait_for(_rounds(ticks, 2), 30)
    finally:
        loop.cancel()


async def test_a_replica_that_does_not_lead_never_reads_the_haproxy_pods_even_when_nudged():
    ticks = Ticks()
    loop = asyncio.create_task(wake.wake_loop(ticks, 0.05, lambda: False))  # type: ignore[arg-type]
    try:
        ticks.nudged.set()
        await asyncio.sleep(0.3)
        assert ticks.rounds == []
    finally:
        loop.cancel()


def test_the_pods_of_every_app_at_zero_are_read_in_one_batch():
    world, pods = world_at_zero(), Pods()
    other = swa("cart", **ZERO)
    world.kube.add(other)
    world.sync()
    Reconciler(world.kube, world.view).reconcile(world.app("cart"))
    lb = world.kube.objects[("Deployment", NS, "cart-haproxy")]
    world.kube.add(replica_set_of(lb, "cart-rs-uid", "9a1b"))
    cart_pod = lb_pod("cart-haproxy-9a1b-1", "10.1.2.9", owner="cart-rs-uid", labels=lb_labels("cart"))
    world.kube.add(cart_pod)
    world.sync()
    waker = wake.Waker(Autoscaler(world.kube, world.view), world.view, lambda: [world.app(), world.app("cart")], pods)
    waker.tick(1.0)
    # one call for both apps: a pod that is slow to answer costs the round its own timeout once, not once per app
    assert pods.asked == [[URL, "http://10.1.2.9:8404/webscale/held"]]


def test_an_app_at_zero_whose_spec_turned_invalid_is_still_woken_and_keeps_its_pod():
    world, pods = world_at_zero(), Pods()
    world.set_spec(**ZERO, metrics={"prometheus": {"url": "http://elsewhere:9090"}})  # not allowed: Invalid
    app = world.app()
    assert not app.valid
    waker = wake.Waker(Autoscaler(world.kube, world.view), world.view, lambda: [world.app()], pods)
    waker.tick(1.0)
    assert pods.asked == [[URL]] and replicas(world) == 0  # read, nothing waiting
    pods.answer = counters(waiting=2, held=2, released=0)
    waker.tick(1.5)
    world.sync()
    assert replicas(world) == 1
    waking = [e for e in world.kube.events if e[1] == "Waking"]
    assert waking and "the spec is Invalid" in waking[-1][2]
