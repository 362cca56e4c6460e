"""A lever under test: follow whichever of several policies a shadow run of each scores best.

The levers that shed pods sooner (the KPA's scale-down) lower the curve on some traces and raise it on
others: it depends on whether the load comes back within a start-up after a lull. An operator can
find out per app, online: it sees the in-band rate every 2 s and knows its pods' start-up, so it can
run each candidate policy in shadow against the load the app actually got, each with its own pods
(asked for, ready one start-up later, removed at once), and score each: its pods every second, plus
`penalty` pod-seconds for every second its ready pods would have been short of the load, decaying
with `half_life`. `Shadowed` follows the candidate with the lowest score (the first on a tie).
`shadow_step` and `score_step` are the rule.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from webscale.simulate.engine import View


@dataclass(frozen=True)
class Shadow:
    state: Any
    created: tuple[float, ...]
    """Creation time of each of the shadow's pods, oldest first."""
    score: float = 0.0


def score_step(score: float, pods: int, short: bool, penalty: float, half_life: float) -> float:
    """The score after one second: decayed, plus the pods kept and `penalty` if they were short."""
    decay = 0.5 ** (1.0 / half_life) if half_life > 0 else 0.0
    return score * decay + pods + (penalty if short else 0.0)


def resized(created: tuple[float, ...], wanted: int, now: float) -> tuple[float, ...]:
    """The shadow's pods after asking for `wanted`: new ones created now, the newest removed first."""
    if wanted == len(created):
        return created
    return created[:wanted] + (float(now),) * (wanted - len(created))


@dataclass(frozen=True)
class Shadowed:
    candidates: tuple[Any, ...]
    penalty: float = 300.0
    half_life: float = 3600.0
    name: str = "webscale, shadowed"
    interval: int = 1

    def start(self, view: View) -> tuple[int, Any]:
        shadows = []
        for candidate in self.candidates:
            replicas, state = candidate.start(view)
            shadows.append(Shadow(state, (-float(view.world.startup_delay),) * view.world.bounded(replicas)))
        return len(shadows[0].created), tuple(shadows)

    def step(self, state: Any, view: View) -> tuple[int, Any]:
        world, offered = view.world, view.recent_mean(2)
        shadows = []
        for candidate, shadow in zip(self.candidates, state, strict=True):
            inner, created = shadow.state, shadow.created
            if view.now % max(1, candidate.interval) == 0:
                ready = bisect_right(created, view.now - world.startup_delay)
                shadow_view = View(view.now, len(created), ready, view.load, world, view.flying)
                wanted, inner = candidate.step(inner, shadow_view)
                created = resized(created, world.bounded(wanted), view.now)
            ready = bisect_right(created, view.now - world.startup_delay)
            short = offered > ready * world.per_pod + 1e-9
            shadows.append(
                Shadow(inner, created, score_step(shadow.score, len(created), short, self.penalty, self.half_life))
            )
        best = min(range(len(shadows)), key=lambda i: (shadows[i].score, i))
        return len(shadows[best].created), tuple(shadows)
