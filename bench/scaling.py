"""Autoscaling benchmark: every built-in trace through every policy of `webscale.simulate`.

Writes bench/results/scaling.md (tables and an honest summary) and one plot per trace,
bench/results/scaling-<trace>.png. Deterministic: the same code gives the same files.

    .venv/bin/python bench/scaling.py
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from webscale.simulate import BUILT_IN, POLICIES, Comparison, World, compare
from webscale.simulate.engine import Policy
from webscale.simulate.plot import plot
from webscale.simulate.report import markdown
from webscale.simulate.webscale_policy import Webscale, default_spec

RESULTS = Path(__file__).resolve().parent / "results"
PEERS = ("hpa", "keda", "kpa")
OUTAGE = (420.0, 780.0)


def variant(name: str, autoscaling: dict[str, Any]) -> Callable[[World], Policy]:
    """webscale with spec overrides: what-if rows, not the defaults."""
    return lambda world: Webscale(default_spec(world, autoscaling), name=name)


UP_TOLERANCE_0 = {"scaleUp": {"tolerance": 0.0}}
HPA_SCALE_DOWN = {"scaleDown": {"maxPercent": 100, "period": "15s"}}
VARIANTS = {
    "webscale, scaleUp.tolerance 0": variant("webscale, scaleUp.tolerance 0", {"behavior": UP_TOLERANCE_0}),
    "webscale, scaleDown 100%/15s": variant("webscale, scaleDown 100%/15s", {"behavior": HPA_SCALE_DOWN}),
    "webscale, both": variant("webscale, both", {"behavior": {**UP_TOLERANCE_0, **HPA_SCALE_DOWN}}),
}


def pct(ours: float, theirs: float) -> str:
    return "n/a" if theirs == 0 else f"{(ours - theirs) / theirs * 100:+.1f} %"


def meets(c: Comparison, ours: str, peer: str) -> bool:
    mine, theirs = c.score(ours).run, c.score(peer).run
    return mine.seconds_over < theirs.seconds_over and mine.pod_seconds <= theirs.pod_seconds


def verdict_table(comparisons: list[Comparison], ours: str = "webscale") -> str:
    """One row per trace and peer: time over capacity, cost, and whether the goal is met."""
    lines = [
        "| trace | vs | s over capacity (webscale / peer) | cost of webscale vs peer | less time over at no more cost? |",
        "|---|---|---:|---:|---|",
    ]
    for c in comparisons:
        mine = c.score(ours).run
        for peer in PEERS:
            theirs = c.score(peer).run
            time = "less" if mine.seconds_over < theirs.seconds_over else "more"
            time = "same" if mine.seconds_over == theirs.seconds_over else time
            cost = "no more cost" if mine.pod_seconds <= theirs.pod_seconds else "more cost"
            verdict = "**yes**" if meets(c, ours, peer) else f"no: {time} time over, {cost}"
            lines.append(
                f"| {c.trace.name} | {peer} | {mine.seconds_over} / {theirs.seconds_over} | "
                f"{pct(mine.pod_seconds, theirs.pod_seconds)} | {verdict} |"
            )
    return "\n".join(lines)


def goal_count(comparisons: list[Comparison], ours: str) -> int:
    return sum(meets(c, ours, peer) for c in comparisons for peer in PEERS)


def facts(comparisons: list[Comparison], peer: str) -> str:
    """Where webscale has less / the same / more time over capacity than `peer`, and its cost."""
    groups: dict[str, list[str]] = {"less": [], "the same": [], "more": []}
    for c in comparisons:
        mine, theirs = c.score("webscale").run, c.score(peer).run
        key = "less" if mine.seconds_over < theirs.seconds_over else "more"
        key = "the same" if mine.seconds_over == theirs.seconds_over else key
        groups[key].append(
            f"{c.trace.name} ({mine.seconds_over} vs {theirs.seconds_over} s, cost "
            f"{pct(mine.pod_seconds, theirs.pod_seconds)})"
        )
    parts = [f"{key} time over capacity on {', '.join(items)}" for key, items in groups.items() if items]
    return "; ".join(parts)


def cut(comparisons: list[Comparison], trace: str) -> str:
    """How much scaleUp.tolerance 0 changes time over capacity and cost on one trace."""
    c = next(c for c in comparisons if c.trace.name == trace)
    base, tol0 = c.score("webscale").run, c.score("webscale, scaleUp.tolerance 0").run
    return (
        f"{base.seconds_over} -> {tol0.seconds_over} s, {pct(tol0.seconds_over, base.seconds_over)}, "
        f"for {pct(tol0.pod_seconds, base.pod_seconds)} pod-seconds"
    )


def main() -> int:
    world = World()
    traces = [make() for make in BUILT_IN.values()]
    runs = compare(traces, list(POLICIES), world)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for comparison in runs:
        plot(comparison, RESULTS / f"scaling-{comparison.trace.name}.png")
    outage_world = World(outages=(OUTAGE,))
    outage = compare([BUILT_IN["step"]()], list(POLICIES), outage_world)
    fast = compare(traces, ["webscale", *PEERS], World(scrape_interval=5, rate_window=20))
    what_if = compare(traces, ["webscale", *VARIANTS, *PEERS], world, VARIANTS)
    total = len(runs) * len(PEERS)
    text = TEMPLATE.format(
        world=world,
        per_pod=world.per_pod,
        settle=world.rate_window - world.scrape_interval,
        tables=markdown(runs),
        verdicts=verdict_table(runs),
        goal=goal_count(runs, "webscale"),
        total=total,
        vs_hpa=facts(runs, "hpa"),
        vs_keda=facts(runs, "keda"),
        vs_kpa=facts(runs, "kpa"),
        outage_start=OUTAGE[0] / 60,
        outage_end=OUTAGE[1] / 60,
        outage_table=markdown(outage, level=4),
        fast_verdicts=verdict_table(fast),
        fast_goal=goal_count(fast, "webscale"),
        variant_goals="\n".join(
            f"- `{name}`: {goal_count(what_if, name)} of {total}" for name in ["webscale", *VARIANTS]
        ),
        what_if_tables=markdown(what_if, level=4),
        ramp_cut=cut(what_if, "ramp"),
        diurnal_cut=cut(what_if, "diurnal"),
    )
    (RESULTS / "scaling.md").write_text(text, encoding="utf-8")
    print(f"wrote {RESULTS / 'scaling.md'} and {len(runs)} plots", file=sys.stderr)
    return 0


TEMPLATE = """\
# Autoscaling benchmark: webscale vs HPA, KEDA, Knative KPA (simulated)

Generated by `bench/scaling.py` (`.venv/bin/python bench/scaling.py`); do not edit by hand.
Every policy runs in the same simulated world (`webscale.simulate`): a pod carries load
{world.startup_delay} s after it is asked for; a ready pod carries {world.workers_per_pod} workers x \
{world.rps_per_worker:g} req/s; replicas {world.min_replicas}..{world.max_replicas}. Prometheus scrapes every \
{world.scrape_interval} s; webscale, the HPA and KEDA read `rate(...[{world.rate_window}s])` from it (the mean of the
samples inside the window, so a new level needs {settle} s to show fully);
Knative's KPA reads the pods directly every 2 s, as it does in a real cluster.

* **webscale**: `webscale.scaling.decide` itself with the default ScaledWebApp spec (15 s poll,
  tolerance 0.1, scale-up +4 pods or +100 % per 15 s, scale-down window 300 s then -50 % per
  60 s, burst at 2x ready capacity with a 60 s hold). Besides the windowed rate it reads the rate
  over the last two scrapes (`recent_rps`), which only starts and sizes burst mode.
* **hpa**: Kubernetes HPA v2, default behaviour, External metric with an AverageValue target of
  {per_pod:g} req/s per pod.
* **keda**: the same HPA fed by KEDA's Prometheus scaler, pollingInterval 30 s, fallback
  {{failureThreshold 3, replicas 6}}.
* **kpa**: Knative KPA defaults (60 s stable / 6 s panic window, panic at 200 %, scale rates
  1000 up / 2.0 down), with the same {per_pod:g} req/s per pod as its effective target.
* **oracle**: knows the future and starts each pod {world.startup_delay} s before load needs it: the
  cheapest schedule that never runs over capacity. A cost/oracle below 1 means a policy saved
  pods by running over capacity.

Columns: pod-seconds (cost: every pod that exists, starting or ready), cost/oracle, seconds in
which the offered load exceeded the ready capacity, the requests above that capacity, and the
number of replica changes.

## Results

{tables}
Plots: `scaling-<trace>.png` (top: load and each policy's ready capacity; bottom: pods).

### step, with Prometheus unreachable from minute {outage_start:g} to {outage_end:g}

The load needs 9 pods throughout the outage. webscale keeps the last good count (fallback
`hold`, and a failed poll never lowers replicas); the HPA freezes (ScalingActive=False); KEDA
falls back to its fixed `replicas: 6` after three failed polls and runs short until Prometheus
is back (kedacore/keda#965, #4249); KPA does not use Prometheus.

{outage_table}
## Summary

The goal was less time over capacity than HPA, KEDA and KPA at no more than their cost on every
trace. With the defaults, webscale meets it in **{goal} of {total}** (trace, peer) pairs:

{verdicts}

**Where webscale is better.** Against the HPA: {vs_hpa}. Against KEDA: {vs_keda}. Against KPA:
{vs_kpa}.

**Why, and where it falls short.**

* *Bursts (step, spike).* The windowed rate shows a surge slowly: one poll after a step it has
  caught a third of it, so the HPA climbs over three polls and KEDA over more. webscale's burst
  mode reads the rate of the last two scrapes, sees the surge at the first poll after it, and
  scales to it at once, skipping the rate limit. That halves the time over capacity; the rest is
  the 20 s pod start-up plus the wait for the poll. KPA is still faster: it ticks every 2 s on a
  6 s panic window read straight from the pods, where webscale polls every 15 s through
  Prometheus.
* *Slow change (ramp, diurnal) and noise.* Load never reaches 2x the ready capacity, so burst
  mode never starts, and webscale's decision is the HPA's: the same target, the same 10 % dead
  band, the same scale-up limits, the same 300 s scale-down window. Same time over capacity.
  Much of it is the dead band: load may sit up to 10 % above capacity without any action, and
  here the per-worker target *is* the capacity. KPA has no dead band and scales on a 60 s
  window, so it follows a ramp more closely; on noise the same eagerness makes it chase the
  noise (more time over capacity, many more actions).
* *Cost.* webscale never costs less than the HPA: on the way down it is gentler by design
  (300 s window, then at most -50 % per 60 s, where the HPA removes up to 100 % per 15 s), which
  costs pod-seconds after each drop, and burst mode starts pods a poll or two earlier. KPA is
  much cheaper everywhere: it scales down after a 60 s window, where webscale (like the HPA)
  waits 300 s for the highest recommendation to leave its window.
* *Outages.* webscale holds, never drops: on the step with Prometheus down it runs no more over
  capacity than without the outage, unlike KEDA's fixed fallback.

### What closes the rest of the gap (measured here, not applied)

1. **Fresher metrics** (the metrics adapter's rate window and the Prometheus scrape interval, not
   the decision engine). With a 5 s scrape and a 20 s window every Prometheus-fed policy gains;
   webscale then meets the goal in {fast_goal} of {total} pairs:

{fast_verdicts}

2. **Spec defaults** (models.py, not changed here). A scale-up tolerance of 0 (running under
   capacity is an SLO breach, running over it only costs; the scale-down tolerance and the
   300 s window still keep a steady load from flapping) cuts time over capacity on the ramp
   ({ramp_cut}) and the diurnal day ({diurnal_cut}). The HPA's
   scale-down rate (-100 % per 15 s) removes the extra cost after drops that comes from the
   gentler scale-down; what remains on the step and the spike is the price of burst mode's
   earlier pods. So no variant reaches "less time over at no more cost" against the HPA, and
   none comes near KPA's cost: that needs a scale-down window nearer KPA's 60 s, and the noisy
   trace shows what that costs in flapping. Pairs where each variant meets the goal:

{variant_goals}

The what-if runs, in the default world:

{what_if_tables}"""


if __name__ == "__main__":
    sys.exit(main())
