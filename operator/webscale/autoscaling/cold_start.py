"""Cold starts measured from the load balancer's side (pure): request held -> pod ready -> served.

`runtime.wake` calls `step` every ~0.5 s for an app at zero or waking, with what the HAProxy pods
report (`reconcile.hold`: requests waiting, how long the oldest has waited, requests released to a
pod since the last read) and whether the app has a ready pod. A cold start begins when the oldest
waiting request arrived (HAProxy's own clock: exact, not rounded to the poll), the pod's readiness is
seen at the next poll after it (within ~0.5 s), and it ends when HAProxy releases the first held
request to a pod (it is then sent at once: "served" means handed to the pod, not answered).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ColdStart:
    """A cold start under way: when the first request was held and when a pod was first seen ready."""

    held_at: float
    ready_at: float | None = None


@dataclass(frozen=True)
class Measured:
    """A finished cold start, in seconds from the first held request."""

    to_ready: float
    to_served: float


def step(
    track: ColdStart | None, waiting: int, oldest: float, released: int, ready_pods: int, now: float
) -> tuple[ColdStart | None, Measured | None]:
    """The next state of one app's cold start, and its measurement when it just finished.

    released: requests released to a pod since the previous call; ready_pods: the app's ready pods."""
    if track is None:
        if waiting <= 0 and released <= 0:
            return None, None
        track = ColdStart(held_at=now - max(0.0, oldest))
    if ready_pods > 0 and track.ready_at is None:
        track = replace(track, ready_at=now)
    if released > 0:
        ready = track.ready_at if track.ready_at is not None else now
        return None, Measured(max(0.0, ready - track.held_at), max(0.0, now - track.held_at))
    if waiting <= 0:
        return None, None  # every held request timed out: nothing was served (the counters say so)
    return track, None
