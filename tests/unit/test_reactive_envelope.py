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
SIZE = (len(env.ONE) + len(env.TWO)) * len(env.TARGETS) + len(env.FORECAST) * len(env.FORECAST_TARGETS)


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
    assert len(members) == SIZE
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
    assert size == SIZE
    # at 0 % under capacity the cheapest member runs one pod: 200 / 400 of the oracle, 0.5x the peer
    assert alone.ratios == pytest.approx((0.5,)) and alone.met(0.9)
    with_known, _ = env.envelope_standing(load, 5, bounds, oracle, [peer], known=[Point(0.9, 0.25, 0.0)])
    assert with_known.ratios == pytest.approx((0.25,))


def test_the_trend_extends_a_rising_line_to_the_horizon_and_never_a_falling_one():
    rising = np.arange(10, dtype=float) * 10.0  # 0, 10, ..., 90 per second
    # at second 7 the bins read cover seconds 0..7 (window 4: 4..7, a line through 40..70)
    assert env.trend(rising, window=4, ahead=3, bin_=2)[7] == pytest.approx(70.0 + 3 * 10.0)
    falling = rising[::-1].copy()
    # 90, 80, ...: at second 7 the window is 50, 40, 30, 20; its last value, not below it
    assert env.trend(falling, window=4, ahead=3, bin_=2)[7] == pytest.approx(20.0)
    assert env.trend(np.full(8, 5.0), window=4, ahead=10, bin_=2)[7] == pytest.approx(5.0)


def test_future_max_is_the_most_of_the_next_seconds():
    load = np.array([1.0, 4.0, 2.0, 3.0, 1.0])
    assert env.future_max(load, 2).tolist() == [4.0, 4.0, 3.0, 3.0, 1.0]


def test_a_forecast_is_calibrated_only_on_errors_whose_outcome_is_known():
    load = np.array([100.0] * 10 + [300.0] * 10)
    forecast = np.full(20, 100.0)  # always says 100: right for the first seconds, a third later
    factor = env.calibrated(load, forecast, horizon=2, quantiles=[0.5, 1.0], history=6, every=1, bin_=1)
    assert factor.shape == (2, 20)
    # nothing known before second 2: twice the forecast
    assert factor[:, 0].tolist() == [env.NO_HISTORY] * 2
    # at second 9 the outcomes of the forecasts of seconds 2..7 are known: all saw 100; the
    # forecast of second 8 covers second 10 (300) and is known at second 10
    assert factor[:, 9].tolist() == pytest.approx([1.0, 1.0])
    assert factor[1, 10] == pytest.approx(3.0) and factor[0, 10] == pytest.approx(1.0)
    # at second 19 the last six known (12..17) all saw 300
    assert factor[:, 19].tolist() == pytest.approx([3.0, 3.0])


def test_no_policy_beats_the_bound_and_a_clairvoyant_one_reaches_it():
    load = [50.0, 250.0, 50.0, 150.0]  # needs 1, 3, 1, 2 pods at full capacity
    assert env.any_policy_bound(load, per_pod=100.0, low=1, under=0.0) == 7.0
    # one second (25 %) may be short: the one that needs 3, at one pod
    assert env.any_policy_bound(load, per_pod=100.0, low=1, under=25.0) == 5.0
    # a policy that asks for the need one start-up ahead pays at least the bound
    x = np.array(load * 5)
    want = np.maximum(1, np.ceil(x / 100.0))
    ahead = np.concatenate([want[2:], want[-1:].repeat(2)])
    lead = np.maximum(ahead, np.maximum(want, np.concatenate([want[1:], want[-1:]])))
    cost, under = env.run(x, lead, startup=2, per_pod=100.0, sense=0)
    assert under <= 2 and cost >= env.any_policy_bound(x, 100.0, 1, 100.0 * under / len(x))


def test_the_forecasts_are_in_the_family_and_a_higher_quantile_never_costs_less():
    load = [50.0 + 40.0 * (i % 20 > 15) for i in range(400)]
    members = dict((name, (cost, under)) for name, cost, under in env.family(load, 10, env.Bounds(100.0, 1, 200)))
    low = members["trend of 30 s x its q0.5 error, held 0 s, target 0.90"]
    high = members["trend of 30 s x its q0.99 error, held 0 s, target 0.90"]
    assert high[0] >= low[0] and high[1] <= low[1]


def test_members_are_grouped_into_curves_over_their_targets():
    members = [
        ("mean+0sd of 6 s, held 0 s, target 0.50", 200.0, 0),
        ("mean+0sd of 6 s, held 0 s, target 0.90", 100.0, 5),
    ]
    curves = env.member_curves(members, oracle=100.0, seconds=50)
    assert curves == {"mean+0sd of 6 s, held 0 s": [Point(0.5, 2.0, 0.0), Point(0.9, 1.0, 10.0)]}


def _standing(ratios, beaten=0):
    return env.Standing(tuple(ratios), 0, 0, tuple(Point(0.5, 1.0, 0.0) for _ in range(beaten)))


def test_a_single_member_is_ranked_by_the_points_beating_it_then_its_worst():
    standings = {
        "cheap but beaten": _standing([0.5, 0.6], beaten=1),
        "level": _standing([0.95, 1.0]),
        "better": _standing([0.9, 0.92]),
        "reaches nothing": _standing([]),
    }
    assert env.best_single(standings)[0] == "better"
    # one that reaches nothing comes last, even when nothing beats it
    assert env.best_single({"reaches nothing": _standing([]), "beaten": _standing([1.5], beaten=3)})[0] == "beaten"
    # chosen on two tuning traces: the best of its worse ranking there, not of the mean
    tuning = [
        {"a": _standing([0.80]), "b": _standing([0.90])},
        {"a": _standing([1.20]), "b": _standing([0.95])},
    ]
    assert env.chosen_on(tuning) == "b"
