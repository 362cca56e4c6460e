"""The drift resync, spread over its period (pure pacing, and the loop that follows it).

Every app is reconciled once per `resync_seconds` even without events. Queuing all of them at once
would make a burst of thousands of reconciles every period, which delays the scaling loop's
decisions that share the worker pool; spread evenly, the same work is a steady trickle.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence

from webscale.api.ref import AppRef

log = logging.getLogger(__name__)


def batch_sizes(apps: int, period: float, step: float) -> list[int]:
    """How many apps to queue at each of the ceil(period / step) steps of one period, as evenly as
    possible, earliest steps first (sums to `apps`; an empty period queues everything at once)."""
    steps = max(1, math.ceil(period / step)) if step > 0 else 1
    steps = min(steps, max(apps, 1))
    base, extra = divmod(apps, steps)
    return [base + (1 if i < extra else 0) for i in range(steps)]


async def resync_loop(
    period: float, step: float, apps: Callable[[], Sequence[AppRef]], add: Callable[[AppRef], None]
) -> None:
    """Queue every app once per `period`, spread over it (`batch_sizes`), until cancelled. `apps` is
    asked once per period (empty while not leading). A failure of one round is logged and the next
    round starts a period later: the resync never dies."""
    await asyncio.sleep(period)
    while True:
        try:
            refs = list(apps())
        except Exception:
            log.exception("resync: listing the apps failed; trying again in %gs", period)
            await asyncio.sleep(period)
            continue
        sizes = batch_sizes(len(refs), period, step)
        done = 0
        for size in sizes:
            for ref in refs[done : done + size]:
                try:
                    add(ref)
                except Exception:
                    log.exception("resync: queuing %s failed", ref)
            done += size
            await asyncio.sleep(period / len(sizes))
