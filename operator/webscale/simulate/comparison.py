"""Run policies side by side on traces and score them against the oracle."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from webscale.simulate.engine import Policy, Run, World, simulate
from webscale.simulate.fast_signal import configured
from webscale.simulate.hpa import Hpa
from webscale.simulate.keda import Keda
from webscale.simulate.kpa import Kpa
from webscale.simulate.oracle import Oracle
from webscale.simulate.traces import Trace
from webscale.simulate.webscale_policy import Webscale, default_spec


def _hpa(world: World) -> Hpa:
    return Hpa(world.target_per_pod, world.min_replicas, world.max_replicas)


POLICIES: dict[str, Callable[[World], Policy]] = {
    "webscale": lambda world: configured(Webscale(default_spec(world))),
    "hpa": _hpa,
    "keda": lambda world: Keda(_hpa(world)),
    "kpa": lambda world: Kpa(world.target_per_pod, world.min_replicas, world.max_replicas),
    "oracle": lambda world: Oracle(),
}
"""Every policy the simulator knows, by name, built for a world."""


@dataclass(frozen=True)
class Score:
    """One policy's result on one trace, with its cost relative to the oracle."""

    run: Run
    cost_ratio: float | None

    @property
    def policy(self) -> str:
        return self.run.policy


@dataclass(frozen=True)
class Comparison:
    """All policies on one trace."""

    trace: Trace
    scores: tuple[Score, ...]

    def score(self, policy: str) -> Score:
        return next(s for s in self.scores if s.policy == policy)


def compare(
    traces: Iterable[Trace],
    policies: Iterable[str],
    world: World,
    extra: Mapping[str, Callable[[World], Policy]] | None = None,
) -> list[Comparison]:
    """Each trace through each named policy; the oracle always runs (and is reported last when not
    named), as the cost baseline. `extra` adds policies by name (variants for a benchmark)."""
    known = {**POLICIES, **(extra or {})}
    names = list(dict.fromkeys([*policies, "oracle"]))
    for name in names:
        if name not in known:
            raise ValueError(f"unknown policy {name!r} (choose from {', '.join(known)})")
    out = []
    for trace in traces:
        oracle = simulate(trace, known["oracle"](world), world)
        runs = [oracle if name == "oracle" else simulate(trace, known[name](world), world) for name in names]
        scores = tuple(Score(run, run.pod_seconds / oracle.pod_seconds if oracle.pod_seconds else None) for run in runs)
        out.append(Comparison(trace, scores))
    return out
