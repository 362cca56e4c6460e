"""The liveness rule: a wedged loop and a loop whose every tick fails both fail /healthz."""

from __future__ import annotations

from webscale.runtime.health import TickHealth


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_liveness_fails_after_the_stale_ticks():
    clock = Clock()
    health = TickHealth(tick_seconds=1, stale_ticks=30, failed_ticks=3, clock=clock)
    health.ticked()
    clock.now = 129
    assert health.problem() is None
    clock.now = 131
    assert health.problem() == "scaling loop has not completed a tick for 31s"


def test_liveness_fails_when_the_ticks_keep_failing_and_recovers_with_one_good_tick():
    clock = Clock()
    health = TickHealth(tick_seconds=1, stale_ticks=30, failed_ticks=3, clock=clock)
    health.ticked("RecursionError: maximum recursion depth exceeded")
    health.ticked("RecursionError: maximum recursion depth exceeded")
    assert health.problem() is None  # two failures in a row: not yet
    health.ticked("RecursionError: maximum recursion depth exceeded")
    problem = health.problem()
    assert problem is not None
    assert problem.startswith("the last 3 scaling-loop ticks failed: RecursionError")
    health.ticked()
    assert health.problem() is None
    assert health.consecutive_failures == 0


def test_a_failure_between_good_ticks_does_not_accumulate():
    health = TickHealth(tick_seconds=1, stale_ticks=30, failed_ticks=2, clock=Clock())
    for _ in range(5):
        health.ticked("boom")
        health.ticked()
    assert health.problem() is None
