"""Client-side rate limiting and retry timing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webscale.kube.ratelimit import TokenBucket, retry_after_seconds, retry_delay


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_bucket_lets_a_burst_through_then_paces_at_qps():
    clock = Clock()
    bucket = TokenBucket(qps=10, burst=3, clock=clock, sleep=clock.sleep)
    released = []
    for _ in range(3 + 20):
        bucket.acquire()
        released.append(clock.now)
    assert released[:3] == [0.0, 0.0, 0.0]  # the burst: no wait at all
    # then one request every 1/qps seconds, from the first on: 0.1, 0.2, ... 2.0
    assert released[3:] == pytest.approx([0.1 * i for i in range(1, 21)])


def test_a_quiet_spell_refills_up_to_the_burst_only():
    clock = Clock()
    bucket = TokenBucket(qps=10, burst=2, clock=clock, sleep=clock.sleep)
    bucket.acquire(), bucket.acquire()
    assert bucket.reserve() == pytest.approx(0.1)  # empty: the next token comes 1/qps later
    clock.now += 100  # 1,000 tokens' worth of quiet
    # two free (the burst), and the third waits as if the bucket had just been full, not 1,000 deep
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.1])


def test_retry_after_wins_and_is_capped():
    assert retry_delay(1, 3.0) == 3.0
    assert retry_delay(1, 600.0, cap=10) == 10
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


@given(st.integers(min_value=1, max_value=30), st.floats(min_value=0, max_value=1))
def test_backoff_is_jittered_within_its_exponential_bound(attempt, r):
    delay = retry_delay(attempt, None, base=0.2, cap=10, rand=lambda: r)
    assert 0 <= delay <= min(10, 0.2 * 2 ** (attempt - 1))
