"""The oracle: it knows the future load, so it provisions exactly what load needs at the world's
target utilisation, starting each pod `startup_delay` seconds ahead. No policy that keeps load
within the target can cost less: every pod that is ready at some second s must exist from
s - startup_delay on. (A policy can cost less by running above the target.)"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from webscale.simulate.engine import View


def lookahead_need(view: View) -> tuple[int, ...]:
    """For every second s of the trace, the most pods the load needs in [s, s + startup_delay]
    (a sliding-window maximum, computed once)."""
    world, load = view.world, view.load
    horizon, n = world.startup_delay, len(load)
    needs = [world.need(load.at(s)) for s in range(n + horizon + 1)]
    window: deque[int] = deque()  # indexes of needs, their values decreasing
    out = []
    for s in range(n + horizon + 1):
        while window and needs[window[-1]] <= needs[s]:
            window.pop()
        window.append(s)
        start = s - horizon
        if start >= 0:
            while window[0] < start:
                window.popleft()
            out.append(needs[window[0]])
    return tuple(out[:n])


@dataclass(frozen=True)
class Oracle:
    name: str = "oracle"
    interval: int = 1

    def start(self, view: View) -> tuple[int, tuple[int, ...]]:
        plan = lookahead_need(view)
        return (plan[0] if plan else view.world.need(view.load.at(0))), plan

    def step(self, state: tuple[int, ...], view: View) -> tuple[int, tuple[int, ...]]:
        return state[min(view.now, len(state) - 1)], state
