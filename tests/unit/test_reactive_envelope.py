"""bench/reactive_envelope.py: the idealised reactive policies behind "is the goal reachable by
reacting?" compute their windows, pods, cost and time under capacity right, on tiny hand-made loads."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from webscale.simulate.frontier import Point

BENCH = Path(__file__).resolve().parents[2] / "bench"
_spec = importlib.util.spec_from_file_location("reactive_envelope_bench", BENCH / "reactive_envelope.py")
assert _spec is not None and _spec.loader is not None
env = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = env  # dataclasses look their module up by name
_spec.loader.exec_module(env)


def test_window_stats_use_only_whole_bins_already_read():
    load = np.array([10.0, 30.0, 50.0, 70.0, 90.0, 110.0])
    mean, sd = env.window_stats(load, window=4, bin_=2)
    # second 0: no bin complete yet (mean of nothing is 0); 1: bin [10, 30]; 3: [10..70]; 5: [50..110]
    assert mean.tolist() == pytest.approx([0.0, 20.0, 20.0, 40.0, 40.0, 80.0])
    assert sd[1] == pytest.approx(10.0)
    assert sd[5] == pytest.approx(np.std([50.0, 70.0, 90.0, 110.0]))


def test_held_is_the_most_of_the_last_seconds():
    values = np.array([1.0, 5.0, 2.0, 2.0, 2.0, 1.0])
    assert env.held(values, 0).tolist() == values.tolist()
    assert env.held(values, 2).tolist() == [1.0, 5.0, 5.0, 5.0, 2.0, 2.0]


def test_pods_at_the_target_within_the_bounds():
    load = np.array([0.0, 70.0, 71.0, 10_000.0])
    assert env.pods(load, per_pod=100.0, target=0.7, low=1, high=20).tolist() == [1, 1, 2, 20]


def test_new_pods_serve_one_start_up_after_they_are_asked_for_and_cost_from_then():
    load = np.array([100.0] * 3 + [300.0] * 7)
    want = np.array([1.0] * 3 + [3.0] * 7)  # asks for 3 pods from the second the load rises
    cost, under = env.run(load, want, startup=2, per_pod=100.0, sense=0)
    # asked: 1,1,1,3,3,...: 3 + 7 x 3 = 24 pod-seconds; ready 3 only from second 5: seconds 3, 4 short
    assert (cost, under) == (24.0, 2)
    cost, under = env.run(load, want, startup=2, per_pod=100.0, sense=2)
    # read 2 s late: asked from second 5, ready from 7: seconds 3..6 short
    assert (cost, under) == (3 + 2 + 5 * 3.0, 4)


def test_a_scale_down_removes_pods_at_once():
    load = np.array([300.0] * 4 + [100.0] * 4)
    want = np.array([3.0] * 4 + [1.0] * 4)
    cost, under = env.run(load, want, startup=3, per_pod=100.0, sense=0)
    assert (cost, under) == (16.0, 0)


def test_the_family_covers_every_member_at_every_target():
    load = [50.0 + 40.0 * (i % 20 > 15) for i in range(400)]
    members = env.family(load, startup=10, bounds=env.Bounds(100.0, 1, 200))
    assert len(members) == (len(env.ONE) + len(env.TWO)) * len(env.TARGETS)
    assert len({name for name, _, _ in members}) == len(members)
    # a hotter target never costs more for the same statistic
    by_name = {name: cost for name, cost, _ in members}
    assert by_name["mean+2sd of 30 s, held 60 s, target 0.50"] >= by_name["mean+2sd of 30 s, held 60 s, target 0.95"]


def test_the_envelope_includes_the_known_points_and_is_judged_like_a_curve():
    load = [80.0] * 200  # one pod carries it at full capacity, two at targets below 0.80
    bounds = env.Bounds(100.0, 1, 200)
    oracle = 400.0  # two pods for 200 s
    peer = Point(0.7, 1.0, 0.0)
    alone, size = env.envelope_standing(load, 5, bounds, oracle, [peer])
    assert size == (len(env.ONE) + len(env.TWO)) * len(env.TARGETS)
    # at 0 % under capacity the cheapest member runs one pod: 200 / 400 of the oracle, 0.5x the peer
    assert alone.ratios == pytest.approx((0.5,)) and alone.met(0.9)
    with_known, _ = env.envelope_standing(load, 5, bounds, oracle, [peer], known=[Point(0.9, 0.25, 0.0)])
    assert with_known.ratios == pytest.approx((0.25,))
