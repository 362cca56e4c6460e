"""How the scaling defaults were chosen: a grid of candidate specs on the TUNING traces only.

    .venv/bin/python bench/scaling_tune.py [--held-out] [--in-flight]
    .venv/bin/python bench/scaling_tune.py --frontier [--jobs N]

For each candidate, on each tuning trace of bench/scaling.py (in the standard 30 s world) it
computes the distance to the goal: max(time under capacity / the best of HPA and KPA, pod-seconds /
the cheaper of HPA and KPA) - both at most 1 (the time strictly below) means the goal is met on that
trace - and ranks candidates by the mean distance. --held-out also prints the held-out traces for
the ten best (for a look afterwards; they never rank anything). Not part of `make bench` (about
seven minutes on one core).

How the defaults are chosen now (Step 13): `--frontier` sweeps a smaller grid (90 settings) over the
ten targets of bench/scaling_frontier.py on the tuning traces and ranks each setting's curve by its
worst iso-service cost against the HPA's and the KPA's frontier, as the goal measures (about 12
minutes on 2 cores). Its first: the p90 over 1 minute and the HPA's scale-down (300s, no long
window, -100 % per period): worst 1.00x on nasa and 0.88x on azure-code, mean 0.94, against 1.02x
and 1.16x (mean 1.09) for the Step 8 defaults below, which rank 29th of 91. All 28 settings ranked
above them have the 300s window (28 of the 30 settings that have it). Those are the defaults now; bench/scaling.py
checks them against the Step 8 defaults on every trace and start-up (the lever table of the
frontier).

How the Step 8 defaults were chosen, on one operating point: they are this grid's best on the tuning traces (after the NASA
trace's outage minutes were filled, see bench/traces/nasa-kennedy-1995-07-13.md): headroom p90
over 3 minutes at the target, scale-down window 60s with -25 % per 15s, long scale-down window
10m, scale-up on the recent rate off. bench/scaling.py then checks every lever on the held-out
traces. An earlier, smaller grid on the NASA trace with its outages left in had picked a 1-minute
headroom window and a 120s window without the long one; that is what the corrected trace changed.

Re-tuned with the grid as it is now (the 0.8 quantile and a 5m long window added, scale-up on the
recent rate left out): the same defaults rank first (distance 1.159; next, -100 % per period at
1.178, then a 120s window with a 5m long window at 1.207), so they stay. With --in-flight, every
setting of target.inFlightPerWorker (for 70 to 95 % utilisation) ranks below the defaults (1.173
at 95 %, 2.219 at 70 %): the in-flight signal stays off. The seasonal prior cannot be tuned here
(the tuning traces are a day or less); bench/scaling.py shows it on the three-day NASA trace.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scaling_world import REAL, TRACES, scaled, world

from webscale.simulate import POLICIES, Run, Trace, load_trace, simulate
from webscale.simulate.fast_signal import configured
from webscale.simulate.frontier import lower_frontier, standing
from webscale.simulate.webscale_policy import Webscale, default_spec, in_flight_at


def candidates() -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """The grid: headroom quantile x window x percent of target, scale-down window, long window,
    scale-down rate. (Scale-up on the recent rate, in the first grid, never ranked near the top and
    loses on the held-out traces: it is left out to make room for the 0.8 quantile and a 5m long
    window.)"""
    out: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    grid = itertools.product(
        [None, 0.8, 0.9, 1.0],  # headroom quantile
        ["1m", "3m"],  # headroom window
        [100, 115],  # percentOfTarget
        ["0s", "60s", "120s", "300s"],  # scaleDown.stabilizationWindow
        ["0s", "5m", "10m"],  # scaleDown.rateWindow
        [100, 25],  # scaleDown.maxPercent per 15s
    )
    for q, hw, pct, dw, lw, dpct in grid:
        if q is None and (hw != "1m" or pct != 100):
            continue
        label = f"q={q} hw={hw} pct={pct} down={dw} long={lw} downMax={dpct}%"
        auto = {
            "headroom": {"quantile": q, "window": hw, "percentOfTarget": pct},
            "behavior": {"scaleDown": {"stabilizationWindow": dw, "rateWindow": lw, "maxPercent": dpct}},
        }
        out.append((label, auto, None))
    return out


def in_flight_candidates() -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """The defaults, alone and with target.inFlightPerWorker set for 70..95 % utilisation (read at the
    load balancer): does the in-flight signal bring the tuning traces closer to the goal?"""
    out: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [("defaults", {}, None)]
    for u in (0.7, 0.8, 0.85, 0.9, 0.93, 0.95):
        per_worker = round(in_flight_at(world(30), u), 3)
        out.append(
            (
                f"inFlightPerWorker={per_worker} ({u:.0%})",
                {"target": {"inFlightPerWorker": per_worker}},
                {"requestRateSource": "loadbalancer"},
            )
        )
    return out


def frontier_candidates() -> list[tuple[str, dict[str, Any]]]:
    """The grid of `candidates` the frontier ranks (each swept over ten targets, so a smaller one):
    headroom quantile off, 0.8 or 0.9 over 1 or 3 minutes at the target; scale-down window 0, 60 or
    300 s; long window 0, 5 or 10 minutes; -100 % or -25 % per period. Burst mode on the fast signal
    stays on (the defaults), as the operator runs."""
    out = []
    for label, auto, _ in candidates():
        head, down = auto["headroom"], auto["behavior"]["scaleDown"]
        if head["quantile"] in (1.0,) or head["percentOfTarget"] != 100 or down["stabilizationWindow"] == "120s":
            continue
        out.append((label, auto))
    return out


def rank_on_frontier(jobs: int) -> list[tuple[float, int, str, dict[str, float | None]]]:
    """Every frontier candidate swept like the policies of bench/scaling_frontier.py on the tuning
    traces (start-up 30 s), scored as the goal is: its curve's worst iso-service cost against the
    HPA's and the KPA's frontier on each tuning trace (a trace where it reaches no peer point scores
    9), averaged; ties go to fewer peer points beating the curve. Lowest first."""
    import scaling_frontier as sf

    grid = frontier_candidates()
    sf.LEVERS.clear()
    for label, auto in grid:
        sf.LEVERS[label] = lambda w, auto=auto, label=label: configured(Webscale(default_spec(w, auto), name=label))
    tuning = [t.label for t in REAL if t.tuned]
    results = sf.sweep(tuning, [30], sf.TARGETS, jobs)
    ranked = []
    for label in ["webscale", *(g[0] for g in grid)]:
        worst: dict[str, float | None] = {}
        beaten = 0
        for t in tuning:
            peers = lower_frontier([*sf.points(results, t, 30, "hpa"), *sf.points(results, t, 30, "kpa")])
            s = standing(sf.points(results, t, 30, label), peers)
            worst[t], beaten = s.worst, beaten + len(s.beaten_by)
        score = sum(9.0 if v is None else v for v in worst.values()) / len(worst)
        ranked.append((score, beaten, "defaults" if label == "webscale" else label, worst))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return ranked


def distance(run: Run, peers: dict[str, Run]) -> float:
    best_under = max(1, min(peers["hpa"].seconds_over, peers["kpa"].seconds_over))
    cheaper = min(peers["hpa"].pod_seconds, peers["kpa"].pod_seconds)
    return max(run.seconds_over / best_under, run.pod_seconds / cheaper)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held-out", action="store_true")
    parser.add_argument("--in-flight", action="store_true", help="rank the in-flight settings, not the grid")
    parser.add_argument("--frontier", action="store_true", help="rank a smaller grid on the frontier, as the goal")
    parser.add_argument("--jobs", type=int, default=2, help="processes for --frontier")
    args = parser.parse_args()
    if args.frontier:
        for score, beaten, label, worst in rank_on_frontier(args.jobs):
            cells = " ".join(f"{t}={'-' if v is None else f'{v:.3f}'}" for t, v in worst.items())
            print(f"{score:.3f} beaten by {beaten} {label} {cells}", flush=True)
        return 0
    w = world(30)
    traces: dict[str, tuple[Trace, bool]] = {
        t.label: (scaled(load_trace(str(TRACES / t.file)), t.label, t.source), t.tuned) for t in REAL
    }
    peers = {
        label: {p: simulate(trace, POLICIES[p](w), w) for p in ("hpa", "kpa", "oracle")}
        for label, (trace, _) in traces.items()
    }
    tuning = [label for label, (_, tuned) in traces.items() if tuned]
    ranked = []
    for label, auto, metrics in in_flight_candidates() if args.in_flight else candidates():
        runs = {t: simulate(traces[t][0], Webscale(default_spec(w, auto, metrics)), w) for t in tuning}
        score = sum(distance(runs[t], peers[t]) for t in tuning) / len(tuning)
        cells = " ".join(
            f"{t}={runs[t].pod_seconds / peers[t]['oracle'].pod_seconds:.3f}x/{runs[t].seconds_over}s" for t in tuning
        )
        print(f"{score:.3f} {label} {cells}", flush=True)
        ranked.append((score, label, auto, metrics))
    ranked.sort(key=lambda r: r[0])
    print("\nbest on the tuning traces:")
    for score, label, auto, metrics in ranked[:10]:
        line = f"{score:.3f} {label}"
        if args.held_out:
            for t, (trace, tuned) in traces.items():
                if not tuned:
                    run = simulate(trace, Webscale(default_spec(w, auto, metrics)), w)
                    line += f" {t}={run.pod_seconds / peers[t]['oracle'].pod_seconds:.3f}x/{run.seconds_over}s"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def merged(*parts: dict[str, Any]) -> dict[str, Any]:
    """Nested dicts merged, later parts winning (spec overrides on top of a candidate)."""
    out: dict[str, Any] = {}

    def merge(a: dict[str, Any], b: dict[str, Any]) -> None:
        for key, value in b.items():
            if isinstance(value, dict):
                merge(a.setdefault(key, {}), value)
            else:
                a[key] = value

    for part in parts:
        merge(out, part)
    return out
