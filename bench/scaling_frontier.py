"""The autoscaling benchmark's frontier: every policy swept over its target utilisation.

Each policy (webscale, HPA, KEDA, KPA) runs at targets 0.50..0.95 on every trace and start-up of
bench/scaling.py; every run is scored against the oracle of the standard world (target 0.70), so
all points of a trace share one cost scale. `webscale.simulate.frontier` turns the points into
curves and reads webscale's curve at each peer point's time under capacity (iso-service cost);
`webscale.simulate.elasticity` gives the SPEC RG metrics at the 0.70 target. bench/scaling.py puts
`section(...)` into bench/results/scaling.md and writes the plots and the points (CSV).

Alone (prints the section, writes nothing; --coarse: targets 0.5, 0.7, 0.9 only):

    .venv/bin/python bench/scaling_frontier.py [--coarse] [--jobs N]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from frontier_report import elasticity_table, goal_table, iso_table, lever_table, plot_trace, points_csv
from reactive_envelope import ENVELOPE_TEXT, Bounds, envelope_table
from scaling_gap import KPA_DOWN
from scaling_world import REAL, STARTUPS, TRACES, scaled, world

from webscale.simulate import POLICIES, Trace, World, load_trace, simulate
from webscale.simulate.elasticity import Elasticity, elasticity
from webscale.simulate.engine import Policy
from webscale.simulate.fast_down import FastDown
from webscale.simulate.fast_signal import FastSignal, configured
from webscale.simulate.fast_up import FastUp
from webscale.simulate.frontier import Point, Standing, lower_frontier, standing
from webscale.simulate.shadow import Shadowed
from webscale.simulate.webscale_policy import Webscale, default_spec

TARGETS = tuple(round(0.50 + 0.05 * i, 2) for i in range(10))
"""Target utilisations of the sweep: 0.50 to 0.95 in steps of 0.05."""
COARSE = (0.5, 0.7, 0.9)
SWEPT = ("webscale", "hpa", "keda", "kpa")
NO_FAST = {"burst": {"fastSignal": {"enabled": False}}}
STEP8_DEFAULTS = {
    "headroom": {"window": "3m"},
    "behavior": {"scaleDown": {"stabilizationWindow": "60s", "rateWindow": "10m", "maxPercent": 25}},
}
"""The defaults chosen on one operating point (Step 8), before `bench/scaling_tune.py --frontier`
chose today's on the frontier of the tuning traces."""
LEVERS: dict[str, Callable[[World], Policy]] = {
    "webscale, without the fast signal": lambda w: Webscale(
        default_spec(w, NO_FAST), name="webscale, without the fast signal"
    ),
    "webscale, fast signal at 2x, held 60 s": lambda w: FastSignal(
        Webscale(default_spec(w, NO_FAST)), threshold=2.0, hold=60, name="webscale, fast signal at 2x, held 60 s"
    ),
    "webscale, without the headroom quantile": lambda w: configured(
        Webscale(default_spec(w, {"headroom": {"quantile": None}}), name="webscale, without the headroom quantile")
    ),
    "webscale, the KPA's scale-down": lambda w: configured(
        Webscale(default_spec(w, KPA_DOWN), name="webscale, the KPA's scale-down")
    ),
    "webscale, the Step 8 defaults": lambda w: configured(
        Webscale(default_spec(w, STEP8_DEFAULTS), name="webscale, the Step 8 defaults")
    ),
}
FORECASTS = {
    "webscale, without the forecast": {"behavior": {"scaleUp": {"leadTime": "0s"}}},
    "webscale, without the forecast check": {"behavior": {"scaleUp": {"checkedForecast": False}}},
}
"""The short-horizon trend forecast re-judged on the frontier: off (leadTime 0s), and acting always
instead of only while it has been closer to what came than no forecast (checkedForecast)."""
for _name, _auto in FORECASTS.items():
    LEVERS[_name] = lambda w, _name=_name, _auto=_auto: configured(Webscale(default_spec(w, _auto), name=_name))
AFTER_FAST = {
    "webscale, fast signal at 2.5x": {"burst": {"fastSignal": {"threshold": 2.5}}},
    "webscale, headroom quantile at 115 % of the target": {"headroom": {"percentOfTarget": 115}},
    "webscale, with a 5-minute long scale-down window": {"behavior": {"scaleDown": {"rateWindow": "5m"}}},
    "webscale, the KPA's scale-down with the headroom quantile": {
        "behavior": {"scaleDown": {"stabilizationWindow": "60s", "rateWindow": "0s", "maxPercent": 50}}
    },
}
"""Levers tried once the fast signal covers bursts: could the polls then keep fewer pods?"""
for _name, _auto in AFTER_FAST.items():
    LEVERS[_name] = lambda w, _name=_name, _auto=_auto: configured(Webscale(default_spec(w, _auto), name=_name))
FAST_DOWN = {
    "webscale, fast scale-down on the in-band rate": None,
    "webscale, fast scale-down, checked": 0.2,
}
"""The scale-down acting on the fast signal, the polls only as a brake (`simulate.fast_down`): plain,
and checked (off while its cuts are followed by shortfalls over 20 % of the time cut)."""
for _name, _tolerance in FAST_DOWN.items():
    LEVERS[_name] = lambda w, _name=_name, _tolerance=_tolerance: FastDown(
        configured(Webscale(default_spec(w))), tolerance=_tolerance, name=_name
    )
FAST_BOTH = "webscale, fast scale-up and the KPA's scale-down"
SHADOWED = "webscale, shadowed: the defaults or the fast one"


def _fast_both(w: World, name: str = FAST_BOTH) -> FastUp:
    """Sizing for the in-band 60 s mean every 2 s (`simulate.fast_up`) over the KPA's scale-down."""
    return FastUp(configured(Webscale(default_spec(w, KPA_DOWN))), name=name)


LEVERS[FAST_BOTH] = _fast_both
LEVERS[SHADOWED] = lambda w: Shadowed((configured(Webscale(default_spec(w))), _fast_both(w)), name=SHADOWED)
"""Per app, online: whichever of the defaults and the fast policy a shadow run of each on the load the
app got scores best (`simulate.shadow`: pods + 300 pod-seconds per second short, 1-hour half-life)."""
"""Levers swept like the policies, each a candidate to move webscale's curve (`lever_table`)."""
REFERENCE = 0.7
"""The standard world's target: its oracle is every point's cost unit; the elasticity metrics are
taken at it."""


FRONTIER_TEXT = """\
One operating point per policy cannot settle which autoscaler is better: a policy that runs hotter
is cheaper and more often short of capacity. So every policy (webscale, the HPA, KEDA, the KPA) is
swept over its target utilisation, 0.50 to 0.95 in steps of 0.05 (the HPA's and KEDA's
AverageValue, Knative's target x target-utilization, webscale's `requestsPerSecondPerWorker`),
everything else as in the world below, on every trace and start-up. Each run is a point: its
pod-seconds over the oracle of the standard world (target 0.70: one cost unit for every point of a
trace) against its share of seconds under capacity. Webscale's *curve* is the lower frontier of
its ten points (the points no other of its points beats on both axes), read between points by
linear interpolation and never beyond its first and last point. At each peer point whose time
under capacity the curve reaches, the *iso-service cost* is the curve's cost there over the peer's
(below 1: webscale needs fewer pods for the same service). A peer point *beats* the curve when it
dominates a point of it (below it, or with less time under capacity than its best point at no
more cost).

**The goal**, per trace and start-up: at every point of the HPA and the KPA that webscale's curve
reaches, at most **0.90x** their pod-seconds (stretch: 0.80x), and no point of theirs beating the
curve. The table's mean is over the lower frontier of the HPA's and the KPA's twenty points
together (the better of the two at each level of service; the worst is the same over all twenty).
Peer points the curve does not reach (less or more time under capacity than any of webscale's ten
points) are counted, not judged. Every point, with webscale's iso-service cost at
each peer point, is in `bench/results/scaling-frontier.csv`.

The elasticity metrics of the SPEC Research Group (Herbst et al., "Quantifying Cloud Performance
and Dependability", ACM TOMPECS 2018; the BUNGEE benchmark), per second, with d(t) the pods that
carry the load at full capacity (so timeshare_U is the time under capacity above) and s(t) the
ready pods: accuracy_U / accuracy_O the mean missing / surplus pods, timeshare_U / timeshare_O the
share of seconds with s < d / s > d, jitter the changes of s minus the changes of d per minute
(negative: fewer adaptations than the demand, too slow; positive: it oscillates). Surplus is
expected here: every policy aims at 70 % of capacity, so d is about 0.7x what each aims for."""


LEVER_TEXT = """\
**Moving the curve.** A lever is swept like the policies and judged on the frontier: its curve's
cost at each point of the defaults' lower frontier that it reaches, over the defaults' cost there
(mean; below 1 it lowers the curve; in brackets, how many of the defaults' frontier points it
reaches), and
its worst iso-service cost against the HPA's and the KPA's points next to the defaults'. It is
kept only when it lowers the curve on the tuning traces (by more than 1 %) and does not raise it
on the held-out ones. **The defaults were chosen on this frontier** (`bench/scaling_tune.py
--frontier`: 90 settings of the polls' headroom and scale-down, each swept over the ten targets on
the tuning traces at start-up 30 s, ranked by their curve's worst iso-service cost against the HPA's
and the KPA's frontier): the p90 of the last minute's per-scrape rates at the target, and the HPA's
scale-down (the highest recommendation of 5 minutes, then any number of pods at once, no long rate
window). *The Step 8 defaults* are the ones chosen before on one operating point (the p90 of
3 minutes; a 60 s window over a 10-minute mean, a quarter of the pods per 15 s). The defaults include burst mode on the in-band rate
(`autoscaling.burst.fastSignal`, the operator's `runtime/fast_signal.py`; simulated by
`webscale.simulate.fast_signal` with the same rule, `autoscaling.panic`): every 2 s the rate HAProxy
counted over the last 6 s (no scrape, no rate window); when it needs 3x the ready pods, the pods it
needs at once, no scale-down while that lasts, and the polls' own decision again at the first tick it
does not (hold 0 s: while the new pods start the ready pods do not grow, so the condition holds until
they serve). Chosen on the tuning traces among thresholds 2, 2.5, 3 and 4, holds 0, 15, 60 and 300 s
and panic windows 6 and 10 s. *Without the fast signal*: the polls alone (the defaults before it).
*Fast signal at 2x, held 60 s*: the KPA's panic (2x, no scale-down until 60 s after its condition was
last seen) on the same reader, instead. With the fast signal covering bursts, could the polls keep
fewer pods? Four levers ask: the fast signal at 2.5x; the headroom quantile allowed 115 % of the
target; a 5-minute long scale-down window added; the KPA's scale-down (below) keeping
the headroom quantile. A scale-down acting on the fast signal, with the polls
only as a brake (`webscale.simulate.fast_down`): every 2 s, when the in-band rate's mean over the
last 30 s needs fewer pods than the polls keep, cut to those (at most half the ready pods a tick,
as the KPA); *checked*, the same, but off while the seconds under capacity during a cut or within
one start-up after it exceed 20 % of the seconds spent cut (decaying with a 1-hour half-life).
Where the load stops for minutes between bursts (azure-code) the plain cut sheds to one pod in
every lull, and its whole curve lies at more time under capacity than any point of the defaults'
(a "-": nothing to compare at the same level of service). *Fast scale-up and the KPA's
scale-down*: every 2 s at least the pods the in-band rate's mean over the last 60 s needs (the
KPA's stable window, `webscale.simulate.fast_up`), over the KPA's scale-down. It sheds pods sooner
on every trace, which pays where the load does not come back within a start-up and costs service
where it does; so, per app and online, *shadowed* (`webscale.simulate.shadow`) runs the defaults
and the fast policy in shadow on the load the app got (the in-band rate every 2 s; each shadow with
its own pods, ready one start-up after they are asked for) and follows whichever scores lower: its
pods every second plus 300 pod-seconds for each second they would have been short (1-hour
half-life).
The trend forecast re-judged on the frontier: *without the forecast* (leadTime 0s: scale-up sizes
for the load now, not the load expected one start-up and a poll ahead) and *without the forecast
check* (the forecast acts always, not only while it has been closer to what came than no forecast).
Two more levers of the defaults re-judged on the frontier:
*without the headroom quantile* (size for the rate window's mean, not the p90 of the last minute) and *the KPA's scale-down*
(a 60 s window over the rate window's mean, at most half the pods per period, no long rate window,
no headroom quantile: the diagnostic of the gap table below)."""


@dataclass(frozen=True)
class Key:
    trace: str
    startup: int
    policy: str
    target: float


@dataclass(frozen=True)
class Result:
    pod_seconds: float
    seconds_over: int
    seconds: int
    elasticity: Elasticity | None
    """At the REFERENCE target only."""


_TRACES: dict[str, Trace] = {}


def _traces() -> dict[str, Trace]:
    """The scaled real traces, loaded once per process."""
    if not _TRACES:
        for t in REAL:
            _TRACES[t.label] = scaled(load_trace(str(TRACES / t.file)), t.label, t.source)
    return _TRACES


def run(key: Key) -> tuple[Key, Result]:
    """One policy at one target on one trace: pods needed d(t) are those that carry the load at full
    capacity (what time under capacity counts), pods supplied s(t) the ready ones."""
    trace = _traces()[key.trace]
    standard = world(key.startup)
    w = standard if key.policy == "oracle" else replace(standard, target_utilization=key.target)
    r = simulate(trace, {**POLICIES, **LEVERS}[key.policy](w), standard)
    metrics = None
    if key.target == REFERENCE and key.policy != "oracle":
        per_pod = standard.per_pod
        demand = [math.ceil(x / per_pod - 1e-9) for x in trace.rps]
        supply = [round(c / per_pod) for c in r.capacity]
        metrics = elasticity(demand, supply)
    return key, Result(r.pod_seconds, r.seconds_over, trace.seconds, metrics)


def sweep(labels: Sequence[str], startups: Sequence[int], targets: Sequence[float], jobs: int) -> dict[Key, Result]:
    """Every policy at every target on every trace and start-up, plus each oracle (at REFERENCE)."""
    keys = [Key(t, s, "oracle", REFERENCE) for t in labels for s in startups]
    keys += [Key(t, s, p, u) for t in labels for s in startups for p in (*SWEPT, *LEVERS) for u in targets]
    keys.sort(key=lambda k: (-_traces()[k.trace].seconds, k.policy != "webscale"))  # longest first
    if jobs <= 1:
        return dict(run(k) for k in keys)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return dict(pool.map(run, keys, chunksize=4))


def points(results: dict[Key, Result], trace: str, startup: int, policy: str) -> list[Point]:
    """The sweep of one policy as points: cost = pod-seconds over the oracle, under = % of seconds."""
    oracle = results[Key(trace, startup, "oracle", REFERENCE)].pod_seconds
    out = []
    for key, r in sorted(results.items(), key=lambda kv: kv[0].target):
        if (key.trace, key.startup, key.policy) == (trace, startup, policy):
            out.append(Point(key.target, r.pod_seconds / oracle, 100.0 * r.seconds_over / r.seconds))
    return out


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def section(
    labels: Sequence[str],
    tuned: set[str],
    startups: Sequence[int],
    results_dir: Path | None,
    targets: Sequence[float] = TARGETS,
    jobs: int | None = None,
) -> str:
    """The frontier section of scaling.md; with `results_dir`, also its plots and points CSV."""
    started = time.monotonic()
    results = sweep(labels, startups, targets, default_jobs() if jobs is None else jobs)
    print(
        f"scaling: frontier sweep of {len(results)} runs in {time.monotonic() - started:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    curves = {(t, s, p): points(results, t, s, p) for t in labels for s in startups for p in (*SWEPT, *LEVERS)}
    plots = []
    if results_dir is not None:
        for old in results_dir.glob("scaling-frontier-*.png"):
            old.unlink()
        for t in labels:
            path = results_dir / f"scaling-frontier-{t}.png"
            plot_trace(t, startups, {(s, p): curves[(t, s, p)] for s in startups for p in (*SWEPT, *LEVERS)}, path)
            plots.append(f"`{path.name}`")
        (results_dir / "scaling-frontier.csv").write_text(points_csv(curves), encoding="utf-8")

    def peers(t: str, s: int) -> Sequence[Point]:
        """The better of the HPA and the KPA at each level of service (the goal table's points)."""
        return lower_frontier([*curves[(t, s, "hpa")], *curves[(t, s, "kpa")]])

    def ours(t: str, s: int) -> Standing:
        return standing(curves[(t, s, "webscale")], peers(t, s))

    def inputs(t: str, s: int) -> tuple[Sequence[float], Bounds, float]:
        w = world(s)
        oracle = results[Key(t, s, "oracle", REFERENCE)].pod_seconds
        return _traces()[t].rps, Bounds(w.per_pod, w.min_replicas, w.max_replicas), oracle

    def known(t: str, s: int) -> list[Point]:
        return [p for policy in (*SWEPT, *LEVERS) for p in curves[(t, s, policy)]]

    metrics = {
        (k.trace, k.policy): r.elasticity
        for k, r in results.items()
        if k.startup == startups[0] and r.elasticity is not None
    }
    parts = [
        goal_table(labels, tuned, startups, curves),
        "",
        "Iso-service cost of webscale's curve at the points of each peer's own lower frontier, start-up "
        f"{startups[0]} s (mean / worst of the points it reaches; reached of the peer's frontier points):",
        "",
        iso_table(labels, startups[0], curves),
        "",
        f"Plots: {' '.join(plots)}." if plots else "",
        "",
        f"Elasticity at the {REFERENCE:.2f} target (start-up {startups[0]} s; SPEC RG metrics, see below):",
        "",
        elasticity_table(labels, SWEPT, metrics),
        "",
        LEVER_TEXT,
        "",
        lever_table(labels, tuned, startups, curves, list(LEVERS)),
        "",
        ENVELOPE_TEXT,
        "",
        envelope_table(labels, tuned, startups, peers, ours, inputs, known),
    ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coarse", action="store_true", help="targets 0.5, 0.7, 0.9 only")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="processes (default: up to 2)")
    args = parser.parse_args(argv)
    labels = [t.label for t in REAL]
    tuned = {t.label for t in REAL if t.tuned}
    print(section(labels, tuned, STARTUPS, None, COARSE if args.coarse else TARGETS, args.jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
