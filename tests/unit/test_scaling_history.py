"""History: a small, bounded, serialisable value; and the window / rate-limit rules that read it."""

from __future__ import annotations

import json

import pytest
from test_scaling import make_spec, reading, running

from webscale.autoscaling.decide import History, decide
from webscale.autoscaling.history import (
    MAX_RECOMMENDATIONS,
    Recommendation,
    ScaleEvent,
    period_start,
    scale_down_floor,
    scale_up_limit,
    stabilize,
)


def test_history_stays_small_over_a_day_of_polls():
    spec, history, replicas = make_spec(), History(), 4
    for i in range(24 * 240):  # one day at 15s
        load = 400 + 300 * ((i // 40) % 3)  # changes every 10 minutes
        decision = decide(spec, reading(load, at=i * 15.0), running(replicas), history, i * 15.0)
        history, replicas = decision.history, decision.replicas
        assert len(history.recommendations) <= 21  # one per poll inside the 300s window at most
        assert len(history.events) <= 4  # events inside the longest period (60s)
    assert len(history.readings) <= 41  # scaleDown.rateWindow (10m) is the longest reach: 40 polls
    assert len(json.dumps(history.to_dict())) < 1200


def test_equal_older_recommendations_are_dropped():
    history = History().with_recommendation(1.0, 3).with_recommendation(2.0, 5).with_recommendation(3.0, 3)
    assert history.recommendations == (Recommendation(2.0, 5), Recommendation(3.0, 3))


def test_recommendations_are_capped():
    history = History()
    for i in range(MAX_RECOMMENDATIONS + 50):
        history = history.with_recommendation(float(i), i)
    assert len(history.recommendations) == MAX_RECOMMENDATIONS
    assert history.recommendations[-1].replicas == MAX_RECOMMENDATIONS + 49


def test_pruning_by_age():
    history = History(
        recommendations=(Recommendation(0.0, 1), Recommendation(50.0, 2)),
        events=(ScaleEvent(0.0, 1, 2), ScaleEvent(50.0, 2, 3)),
    )
    pruned = history.pruned(100.0, window=60.0, period=50.0)
    assert pruned.recommendations == (Recommendation(50.0, 2),)
    assert pruned.events == ()


def test_dict_form_is_compact():
    history = History(
        recommendations=(Recommendation(1700000000.5, 4),),
        events=(ScaleEvent(1700000000.0, 2, 4),),
        failures=1,
        last_good=4,
        burst_until=1700000060.0,
    )
    assert history.to_dict() == {
        "r": [[1700000000.5, 4]],
        "e": [[1700000000, 2, 4]],
        "f": 1,
        "g": 4,
        "b": 1700000060,
    }
    assert History.from_dict({}) == History()


@pytest.mark.parametrize("bad", [{"r": [[1]]}, {"e": "x"}, {"f": "many"}, {"r": [["t", 1]]}])
def test_malformed_dict_is_a_value_error(bad):
    with pytest.raises(ValueError, match="not a scaling history"):
        History.from_dict(bad)


def test_stabilize_takes_lowest_up_and_highest_down():
    recs = (Recommendation(90.0, 8), Recommendation(95.0, 3))
    assert stabilize(5, 4, recs, 100.0, up_window=0.0, down_window=30.0) == 5  # up: no window
    assert stabilize(5, 4, recs, 100.0, up_window=30.0, down_window=30.0) == 4  # lowest is 3 < 4
    assert stabilize(2, 6, recs, 100.0, up_window=0.0, down_window=30.0) == 6  # highest is 8 > 6
    assert stabilize(2, 6, recs, 100.0, up_window=0.0, down_window=7.0) == 3  # only 3 is recent


def test_period_start_and_limits():
    events = (ScaleEvent(80.0, 2, 6), ScaleEvent(95.0, 6, 5))
    assert period_start(5, events, 100.0, 15.0) == 6  # only the -1 is inside the period
    assert period_start(5, events, 100.0, 60.0) == 2
    assert scale_up_limit(2, 4, 100) == 6
    assert scale_up_limit(10, 4, 100) == 20
    assert scale_up_limit(10, None, 10) == 11  # 10% of 10 rounds to a whole pod
    assert scale_up_limit(3, None, 10) == 4  # rounds up, so small counts can grow
    assert scale_up_limit(3, None, None) is None
    assert scale_down_floor(9, None, 50) == 4
    assert scale_down_floor(9, 2, 50) == 4  # the larger removal wins
    assert scale_down_floor(3, 4, None) == 0
    assert scale_down_floor(3, None, None) is None
