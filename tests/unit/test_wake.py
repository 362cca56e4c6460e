"""The fast wake-up loop (runtime.wake) against the fake client, with the HAProxy pods' counters given
by the test (tests/e2e/test_scale_to_zero_lb.py reads real ones): which apps are watched, the wake to
one pod, the cold start measured and told, and which pods are asked (runtime.held)."""

from __future__ import annotations

import asyncio

from orchestration import NS, SETTINGS, World, swa
from test_act import running

from webscale.api.labels import lb_labels
from webscale.autoscaling.act import Autoscaler
from webscale.reconcile.hold import HELD_TOTAL, OLDEST, RELEASED_TOTAL, TIMED_OUT_TOTAL, WAITING
from webscale.runtime import wake
from webscale.runtime.held import haproxy_pod_urls

ZERO = {
    "replicas": {"min": 0, "max": 5},
    "autoscaling": {"scaleToZero": {}},
    "loadBalancer": {"provider": "haproxy"},
}
URL = "http://10.1.2.3:8404/webscale/held"  # never contacted: the reader is the test's


def lb_pod(name: str = "shop-haproxy-abc-1", ip: str = "10.1.2.3", owner: str = "shop-haproxy-abc", **meta) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": meta.get("namespace", NS),
            "labels": meta.get("labels", lb_labels("shop")),
            "ownerReferences": [{"kind": "ReplicaSet", "name": owner}],
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
    others = [
        lb_pod("x1", "10.0.0.9", namespace="other"),
        lb_pod("x2", "10.0.0.8", owner="evil-rs"),
        lb_pod("x3", "10.0.0.7", labels={"app.kubernetes.io/instance": "shop", "app.kubernetes.io/component": "web"}),
        {**lb_pod("x4", "10.0.0.6"), "status": {"phase": "Pending", "podIP": "10.0.0.6"}},
        lb_pod("x5", "fd00::5"),
    ]
    urls = haproxy_pod_urls([lb_pod(), *others], app)
    assert urls == ["http://10.1.2.3:8404/webscale/held", "http://[fd00::5]:8404/webscale/held"]


def test_a_pod_that_does_not_answer_counts_nothing():
    world, pods = world_at_zero(), Pods()
    pods.answer = None
    waker = wake.Waker(Autoscaler(world.kube, world.view), world.view, lambda: [world.app()], pods)
    waker.tick(1.0)
    assert replicas(world) == 0 and not waker.tracks


def test_the_pod_cache_keeps_address_and_owner_of_the_apps_haproxy_and_web_pods_only():
    from webscale.kube.store import trim_pod

    kept = trim_pod(lb_pod())
    assert (
        kept["status"]["podIP"] == "10.1.2.3" and kept["metadata"]["ownerReferences"][0]["name"] == "shop-haproxy-abc"
    )
    web = trim_pod(lb_pod(labels={"app.kubernetes.io/instance": "shop", "app.kubernetes.io/component": "web"}))
    assert web["status"]["podIP"] == "10.1.2.3" and web["metadata"]["ownerReferences"] == [
        {"kind": "ReplicaSet", "name": "shop-haproxy-abc"}
    ]
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
