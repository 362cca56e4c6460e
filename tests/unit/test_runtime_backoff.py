"""Per-key exponential back-off: doubling from the base, capped, reset by success, per key."""

from __future__ import annotations

import pytest

from webscale.api.ref import AppRef
from webscale.runtime.backoff import BASE_SECONDS, CAP_SECONDS, Backoff

A, B = AppRef("ns", "a"), AppRef("ns", "b")


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_delays_double_from_the_base_up_to_the_cap():
    backoff = Backoff(base=0.005, cap=1.0, clock=Clock())
    delays = [backoff.failed(A) for _ in range(10)]
    assert delays == [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0]
    assert backoff.failures(A) == 10


def test_a_success_resets_the_key_and_other_keys_keep_their_own_count():
    backoff = Backoff(base=0.1, cap=300.0, clock=Clock())
    for _ in range(5):
        backoff.failed(A)
    assert backoff.failed(B) == 0.1  # B's first failure: A's count is A's
    backoff.forget(A)
    assert backoff.failed(A) == 0.1
    assert len(backoff) == 2
    backoff.forget(A)
    backoff.forget(B)
    assert len(backoff) == 0


def test_retry_at_is_the_clock_plus_the_delay():
    clock = Clock(50.0)
    backoff = Backoff(base=1.0, cap=8.0, clock=clock)
    assert backoff.retry_at(A) == 51.0
    clock.now = 60.0
    assert backoff.retry_at(A) == 62.0
    assert backoff.retry_at(A) == 64.0


def test_thousands_of_failures_stay_at_the_cap_without_overflow():
    backoff = Backoff(clock=Clock())
    for _ in range(5000):
        delay = backoff.failed(A)
    assert delay == CAP_SECONDS
    assert Backoff(clock=Clock()).failed(A) == BASE_SECONDS


@pytest.mark.parametrize(("base", "cap"), [(0, 1), (-1, 1), (2, 1)])
def test_a_nonsensical_configuration_is_refused(base: float, cap: float):
    with pytest.raises(ValueError, match="0 < base <= cap"):
        Backoff(base=base, cap=cap)
