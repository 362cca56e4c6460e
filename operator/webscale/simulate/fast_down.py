"""A lever under test: a scale-down that acts on the fast in-band signal, the polls only as a brake.

The KPA sheds pods every 2 s from the mean of its last 60 s (at most half the ready pods a tick);
webscale's polls keep the p90 of the last minutes and then the 10-minute mean. `FastDown` wraps the
operator's defaults (`fast_signal.configured`): every `tick` seconds it sizes for the in-band rate's
mean over `window` seconds at the target, at least (1 - max_down) of the ready pods, and when that
is fewer pods than the polls' decision it *cuts* to it; otherwise the polls' decision stands (it
never scales up on its own).

Checked (`tolerance` set): a cut is trusted only while the cuts have not been followed by shortfalls.
Every second in which the in-band rate is over the ready pods' capacity, while a cut holds or within
one start-up after it (pods asked for back only serve then), counts against the cuts; while those
seconds exceed `tolerance` x the seconds spent cut (both decaying with `half_life`), the polls'
decision stands: the long window is the brake that engages where cutting has cost service.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from webscale.autoscaling.panic import pods_needed
from webscale.simulate.engine import View


@dataclass(frozen=True)
class CutRecord:
    cut_seconds: float = 0.0
    """Seconds spent below the polls' decision (decayed)."""
    short_seconds: float = 0.0
    """Seconds under capacity while cut or within one start-up after a cut (decayed)."""
    last_cut: float | None = None
    """The last second a cut held."""


def cut_to(slow: int, ready: int, rate: float, per_pod: float, max_down: float, trusted: bool) -> int:
    """Pods wanted at a tick: the pods `rate` needs at `per_pod`, at least (1 - max_down) of the ready
    pods and one, when that is fewer than the polls' decision `slow` and cuts are trusted; else `slow`."""
    candidate = max(pods_needed(rate, per_pod), math.ceil(ready * (1.0 - max_down)), 1)
    return candidate if trusted and candidate < slow else slow


def recorded(record: CutRecord, now: float, cutting: bool, short: bool, startup: float, half_life: float) -> CutRecord:
    """The record after one second: decayed, plus this second's cut and shortfall."""
    decay = 0.5 ** (1.0 / half_life) if half_life > 0 else 0.0
    cut, shortfall = record.cut_seconds * decay, record.short_seconds * decay
    last = now if cutting else record.last_cut
    if cutting:
        cut += 1.0
    if short and last is not None and now - last <= startup:
        shortfall += 1.0
    return CutRecord(cut, shortfall, last)


def trusted(record: CutRecord, tolerance: float | None) -> bool:
    """Cuts are trusted unless checked and their shortfalls exceed `tolerance` of the time cut."""
    return tolerance is None or record.short_seconds <= tolerance * max(record.cut_seconds, 1.0)


@dataclass(frozen=True)
class FastDown:
    """`inner` (the operator's defaults) and, every `tick` seconds, `cut_to` on the in-band rate."""

    inner: Any
    window: int = 30
    tick: int = 2
    max_down: float = 0.5
    tolerance: float | None = None
    half_life: float = 3600.0
    name: str = "webscale, fast scale-down"
    interval: int = 1

    def start(self, view: View) -> tuple[int, Any]:
        replicas, state = self.inner.start(view)
        return replicas, (state, replicas, replicas, CutRecord())

    def step(self, state: Any, view: View) -> tuple[int, Any]:
        inner, slow, wanted, record = state
        if view.now % max(1, self.inner.interval) == 0:
            slow, inner = self.inner.step(inner, view)
        short = view.recent_mean(self.tick) > view.ready * view.world.per_pod
        record = recorded(record, view.now, wanted < slow, short, view.world.startup_delay, self.half_life)
        if view.now % self.tick == 0:
            rate = view.recent_mean(self.window)
            wanted = cut_to(slow, view.ready, rate, self.per_pod(view), self.max_down, trusted(record, self.tolerance))
        elif wanted >= slow:
            wanted = slow
        return wanted, (inner, slow, wanted, record)

    def per_pod(self, view: View) -> float:
        """The target request rate per pod the wrapped spec aims at (its swept target)."""
        target: float = self.inner.spec.autoscaling.target.requests_per_second_per_worker
        return target * view.world.workers_per_pod
