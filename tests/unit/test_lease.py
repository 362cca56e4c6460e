"""Leader election rules (pure parts)."""

from __future__ import annotations

import pytest

from webscale.kube.lease import Timing, holder_of, may_take


def lease(holder: str) -> dict:
    return {"metadata": {"resourceVersion": "1"}, "spec": {"holderIdentity": holder}}


def test_no_lease_a_released_lease_and_our_own_lease_may_be_taken_at_once():
    assert may_take(None, "me", 0, 0, 10)
    assert may_take(lease(""), "me", 0, 0, 10)
    assert may_take(lease("me"), "me", 0, 0, 10)


def test_another_holder_keeps_it_until_unchanged_for_a_whole_duration_on_our_clock():
    assert not may_take(lease("other"), "me", observed_since=100, now=109.9, duration=10)
    assert may_take(lease("other"), "me", observed_since=100, now=110, duration=10)
    assert holder_of(lease("other")) == "other" and holder_of(None) == ""


def test_timing_needs_duration_above_deadline_above_retry():
    Timing(10, 7, 2)
    with pytest.raises(ValueError, match="leaseDuration > renewDeadline > retryPeriod"):
        Timing(5, 7, 2)
