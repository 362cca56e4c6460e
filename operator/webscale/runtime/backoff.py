"""Per-key exponential back-off for failed reconciles (pure but for the clock it is given).

The model is controller-runtime's rate-limited queue (`AddRateLimited` / `Forget`, from client-go's
ItemExponentialFailureRateLimiter): the n-th consecutive failure of a key waits base * 2**(n-1),
never more than the cap, and a success forgets the key, so its next failure waits the base again.
One app failing over and over costs one retry per cap, not one every few seconds; the other apps'
keys keep their own counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

BASE_SECONDS = 0.1
"""The first retry's delay (controller-runtime: 5 ms; a reconcile here is heavier, so a bit more)."""
CAP_SECONDS = 300.0
"""The longest delay (5 minutes): a key failing for good is retried this often."""


class Backoff:
    """Consecutive failures per key, and when each key may be tried again."""

    def __init__(
        self, base: float = BASE_SECONDS, cap: float = CAP_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError(f"back-off needs 0 < base <= cap, got base {base} and cap {cap}")
        self.base = base
        self.cap = cap
        self.clock = clock
        self._failures: dict[Hashable, int] = {}

    def failed(self, key: Hashable) -> float:
        """Record one more failure of `key`; the delay before its retry (seconds)."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        # 2**failures overflows a float after ~1,000 failures: stop doubling once past the cap
        exponent = min(failures, 64)
        return min(self.cap, self.base * 2.0**exponent)

    def retry_at(self, key: Hashable) -> float:
        """Record a failure of `key`; the clock time at which to try it again."""
        return self.clock() + self.failed(key)

    def forget(self, key: Hashable) -> None:
        """`key` succeeded (or is gone): its next failure starts again at the base delay."""
        self._failures.pop(key, None)

    def failures(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    def __len__(self) -> int:
        """Keys currently backing off (bounded by the apps that exist: gone apps are forgotten)."""
        return len(self._failures)
