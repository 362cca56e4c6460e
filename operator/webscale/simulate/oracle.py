"""The oracle: it knows the future load, so it provisions exactly what load needs, starting each
pod `startup_delay` seconds ahead. No policy that keeps load within ready capacity can cost
less: every pod that is ready at some second s must exist from s - startup_delay on."""

from __future__ import annotations

from dataclasses import dataclass

from webscale.simulate.engine import View


@dataclass(frozen=True)
class Oracle:
    name: str = "oracle"
    interval: int = 1

    def start(self, view: View) -> tuple[int, None]:
        return view.future_need(view.world.startup_delay), None

    def step(self, state: None, view: View) -> tuple[int, None]:
        return view.future_need(view.world.startup_delay), None
