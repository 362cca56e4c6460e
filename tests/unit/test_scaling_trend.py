"""decide(): the load trend. While load rises at every poll, scale-up sizes for the load expected
leadTime + pollingInterval ahead; a step, noise, a fall or a gap never extrapolates, and the
forecast never lowers anything."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_scaling import make_spec, reading, running

from webscale.autoscaling.decide import History, decide
from webscale.autoscaling.history import Reading
from webscale.autoscaling.rules import TREND_CAP, trend

T0 = 1000.0
UNCHECKED = {"checkedForecast": False}
"""These tests are about the trend itself: the forecast check (test_scaling_forecast_check.py) is off."""


def unchecked(autoscaling=None):
    autoscaling = dict(autoscaling or {})
    behavior = dict(autoscaling.get("behavior", {}))
    behavior["scaleUp"] = {**UNCHECKED, **behavior.get("scaleUp", {})}
    return make_spec({**autoscaling, "behavior": behavior})


def polls(loads, spec=None, replicas=8, recent=None):
    """Decide once per 15s poll over `loads` (the windowed rate), replicas fixed; the last Decision."""
    spec, history, decision = spec or unchecked(), History(), None
    for i, load in enumerate(loads):
        now = T0 + 15 * i
        fresh = None if recent is None else recent[i]
        decision = decide(spec, reading(load, at=now), running(replicas), history, now, recent_rps=fresh)
        history = decision.history
    return decision


def test_a_steady_rise_sizes_for_the_load_ahead():
    # +60 req/s per poll (4 req/s per second); the horizon is leadTime 30s + poll 15s = 45s: +180.
    decision = polls([620, 680, 740, 800])
    assert decision.forecast_rps == pytest.approx(980)
    assert (decision.replicas, decision.reason, decision.sized_by) == (10, "RequestRateAboveTarget", "trend")
    assert decision.recommended_replicas == 10
    assert decision.message == (
        "980 req/s expected in 45s (load rose at each of the last 4 polls, +240 req/s per minute; "
        "800 req/s over the rate window) needs 10 pods of 2 workers at 50 req/s per worker "
        "(capacity now 800 req/s on 8 ready pods); scaling 8 -> 10"
    )


def test_without_the_trend_the_dead_band_would_hold():
    """860 req/s on 8 pods is within the 10 % band; the rising trend is not noise and scales anyway."""
    flat = polls([860, 860, 860, 860])
    assert (flat.replicas, flat.reason) == (8, "WithinTolerance")
    rising = polls([800, 820, 840, 860])
    assert rising.sized_by == "trend" and rising.replicas == 10  # 860 + 45 x 4/3 = 920 -> 10 pods


def test_the_recent_rate_is_fitted_when_every_reading_has_it():
    decision = polls([600, 600, 600, 600], recent=[600, 660, 720, 780])
    assert decision.forecast_rps == pytest.approx(960)
    assert "780 req/s recently, 600 req/s over the rate window" in decision.message


@pytest.mark.parametrize(
    "loads",
    [
        [150, 150, 150, 900],  # a step: one jump, then flat
        [600, 640, 620, 680],  # noise: not a rise at every poll
        [900, 850, 800, 750],  # a fall is never extrapolated
        [700, 700, 700, 700],
        [600, 700, 800],  # too few readings
    ],
)
def test_no_forecast_without_a_rise_at_every_poll(loads):
    decision = polls(loads)
    assert decision.forecast_rps is None and decision.sized_by != "trend"


def test_a_gap_in_the_polls_breaks_the_trend():
    spec, history = unchecked(), History()
    for i, load in enumerate([620, 680, 740, 800]):
        now = T0 + 15 * i + (120 if i == 3 else 0)  # metrics were down for two minutes
        decision = decide(spec, reading(load, at=now), running(8), history, now)
        history = decision.history
    assert decision.forecast_rps is None


def test_the_forecast_is_capped():
    decision = polls([100, 300, 500, 700], replicas=20)
    assert decision.forecast_rps == pytest.approx(700 * (1 + TREND_CAP))
    assert "capped at +50 %" in decision.message


def test_lead_time_zero_turns_the_forecast_off():
    spec = make_spec({"behavior": {"scaleUp": {"leadTime": "0s"}}})
    decision = polls([620, 680, 740, 800], spec=spec)
    assert decision.forecast_rps is None and decision.replicas == 8


def test_trend_rule_by_hand():
    rising = tuple(Reading(float(t), 100.0 + t) for t in (0, 15, 30, 45))
    found = trend(rising, 45.0, 45.0)
    assert found is not None and found.slope == pytest.approx(1.0) and found.forecast == pytest.approx(190)
    assert trend(rising, 45.0, 0.0) is None
    mixed = (*rising[:3], Reading(45.0, 145.0, recent=400.0))  # not every reading has the recent rate
    assert trend(mixed, 45.0, 45.0) == found


def test_readings_round_trip_and_stay_small():
    long = unchecked({"behavior": {"scaleDown": {"rateWindow": "10m"}}})
    decision = polls([620, 680, 740, 800, 860, 920, 980], recent=[1, 2, 3, 4, 5, 6, 7], spec=long)
    history = decision.history
    assert len(history.readings) == 7  # kept for scaleDown.rateWindow (10m) too
    short = polls([620, 680, 740, 800, 860, 920, 980], recent=[1, 2, 3, 4, 5, 6, 7]).history
    assert len(short.readings) == 4  # the defaults: headroom.window (1m) is the longest
    data = json.loads(json.dumps(history.to_dict()))
    assert History.from_dict(data) == history
    assert data["o"][-1] == [T0 + 90, 980, 7]
    with pytest.raises(ValueError, match="not a scaling history"):
        History.from_dict({"o": [[1.0]]})


@settings(max_examples=150, deadline=None)
@given(
    loads=st.lists(st.floats(0, 3000), min_size=1, max_size=8),
    recent=st.one_of(st.none(), st.lists(st.floats(0, 3000), min_size=8, max_size=8)),
    replicas=st.integers(2, 20),
)
def test_the_forecast_never_lowers_replicas(loads, recent, replicas):
    """The same polls with the forecast off never end with more pods than with it on."""
    off = make_spec({"behavior": {"scaleUp": {"leadTime": "0s"}}})
    on = polls(loads, replicas=replicas, recent=recent)
    without = polls(loads, spec=off, replicas=replicas, recent=recent)
    assert on.replicas >= without.replicas
    assert (on.recommended_replicas or 0) >= (without.recommended_replicas or 0)
