"""The fast scale-up on the in-band stable window, and following whichever policy a shadow run scores best
(levers under test in the simulator)."""

from __future__ import annotations

import pytest

from webscale.simulate import Trace, World, simulate
from webscale.simulate.engine import Load, View
from webscale.simulate.fast_down import FastDown
from webscale.simulate.fast_up import FastUp
from webscale.simulate.shadow import Shadowed, resized, score_step
from webscale.simulate.webscale_policy import Webscale, default_spec

WORLD = World(startup_delay=30, scrape_interval=15, min_replicas=1, max_replicas=40, target_utilization=0.7)


def test_a_score_decays_and_adds_the_pods_and_the_penalty_for_a_short_second():
    assert score_step(0.0, 4, False, 300.0, 3600.0) == 4.0
    assert score_step(0.0, 4, True, 300.0, 3600.0) == 304.0
    assert score_step(100.0, 0, False, 300.0, 1.0) == pytest.approx(50.0)


def test_a_shadow_adds_pods_created_now_and_removes_the_newest_first():
    assert resized((-30.0, 5.0), 4, 10) == (-30.0, 5.0, 10.0, 10.0)
    assert resized((-30.0, 5.0, 10.0), 1, 12) == (-30.0,)
    pods = (-30.0, 5.0)
    assert resized(pods, 2, 12) is pods


def test_a_steady_rise_is_met_from_the_in_band_mean_before_the_polls_see_it():
    # 100 req/s, then a ramp of 2 req/s per second: the 60 s in-band mean leads Prometheus's rate[1m]
    # by a scrape and a poll. Mean against mean: the polls size on rate[1m]'s mean (no headroom quantile,
    # whose p90 of the last minute would see the ramp about as soon).
    trace = Trace("ramp", (100.0,) * 120 + tuple(100.0 + 2.0 * s for s in range(300)))
    inner = Webscale(default_spec(WORLD, {"headroom": {"quantile": None}}))
    polls, fast = simulate(trace, inner, WORLD), simulate(trace, FastUp(inner), WORLD)
    first = next(s for s in range(len(trace.rps)) if polls.replicas[s] > polls.replicas[0])
    assert max(fast.replicas[:first]) > polls.replicas[0]
    assert fast.seconds_over < polls.seconds_over


def test_fast_up_never_asks_for_fewer_pods_than_the_policy_it_wraps():
    ramp = tuple(100.0 + 2.0 * s for s in range(300))
    trace = Trace("ramps", ((100.0,) * 120 + ramp + (60.0,) * 300) * 2)
    fast = FastUp(Webscale(default_spec(WORLD)))
    load = Load.of(trace)
    wanted, state = fast.start(View(0, 0, 0, load, WORLD))
    above = 0
    for now in range(len(trace.rps)):
        ready = wanted if now % 90 else max(1, wanted // 2)  # pods that are ready lag now and then
        wanted, state = fast.step(state, View(now, wanted, ready, load, WORLD))
        assert wanted >= state[1]  # state[1]: the wrapped policy's own decision this second
        above += wanted > state[1]
    assert above > 0  # and it did ask for more at times


def _lulls(count: int, back_within: int) -> Trace:
    # 600 req/s with lulls of 30 req/s; the load comes back `back_within` seconds into each lull.
    one = (600.0,) * 240 + (30.0,) * back_within
    return Trace("lulls", one * count + (600.0,) * 240)


def test_the_shadows_follow_the_policy_that_sheds_pods_when_the_load_stays_away():
    slow, fast = Webscale(default_spec(WORLD)), FastDown(Webscale(default_spec(WORLD)))
    trace = _lulls(4, 600)  # ten-minute lulls: cutting in them costs no service
    shadowed = simulate(trace, Shadowed((slow, fast)), WORLD)
    alone = simulate(trace, fast, WORLD)
    polls = simulate(trace, slow, WORLD)
    assert shadowed.pod_seconds < polls.pod_seconds
    assert shadowed.pod_seconds == pytest.approx(alone.pod_seconds, rel=0.05)


def test_the_shadows_keep_the_pods_when_cutting_costs_service():
    slow, fast = Webscale(default_spec(WORLD)), FastDown(Webscale(default_spec(WORLD)))
    trace = _lulls(8, 40)  # the load is back within a start-up of every cut
    shadowed = simulate(trace, Shadowed((slow, fast)), WORLD)
    alone = simulate(trace, fast, WORLD)
    assert alone.seconds_over > simulate(trace, slow, WORLD).seconds_over
    assert shadowed.seconds_over < alone.seconds_over
