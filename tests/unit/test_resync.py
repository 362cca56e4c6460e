"""The resync is spread over its period."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from webscale.runtime.resync import batch_sizes


def test_five_thousand_apps_over_a_minute_are_a_steady_trickle():
    sizes = batch_sizes(5000, 60.0, 1.0)
    assert len(sizes) == 60 and sum(sizes) == 5000
    assert max(sizes) - min(sizes) <= 1


def test_few_apps_take_few_steps_and_none_is_empty():
    assert batch_sizes(3, 60.0, 1.0) == [1, 1, 1]
    assert batch_sizes(0, 60.0, 1.0) == [0]


@given(st.integers(0, 20000), st.floats(0.5, 3600), st.floats(0.1, 10))
def test_every_app_is_queued_exactly_once_per_period(apps, period, step):
    sizes = batch_sizes(apps, period, step)
    assert sum(sizes) == apps
    assert len(sizes) <= max(1, -(-period // step)) + 1
    assert max(sizes) - min(sizes) <= 1
