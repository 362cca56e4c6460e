"""The drift resync, spread over its period (pure pacing).

Every app is reconciled once per `resync_seconds` even without events. Queuing all of them at once
would make a burst of thousands of reconciles every period, which delays the scaling loop's
decisions that share the worker pool; spread evenly, the same work is a steady trickle.
"""

from __future__ import annotations

import math


def batch_sizes(apps: int, period: float, step: float) -> list[int]:
    """How many apps to queue at each of the ceil(period / step) steps of one period, as evenly as
    possible, earliest steps first (sums to `apps`; an empty period queues everything at once)."""
    steps = max(1, math.ceil(period / step)) if step > 0 else 1
    steps = min(steps, max(apps, 1))
    base, extra = divmod(apps, steps)
    return [base + (1 if i < extra else 0) for i in range(steps)]
