"""Is the scaling loop alive? (pure but for the clock it is given)

A loop can be wedged (no tick completes) or spinning (ticks complete, and every one fails: say the
app registry raises on every read). /healthz fails in both cases, so the pod is restarted instead
of a green probe hiding an operator that scales nothing: when no tick completed within
`stale_ticks` ticks, or the last `failed_ticks` ticks all failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TickHealth:
    """What the last ticks of the scaling loop did."""

    def __init__(
        self,
        tick_seconds: float,
        stale_ticks: int,
        failed_ticks: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tick_seconds = tick_seconds
        self.stale_ticks = stale_ticks
        self.failed_ticks = failed_ticks
        self.clock = clock
        self.last_tick = clock()
        self.consecutive_failures = 0
        self.last_error = ""

    def ticked(self, error: str | None = None) -> None:
        """A tick completed: successfully (error None) or not (why)."""
        self.last_tick = self.clock()
        if error is None:
            self.consecutive_failures = 0
            self.last_error = ""
        else:
            self.consecutive_failures += 1
            self.last_error = error

    def problem(self) -> str | None:
        """Why the loop is not live, or None when it is."""
        age = self.clock() - self.last_tick
        if age > self.tick_seconds * self.stale_ticks:
            return f"scaling loop has not completed a tick for {age:.0f}s"
        if self.consecutive_failures >= self.failed_ticks:
            return f"the last {self.consecutive_failures} scaling-loop ticks failed: {self.last_error}"
        return None
