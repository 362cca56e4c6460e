"""Client-side rate limiting and retry timing (pure apart from the clock it is given).

`TokenBucket` spaces requests as client-go's flowcontrol does (qps with a burst); `retry_delay`
says how long to wait before retrying a throttled or failed request: the server's Retry-After when
it sent one, else exponential backoff with full jitter, capped.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class TokenBucket:
    """`qps` tokens per second, at most `burst` saved up. `acquire` blocks until a token is free."""

    def __init__(
        self,
        qps: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.qps, self.burst = qps, max(1, burst)
        self._clock, self._sleep = clock, sleep
        self._tokens = float(self.burst)
        self._at = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token; returns how long the caller must wait before using it (0 when one was free)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.qps)
            self._at = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def acquire(self) -> float:
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


def retry_after_seconds(header: str | None) -> float | None:
    """The Retry-After header in seconds (the API server sends whole seconds); None when absent or bad."""
    if not header:
        return None
    try:
        value = float(header.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def retry_delay(
    attempt: int,
    retry_after: float | None,
    base: float = 0.2,
    cap: float = 10.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number `attempt` (1-based): Retry-After wins (capped), else
    full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(attempt-1))]."""
    if retry_after is not None:
        return min(retry_after, cap)
    return rand() * min(cap, base * 2.0 ** (attempt - 1))
