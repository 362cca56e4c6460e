"""A lever under test: scale-up on the fast in-band signal's stable window, as the KPA sizes.

The KPA sizes every 2 s for the mean of its last 60 s read from the pods; webscale's polls size from
Prometheus's rate[1m], one scrape interval and one poll later, and its burst mode on the in-band rate
acts only at 3x the ready pods. `FastUp` wraps a webscale policy: every `tick` seconds it asks for at
least the pods the in-band rate's mean over `window` seconds needs at the target, so a steady rise
is met as soon as the KPA would meet it; the wrapped policy's decision stands when it asks for more,
and it alone scales down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webscale.autoscaling.panic import pods_needed
from webscale.simulate.engine import View


@dataclass(frozen=True)
class FastUp:
    """`inner` and, every `tick` seconds, at least the pods the `window` s in-band mean needs."""

    inner: Any
    window: int = 60
    tick: int = 2
    name: str = "webscale, fast scale-up"
    interval: int = 1

    def start(self, view: View) -> tuple[int, Any]:
        replicas, state = self.inner.start(view)
        return replicas, (state, replicas, replicas)

    def step(self, state: Any, view: View) -> tuple[int, Any]:
        inner, slow, wanted = state
        if view.now % max(1, self.inner.interval) == 0:
            slow, inner = self.inner.step(inner, view)
        if view.now % self.tick == 0:
            target: float = self.inner.spec.autoscaling.target.requests_per_second_per_worker
            wanted = max(slow, pods_needed(view.recent_mean(self.window), target * view.world.workers_per_pod))
        else:
            wanted = max(wanted, slow)
        return wanted, (inner, slow, wanted)
