"""The SPEC RG elasticity metrics on tiny hand-made series (expected values worked out in comments)."""

from __future__ import annotations

import pytest

from webscale.simulate.elasticity import adaptations, elasticity


def test_six_seconds_by_hand():
    demand = [2, 2, 3, 3, 3, 2]
    supply = [2, 3, 3, 2, 2, 2]
    # d - s: 0, -1, 0, 1, 1, 0 -> missing 1 + 1 = 2 pod-seconds over 6 s; surplus 1 over 6 s.
    # d changes at t=2 and t=5 (2 adaptations); s at t=1 and t=3 (2): jitter 0.
    m = elasticity(demand, supply)
    assert m.accuracy_under == pytest.approx(2 / 6)
    assert m.accuracy_over == pytest.approx(1 / 6)
    assert m.timeshare_under == pytest.approx(2 / 6)
    assert m.timeshare_over == pytest.approx(1 / 6)
    assert m.jitter_per_minute == 0


def test_a_supply_that_oscillates_has_positive_jitter():
    demand = [4] * 60
    supply = ([4] * 10 + [5] * 10) * 3
    # s changes at t=10, 20, 30, 40, 50 (5 adaptations), d never: +5 per minute.
    # Surplus 1 pod in 30 of the 60 s: accuracy_O 0.5, timeshare_O 0.5; nothing missing.
    m = elasticity(demand, supply)
    assert m.jitter_per_minute == pytest.approx(5.0)
    assert (m.accuracy_over, m.timeshare_over) == (pytest.approx(0.5), pytest.approx(0.5))
    assert (m.accuracy_under, m.timeshare_under) == (0, 0)


def test_a_supply_that_never_moves_has_negative_jitter():
    demand = [1] * 15 + [2] * 15 + [3] * 15 + [4] * 15
    supply = [4] * 60
    # d changes 3 times in one minute, s never: -3 per minute.
    # Surplus 3, 2, 1, 0 pods for 15 s each: (45 + 30 + 15) / 60 = 1.5 pods; in 45 of 60 s.
    m = elasticity(demand, supply)
    assert m.jitter_per_minute == pytest.approx(-3.0)
    assert m.accuracy_over == pytest.approx(1.5)
    assert m.timeshare_over == pytest.approx(0.75)
    assert m.accuracy_under == 0


def test_adaptations_count_changes_not_seconds():
    assert adaptations([1, 1, 2, 2, 1]) == 2
    assert adaptations([3]) == 0
    assert adaptations([]) == 0


def test_series_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="demand has 2 seconds and supply 3"):
        elasticity([1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="empty"):
        elasticity([], [])
