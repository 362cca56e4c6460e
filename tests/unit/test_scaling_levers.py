"""decide(): the levers chosen on real traces - the headroom quantile, the long scale-down window,
the checked forecast, the learned start-up and scale-up on the recent rate. Each names itself,
with its numbers, in the Decision's message."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_scaling import make_spec, reading, running

from webscale.autoscaling.decide import History, decide
from webscale.autoscaling.history import Forecast, ForecastScore, Reading
from webscale.autoscaling.rules import headroom, lead_time, long_rate, quantile

T0 = 1000.0
PLAIN = {"headroom": {"quantile": None}, "behavior": {"scaleDown": {"rateWindow": "0s", "maxPercent": 100}}}
"""The rate window alone sizes, and scale-down may remove every surplus pod at once (the HPA's way)."""


def plain(extra):
    """PLAIN with `extra` merged in, nested dicts included."""
    behavior = {**PLAIN["behavior"]}
    for side, rules in extra.get("behavior", {}).items():
        behavior[side] = {**behavior.get(side, {}), **rules}
    return make_spec({**PLAIN, **{k: v for k, v in extra.items() if k != "behavior"}, "behavior": behavior})


def polls(spec, windowed, recent=None, replicas=8, startup=None):
    """One decision per 15s poll, replicas fixed; the last Decision."""
    history, decision = History(), None
    for i, load in enumerate(windowed):
        now = T0 + 15 * i
        fresh = None if recent is None else recent[i]
        decision = decide(
            spec, reading(load, at=now), running(replicas), history, now, recent_rps=fresh, startup_seconds=startup
        )
        history = decision.history
    return decision


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0], 0.9, 1.0),
        ([1, 2, 3, 4, 5], 0.5, 3.0),
        ([1, 2, 3, 4, 5], 1.0, 5.0),
        ([0, 10], 0.9, 9.0),
        ([4, 1, 3, 2], 0.0, 1),
    ],
)
def test_quantile_table(values, q, expected):
    assert quantile(list(map(float, values)), q) == pytest.approx(expected)


def test_quantile_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="quantile of no values"):
        quantile([], 0.5)


def test_headroom_sizes_for_the_p90_of_the_per_scrape_rates_and_says_so():
    spec = make_spec({"headroom": {"quantile": 0.9, "window": "1m"}, "behavior": {"scaleDown": {"rateWindow": "0s"}}})
    decision = polls(spec, [800, 800, 800, 800], recent=[700, 1100, 700, 900], replicas=8)
    # p90 of 700, 1100, 700, 900 = 1040 req/s -> 11 pods of 100 req/s.
    assert decision.headroom_rps == pytest.approx(1040)
    assert (decision.replicas, decision.sized_by) == (11, "headroom")
    assert decision.message.startswith(
        "1040 req/s (the p90 of the per-scrape rates of the last 1 min, 4 scrapes, sized at 100 % of target; "
        "800 req/s over the rate window) needs 11 pods"
    )


def test_headroom_at_a_percent_of_target_runs_hotter():
    spec = make_spec(
        {"headroom": {"quantile": 0.9, "percentOfTarget": 125}, "behavior": {"scaleDown": {"rateWindow": "0s"}}}
    )
    decision = polls(spec, [1000] * 4, recent=[1000] * 4, replicas=8)
    assert decision.replicas == 8  # 1000 / (100 x 1.25) = 8 pods
    assert "at 62.5 req/s per worker" in decision.message


def test_headroom_waits_for_enough_scrapes():
    auto = make_spec().autoscaling
    assert headroom(auto, (Reading(T0, 500.0, 900.0),), T0) is None
    three = tuple(Reading(T0 - 15 * i, 500.0, 600.0 + i) for i in range(3))
    assert headroom(auto, three, T0) is not None
    assert headroom(make_spec(PLAIN).autoscaling, three, T0) is None


def test_a_polling_interval_longer_than_a_third_of_the_headroom_window_stretches_it_to_three_polls():
    auto = make_spec({"pollingInterval": "2m", "headroom": {"quantile": 0.9, "window": "1m"}}).autoscaling
    three = tuple(Reading(T0 - 120 * i, 500.0, 600.0 + 100 * i) for i in range(3))  # 0, 2 and 4 min ago
    found = headroom(auto, three, T0)
    assert found is not None and found.samples == 3 and found.window == 300.0  # not off: the last 3 polls
    assert headroom(auto, three[:2], T0) is None  # the app's first polls: too few yet


def test_the_long_window_holds_a_scale_down_back_and_says_so():
    spec = make_spec(
        {"headroom": {"quantile": None}, "behavior": {"scaleDown": {"stabilizationWindow": "0s", "rateWindow": "1m"}}}
    )
    decision = polls(spec, [1000, 1000, 1000, 200], replicas=10)
    # The 1-minute rate says 2 pods; the mean of the last minute's rates (800 req/s) says 8.
    assert (decision.replicas, decision.sized_by) == (8, "long")
    assert (
        "(the mean of the last 1 min, 4 scrapes, holds the scale-down; 200 req/s over the rate window)"
        in decision.message
    )
    short = polls(
        plain({"behavior": {"scaleDown": {"stabilizationWindow": "0s"}}}), [1000, 1000, 1000, 200], replicas=10
    )
    assert short.replicas == 2


def test_the_long_window_never_raises():
    assert long_rate(make_spec(PLAIN).autoscaling, (Reading(T0, 900.0),), T0) is None  # 0s: off
    spec = make_spec({"headroom": {"quantile": None}, "behavior": {"scaleDown": {"rateWindow": "1m"}}})
    slow = long_rate(spec.autoscaling, tuple(Reading(T0 - 15 * i, 900.0) for i in range(4)), T0)
    assert slow is not None and slow.rps == 900
    up = polls(spec, [100, 100, 100, 900], replicas=2)
    assert up.sized_by != "long"


def test_a_forecast_that_has_been_wrong_does_not_act():
    rising = [620, 680, 740, 800]
    checked = polls(make_spec(), rising)
    assert checked.forecast_rps == pytest.approx(980)
    assert checked.forecast_trusted is False and checked.sized_by != "trend"
    history = History(score=ForecastScore(forecast_error=10.0, naive_error=50.0, scored=5))
    decision, now = None, T0
    for i, load in enumerate(rising):
        now = T0 + 15 * i
        decision = decide(make_spec(), reading(load, at=now), running(8), history, now)
        history = decision.history
    assert decision.forecast_trusted is True and decision.sized_by == "trend"
    assert "its last forecasts were off by" in decision.message


def test_forecasts_are_scored_when_due():
    history = History(forecasts=(Forecast(T0, T0 + 45, 900.0, 800.0),))
    early = history.scored(T0 + 30, 1000.0, 7.5)
    assert early.forecasts and early.score.scored == 0
    due = history.scored(T0 + 45, 1000.0, 7.5)
    assert due.forecasts == () and due.score == ForecastScore(100.0, 200.0, 1)
    stale = history.scored(T0 + 500, 1000.0, 7.5)
    assert stale.forecasts == () and stale.score.scored == 0  # a gap: dropped unscored


@pytest.mark.parametrize(
    ("forecast_error", "naive_error", "scored", "trusted"),
    [(1, 2, 3, True), (1, 2, 2, False), (2, 2, 9, False), (3, 2, 9, False)],
)
def test_trust_table(forecast_error, naive_error, scored, trusted):
    assert ForecastScore(forecast_error, naive_error, scored).trusted is trusted


def test_the_lead_time_is_learned_from_the_pods():
    auto = make_spec().autoscaling
    assert lead_time(auto, None) == (30.0, False)
    assert lead_time(auto, 55.0) == (55.0, True)
    off = make_spec({"behavior": {"scaleUp": {"leadTime": "0s"}}}).autoscaling
    assert lead_time(off, 55.0) == (0.0, False)
    fixed = make_spec({"behavior": {"scaleUp": {"learnLeadTime": False}}}).autoscaling
    assert lead_time(fixed, 55.0) == (30.0, False)
    unchecked = plain({"behavior": {"scaleUp": {"checkedForecast": False}}})
    decision = polls(unchecked, [620, 680, 740, 800], startup=60)
    assert decision.forecast_rps == pytest.approx(800 + 4 * 75)  # 60s start-up + 15s poll at 4 req/s/s
    assert "expected in 75s (pods measured to start in 60s)" in decision.message


def test_scale_up_on_the_recent_rate_answers_a_surge_in_one_poll():
    spec = plain({"behavior": {"scaleUp": {"recentRate": True}}})
    decision = polls(spec, [400], recent=[1500], replicas=8)
    assert (decision.replicas, decision.sized_by) == (15, "recent")  # 1500 req/s; +100 % per 15s allows it
    without = polls(make_spec(PLAIN), [400], recent=[1500], replicas=8)
    assert without.replicas < 15


def test_history_with_forecasts_round_trips():
    decision = polls(make_spec(), [620, 680, 740, 800, 860, 920, 980, 1040])
    data = decision.history.to_dict()
    assert "p" in data and "s" in data
    assert History.from_dict(data) == decision.history


@settings(max_examples=120, deadline=None)
@given(
    windowed=st.lists(st.floats(0, 3000), min_size=1, max_size=10),
    recent=st.lists(st.floats(0, 3000), min_size=10, max_size=10),
    replicas=st.integers(1, 30),
)
def test_the_levers_stay_within_bounds_and_never_scale_down_on_recent_alone(windowed, recent, replicas):
    spec = make_spec({"behavior": {"scaleUp": {"recentRate": True}}}, replicas={"min": 1, "max": 40})
    decision = polls(spec, windowed, recent=recent, replicas=replicas)
    assert 1 <= decision.replicas <= 40
    if decision.sized_by == "recent":
        assert decision.replicas >= replicas


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(0, 5000), min_size=3, max_size=12),
    bump=st.floats(0, 1000),
    which=st.integers(0, 11),
    q=st.floats(0.01, 1.0),
)
def test_the_headroom_quantile_is_monotone_and_within_the_samples(values, bump, which, q):
    """A higher per-scrape rate never lowers the headroom; the quantile lies within the samples."""
    spec = make_spec({"headroom": {"quantile": q, "window": "5m"}})
    readings = tuple(Reading(T0 - 15 * i, 0.0, v) for i, v in enumerate(values))
    room = headroom(spec.autoscaling, readings, T0)
    assert room is not None and min(values) - 1e-6 <= room.rps <= max(values) + 1e-6
    raised = list(values)
    raised[which % len(values)] += bump
    higher = headroom(spec.autoscaling, tuple(Reading(T0 - 15 * i, 0.0, v) for i, v in enumerate(raised)), T0)
    assert higher is not None and higher.rps >= room.rps - 1e-6


def test_the_stretched_headroom_window_keeps_the_third_poll_when_ticks_run_late():
    auto = make_spec({"pollingInterval": "1m", "headroom": {"quantile": 0.9, "window": "1m"}}).autoscaling
    for late in (0.0, 0.4, 0.6, 1.0):  # each reading's tick ran up to a second after it was due
        three = tuple(Reading(T0 - 60 * i + late * (i == 0), 500.0, 600.0 + i) for i in range(3))
        found = headroom(auto, three, T0 + late)
        assert found is not None and found.samples == 3, late
