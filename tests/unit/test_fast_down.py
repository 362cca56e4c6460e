"""The fast scale-down on the in-band signal, plain and checked (a lever under test in the simulator)."""

from __future__ import annotations

import pytest

from webscale.simulate import Trace, World, simulate
from webscale.simulate.fast_down import CutRecord, FastDown, cut_to, recorded, trusted
from webscale.simulate.webscale_policy import Webscale, default_spec

TARGET = 70.0  # req/s per pod


def test_a_cut_sizes_for_the_window_rate_but_never_below_half_the_ready_pods():
    # 140 req/s needs 2 pods; the polls keep 10: a cut, but by at most half of the 8 ready pods.
    assert cut_to(10, 8, 140.0, TARGET, 0.5, True) == 4
    # With 3 ready pods half is 2 (rounded up), which 140 req/s needs anyway.
    assert cut_to(10, 3, 140.0, TARGET, 0.5, True) == 2
    # No load at all still leaves one pod.
    assert cut_to(10, 1, 0.0, TARGET, 0.5, True) == 1


def test_a_cut_never_scales_up_and_an_untrusted_cut_is_the_polls_decision():
    # 700 req/s needs 10 pods, more than the polls' 6: the polls' 6 stand (the lever only cuts).
    assert cut_to(6, 6, 700.0, TARGET, 0.5, True) == 6
    assert cut_to(10, 8, 140.0, TARGET, 0.5, False) == 10


def test_the_record_counts_shortfalls_within_one_start_up_of_a_cut_only():
    record = CutRecord()
    record = recorded(record, 100, cutting=True, short=False, startup=30, half_life=0)
    assert record == CutRecord(1.0, 0.0, 100)
    # Short 30 s after the last cut: counted (pods asked for back at 100 serve at 130).
    record = CutRecord(5.0, 0.0, 100)
    assert recorded(record, 130, cutting=False, short=True, startup=30, half_life=1e9).short_seconds == pytest.approx(
        1.0
    )
    # Short 31 s after it, or with no cut ever: not the cut's doing.
    assert recorded(record, 131, cutting=False, short=True, startup=30, half_life=1e9).short_seconds == pytest.approx(
        0.0
    )
    assert recorded(CutRecord(), 131, cutting=False, short=True, startup=30, half_life=1e9).short_seconds == 0.0


def test_the_record_decays_with_its_half_life():
    record = CutRecord(8.0, 4.0, 0)
    after = recorded(record, 1000, cutting=False, short=False, startup=30, half_life=1.0)
    assert (after.cut_seconds, after.short_seconds) == pytest.approx((4.0, 2.0))


def test_cuts_are_trusted_until_their_shortfalls_pass_the_tolerance():
    assert trusted(CutRecord(100.0, 20.0, 0), None)
    assert trusted(CutRecord(100.0, 20.0, 0), 0.2)
    assert not trusted(CutRecord(100.0, 21.0, 0), 0.2)
    assert not trusted(CutRecord(0.0, 2.0, None), 1.0)  # at least one second cut is assumed


def _lull_and_bursts(world: World) -> tuple[Trace, Webscale]:
    # 600 req/s, a lull of 60 s, and back: the polls' long windows keep the pods through the lull.
    trace = Trace("lull", (600.0,) * 300 + (30.0,) * 60 + (600.0,) * 120)
    return trace, Webscale(default_spec(world))


def test_plain_cuts_shed_pods_in_a_lull_and_pay_for_them_when_the_load_comes_back():
    world = World(startup_delay=30, scrape_interval=15, min_replicas=1, max_replicas=20, target_utilization=0.7)
    trace, inner = _lull_and_bursts(world)
    polls, cut = simulate(trace, inner, world), simulate(trace, FastDown(inner), world)
    assert min(cut.replicas[300:360]) < min(polls.replicas[300:360])
    assert cut.pod_seconds < polls.pod_seconds
    assert cut.seconds_over > polls.seconds_over


def test_checked_cuts_stop_once_they_have_cost_service():
    world = World(startup_delay=30, scrape_interval=15, min_replicas=1, max_replicas=20, target_utilization=0.7)
    trace, inner = _lull_and_bursts(world)
    twice = Trace("two lulls", trace.rps + trace.rps[300:])
    plain = simulate(twice, FastDown(inner), world)
    checked = simulate(twice, FastDown(inner, tolerance=0.05), world)
    # The first lull is cut in both; the shortfall after it makes the checked lever keep the pods in
    # the second.
    assert checked.replicas[330] == plain.replicas[330]
    assert min(checked.replicas[480:540]) > min(plain.replicas[480:540])
    assert checked.seconds_over < plain.seconds_over
