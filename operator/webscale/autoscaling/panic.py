"""Burst mode on the in-band signal: the request rate read straight from the app's HAProxy pods (pure).

The KPA's edge over a Prometheus-fed autoscaler is that it reads its queue-proxies every 2 s. Webscale's
own load-balancer tier counts every request too, so the operator reads the rate from the HAProxy pods
every few seconds (`runtime.fast_signal`), Prometheus staying the source of record:

* panic starts (or goes on) when that rate needs at least `threshold` x the ready pods;
* while panicking the pods are at least the most the panic has asked for since it began (never fewer:
  no scale-down while panicking, as the KPA), and panic ends `hold` seconds after its condition was
  last seen (the operator's hold is 0: the long windows of the polls are the brake);
* otherwise the poll's own decision stands.

`panic_step` is the rule, shared by the operator and the simulator (`simulate.fast_signal`);
`in_band_rate` turns the counters read from the HAProxy pods into the rate the rule reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Panic:
    since: float | None = None
    """When the panic condition was last seen (None: not panicking)."""
    most: int = 0
    """The most pods the panic has asked for since it began."""


def pods_needed(rate: float, per_pod: float) -> int:
    """Pods that carry `rate` at `per_pod` requests per second each (a hair of float noise forgiven)."""
    return math.ceil(rate / per_pod - 1e-9) if per_pod > 0 else 0


def panic_step(
    slow: int, ready: int, fast_rate: float, per_pod: float, threshold: float, hold: float, now: float, state: Panic
) -> tuple[int, Panic]:
    """Pods wanted now, given the poll's own decision `slow`, the ready pods and the in-band rate; and
    the panic state to pass to the next round."""
    need = pods_needed(fast_rate, per_pod)
    since, most = state.since, state.most
    if need >= threshold * max(1, ready):
        since = now
    elif since is not None and now - since > hold:
        since, most = None, 0
    if since is None:
        return slow, Panic()
    most = max(most, need)
    return max(slow, most), Panic(since, most)


Samples = Sequence[tuple[float, float]]
"""One HAProxy pod's readings of its request counter, oldest first: (time, requests so far)."""


def in_band_rate(readings: Mapping[str, Samples], now: float, window: float, stale: float) -> float | None:
    """Requests per second the app's HAProxy pods served over about the last `window` seconds, summed
    over the pods; None when no pod has two readings to compare.

    Per pod: the newest reading against the oldest one at most `window` before it (or, when only the
    newest is that recent, the one just before: a pod read less often still gives its rate). A pod whose
    newest reading is older than `stale` seconds, or whose reading before the window is further than
    `stale` from the newest, is left out (a pair within the window is as far apart as the window asks);
    a counter that went down (HAProxy restarted) is compared only from the restart on."""
    total, seen = 0.0, False
    for samples in readings.values():
        if not samples or now - samples[-1][0] > stale:
            continue
        start = len(samples) - 1
        while start > 0 and samples[start - 1][1] <= samples[start][1]:
            start -= 1  # back to the last restart
        new_t, new_v = samples[-1]
        older = samples[start:-1]
        inside = [s for s in older if new_t - s[0] <= window]
        pair = inside[0] if inside else (older[-1] if older else None)
        if pair is None or new_t <= pair[0] or (not inside and new_t - pair[0] > stale):
            continue
        total += (new_v - pair[1]) / (new_t - pair[0])
        seen = True
    return total if seen else None
