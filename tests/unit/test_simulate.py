"""The simulator: hand-checkable numbers on tiny traces, the peers' documented behaviour, the oracle."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from webscale.simulate import BUILT_IN, POLICIES, Trace, World, compare, simulate
from webscale.simulate.engine import Load, View
from webscale.simulate.hpa import Hpa, HpaState
from webscale.simulate.keda import Keda
from webscale.simulate.kpa import Kpa, KpaState
from webscale.simulate.oracle import Oracle

TINY = Trace("tiny", (100.0,) * 5 + (300.0,) * 5)
SMALL_WORLD = World(startup_delay=2, min_replicas=1, max_replicas=10)  # 100 req/s per pod


@dataclass(frozen=True)
class Schedule:
    """A test policy: replicas from a fixed list, one entry per second."""

    counts: tuple[int, ...]
    name: str = "schedule"
    interval: int = 1

    def start(self, view: View) -> tuple[int, None]:
        return self.counts[0], None

    def step(self, state: None, view: View) -> tuple[int, None]:
        return self.counts[min(view.now, len(self.counts) - 1)], None


def test_constant_policy_by_hand():
    run = simulate(TINY, Schedule((2,) * 10), SMALL_WORLD)
    assert run.pod_seconds == 20
    assert (run.seconds_over, run.requests_over, run.actions) == (5, 500.0, 0)
    assert run.capacity == (200.0,) * 10


def test_new_pods_carry_load_only_once_ready():
    # 3 pods from t=5: the new one is asked for at 5 and ready at 7 (startup_delay 2).
    run = simulate(TINY, Schedule((2,) * 5 + (3,) * 5), SMALL_WORLD)
    assert run.pod_seconds == 2 * 5 + 3 * 5
    assert (run.seconds_over, run.requests_over, run.actions) == (2, 200.0, 1)
    assert run.capacity[5:8] == (200.0, 200.0, 300.0)


def test_scale_down_removes_starting_pods_first():
    run = simulate(TINY, Schedule((1, 3, 2, 2, 2, 2, 2, 2, 2, 2)), SMALL_WORLD)
    assert run.replicas[:3] == (1, 3, 2)
    assert run.capacity[3] == 200.0  # the pod kept from t=1 is ready at 3; the removed one was newer


def test_oracle_by_hand():
    run = simulate(TINY, Oracle(), SMALL_WORLD)
    # It starts the 2 extra pods at t=3, two seconds before the load needs them.
    assert run.replicas == (1, 1, 1, 3, 3, 3, 3, 3, 3, 3)
    assert (run.pod_seconds, run.seconds_over, run.actions) == (24, 0, 1)


def test_prometheus_rate_lags_and_averages():
    load = Load.of(Trace("t", (100.0,) * 60 + (400.0,) * 60))
    world = World()  # 15 s scrapes, 1m window: the samples at q-45 .. q
    assert View(60, 2, 2, load, world).prometheus_rate() == 100.0
    assert View(74, 2, 2, load, world).prometheus_rate() == 100.0  # the last scrape is still at 60
    assert View(75, 2, 2, load, world).prometheus_rate() == pytest.approx((30 * 100 + 15 * 400) / 45)
    assert View(105, 2, 2, load, world).prometheus_rate() == 400.0
    outage = World(outages=((70.0, 90.0),))
    assert View(75, 2, 2, load, outage).prometheus_rate() is None


def test_hpa_default_scale_up_policy():
    """+100% or +4 pods per 15 s, whichever is more: 1 pod needing 10 -> 5 -> 10."""
    hpa = Hpa(100.0, 1, 20)
    first, state = hpa.reconcile(HpaState(), 0, 1, 1000.0)
    assert first == 5
    second, state = hpa.reconcile(state, 15, 5, 1000.0)
    assert second == 10
    held, _ = hpa.reconcile(state, 30, 10, None)  # metric unavailable: ScalingActive=False
    assert held == 10


def test_hpa_scale_down_waits_for_the_window():
    hpa = Hpa(100.0, 1, 20)
    replicas, state = 8, HpaState()
    for now in range(0, 300, 15):
        replicas, state = hpa.reconcile(state, now, replicas, 200.0)
        assert replicas == 8
    assert hpa.reconcile(state, 300, 8, 200.0)[0] == 2  # -100% per 15 s: straight down


def test_keda_falls_back_after_failure_threshold():
    world = World(outages=((0.0, 1000.0),))
    load = Load.of(Trace("t", (300.0,) * 400))
    keda = Keda(Hpa(100.0, 2, 20), fallback_replicas=6)
    replicas, state = keda.start(View(0, 0, 0, load, world))
    seen = []
    for now in range(0, 120, 15):
        replicas, state = keda.step(state, View(now, replicas, replicas, load, world))
        seen.append(replicas)
    # polls at 0, 30, 60 fail; from the third failure the metric reports 6 x threshold
    assert seen == [3, 3, 3, 3, 6, 6, 6, 6]


def test_kpa_panics_and_does_not_scale_down_while_panicking():
    kpa = Kpa(100.0, 1, 50)
    load = Load.of(Trace("t", (100.0,) * 100 + (1000.0,) * 10 + (100.0,) * 200))
    world = World()
    desired, state = kpa.step(KpaState(), View(106, 1, 1, load, world))
    assert state.panic_since == 106 and desired == 10  # 6 s window mean 1000 >= 2 x 1 ready pod
    later, state = kpa.step(state, View(140, 10, 10, load, world))
    assert later == 10  # still panicking: never down
    calm, state = kpa.step(state, View(180, 10, 10, load, world))
    assert state.panic_since is None and calm == 5  # -50% per tick at most (max-scale-down-rate 2)


@pytest.mark.parametrize("name", list(BUILT_IN))
def test_oracle_never_runs_over_capacity(name):
    run = simulate(BUILT_IN[name](), Oracle(), World())
    assert run.seconds_over == 0


@pytest.mark.parametrize("seed", range(12))
def test_oracle_is_the_cheapest_schedule_that_never_runs_over_capacity(seed):
    """Any schedule without time over capacity costs at least the oracle's pod-seconds: a pod
    ready at second s must exist from s - startup_delay on. (A policy that lags may cost less,
    but only by running over capacity - see the tables in bench/results/scaling.md.)"""
    import random

    rng = random.Random(seed)
    trace = Trace("r", tuple(float(rng.choice([50, 150, 250, 450, 650])) for _ in range(40)))
    oracle = simulate(trace, Oracle(), SMALL_WORLD)
    for _ in range(30):
        counts = tuple(
            SMALL_WORLD.bounded(n + rng.choice([-1, 0, 0, 1])) for n in (oracle.replicas[1:] + oracle.replicas[-1:])
        )
        run = simulate(trace, Schedule((oracle.replicas[0], *counts)), SMALL_WORLD)
        if run.seconds_over == 0:
            assert run.pod_seconds >= oracle.pod_seconds


@pytest.mark.parametrize("name", ["step", "spike"])
def test_oracle_costs_less_than_every_policy(name):
    (comparison,) = compare([BUILT_IN[name]()], list(POLICIES), World())
    oracle = comparison.score("oracle").run.pod_seconds
    assert all(score.run.pod_seconds >= oracle for score in comparison.scores)
    assert comparison.score("oracle").cost_ratio == 1.0


def test_webscale_policy_never_lowers_replicas_during_an_outage():
    world = World(outages=((600.0, 1200.0),))
    (comparison,) = compare([BUILT_IN["step"]()], ["webscale"], world)
    replicas = comparison.score("webscale").run.replicas
    assert all(replicas[t] >= replicas[600] for t in range(600, 1200))
    assert replicas[-1] < replicas[1199]  # back to scaling (down) once metrics return


def test_built_in_traces_are_deterministic_and_within_max_capacity():
    for make in BUILT_IN.values():
        trace = make()
        assert trace == make()
        assert max(trace.rps) <= 2000 and min(trace.rps) >= 0


def test_compare_rejects_unknown_policies():
    with pytest.raises(ValueError, match="unknown policy 'vpa'"):
        compare([TINY], ["vpa"], World())


TARGET_WORLD = World(startup_delay=2, min_replicas=1, max_replicas=10, target_utilization=0.5)
"""100 req/s per ready pod, every autoscaler aiming at 50."""


def test_the_target_is_what_policies_aim_at_and_capacity_what_is_scored():
    assert (TARGET_WORLD.per_pod, TARGET_WORLD.target_per_pod) == (100.0, 50.0)
    assert TARGET_WORLD.need(300.0) == 6
    run = simulate(TINY, Oracle(), TARGET_WORLD)
    assert run.replicas == (2, 2, 2, 6, 6, 6, 6, 6, 6, 6)  # 300 req/s at 50 per pod, two seconds ahead
    assert run.seconds_over == 0
    lazy = simulate(TINY, Schedule((2,) * 5 + (3,) * 5), TARGET_WORLD)
    assert lazy.seconds_over == 2  # 3 pods carry 300 req/s: under capacity only until the third is ready


def test_peers_aim_at_the_world_target():
    hpa, kpa = POLICIES["hpa"](TARGET_WORLD), POLICIES["kpa"](TARGET_WORLD)
    assert hpa.target_per_pod == kpa.target_per_pod == 50.0
    webscale = POLICIES["webscale"](TARGET_WORLD)
    assert webscale.spec.autoscaling.target.requests_per_second_per_worker == 25.0  # 2 workers x 25


@pytest.mark.parametrize("seed", range(6))
def test_the_oracle_plan_is_the_sliding_maximum_of_need(seed):
    import random

    rng = random.Random(seed)
    trace = Trace("r", tuple(float(rng.choice([0, 120, 260, 480, 900])) for _ in range(60)))
    world = World(startup_delay=7, min_replicas=1, max_replicas=20, target_utilization=0.7)
    run = simulate(trace, Oracle(), world)
    for second in range(60):
        ahead = [world.need(trace.rps[min(s, 59)]) for s in range(second, second + 8)]
        assert run.replicas[second] == max(ahead)


@pytest.mark.parametrize("seed", range(6))
def test_ready_pods_are_counted_as_the_slow_way_does(seed):
    """The engine counts ready pods with a bisection over creation times; check it against a plain
    count on random schedules (pods are created in order, scale-down drops the newest)."""
    import random

    rng = random.Random(seed)
    counts = tuple(rng.randint(1, 9) for _ in range(40))
    trace = Trace("r", tuple(float(rng.randint(0, 900)) for _ in range(40)))
    world = World(startup_delay=3, min_replicas=1, max_replicas=10)
    run = simulate(trace, Schedule(counts), world)
    created: list[float] = [-3.0] * counts[0]
    for now in range(40):
        wanted = counts[now]
        created = created[:wanted] + [float(now)] * (wanted - len(created))
        assert run.capacity[now] == sum(1 for c in created if c + 3 <= now) * world.per_pod
