"""`webscale simulate`: compare autoscaling policies on request-rate traces."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from webscale.simulate.comparison import POLICIES, compare
from webscale.simulate.engine import World
from webscale.simulate.plot import plot
from webscale.simulate.report import FORMATS
from webscale.simulate.traces import BUILT_IN, TraceError, load_trace, scaled


def parser() -> argparse.ArgumentParser:
    world = World()
    p = argparse.ArgumentParser(
        prog="webscale simulate",
        description="Run request-rate traces through webscale's scaling decision and through models of "
        "the Kubernetes HPA, KEDA and Knative's KPA; score cost (pod-seconds) and time over capacity "
        "against an oracle that knows the future.",
    )
    p.add_argument(
        "--trace",
        action="append",
        metavar="NAME|FILE.csv",
        help=f"a built-in trace ({', '.join(BUILT_IN)}) or a CSV of 't,rps' rows; repeatable (default: every built-in)",
    )
    p.add_argument(
        "--policy",
        action="append",
        choices=list(POLICIES),
        help="a policy to run; repeatable (default: all). The oracle always runs as the cost baseline.",
    )
    p.add_argument("--format", choices=list(FORMATS), default="table", help="output format (default: table)")
    p.add_argument("--plot", metavar="DIR", type=Path, help="also write DIR/scaling-<trace>.png per trace")
    p.add_argument("--startup-delay", type=int, default=world.startup_delay, help="seconds until a new pod is ready")
    p.add_argument("--scrape-interval", type=int, default=world.scrape_interval, help="Prometheus scrape interval, s")
    p.add_argument("--rate-window", type=int, default=world.rate_window, help="the W of rate(...[W]), s")
    p.add_argument(
        "--target-utilization",
        type=float,
        default=world.target_utilization,
        help="share of a pod's capacity (100 req/s) every autoscaler aims at, 0..1 (bench: 0.7)",
    )
    p.add_argument(
        "--replicas",
        default=f"{world.min_replicas}:{world.max_replicas}",
        metavar="MIN:MAX",
        help=f"replica bounds (default {world.min_replicas}:{world.max_replicas}; bench: 1:200)",
    )
    p.add_argument("--peak", type=float, metavar="RPS", help="scale each trace so its peak is RPS req/s (bench: 2500)")
    p.add_argument(
        "--outage",
        action="append",
        default=[],
        metavar="START:END",
        help="seconds during which Prometheus cannot be read (repeatable)",
    )
    return p


def _outage(text: str) -> tuple[float, float]:
    try:
        start, end = (float(part) for part in text.split(":"))
    except ValueError:
        raise TraceError(f"--outage {text!r}: expected START:END in seconds, e.g. 600:900") from None
    if not 0 <= start < end:
        raise TraceError(f"--outage {text!r}: START must be >= 0 and before END")
    return start, end


def _replicas(text: str) -> tuple[int, int]:
    try:
        low, high = (int(part) for part in text.split(":"))
    except ValueError:
        raise TraceError(f"--replicas {text!r}: expected MIN:MAX, e.g. 1:200") from None
    if not 1 <= low <= high:
        raise TraceError(f"--replicas {text!r}: MIN must be >= 1 and at most MAX")
    return low, high


def main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point for `webscale simulate ...`; returns the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already printed
        return int(exc.code or 0)
    try:
        if min(args.startup_delay, args.rate_window) < 0 or args.scrape_interval < 1:
            raise TraceError("--startup-delay and --rate-window must be >= 0, --scrape-interval >= 1")
        if not 0 < args.target_utilization <= 1:
            raise TraceError(f"--target-utilization must be in (0, 1], got {args.target_utilization:g}")
        if args.peak is not None and args.peak <= 0:
            raise TraceError(f"--peak must be > 0, got {args.peak:g}")
        low, high = _replicas(args.replicas)
        world = World(
            startup_delay=args.startup_delay,
            scrape_interval=args.scrape_interval,
            rate_window=args.rate_window,
            outages=tuple(_outage(o) for o in args.outage),
            target_utilization=args.target_utilization,
            min_replicas=low,
            max_replicas=high,
        )
        traces = [load_trace(name) for name in (args.trace or list(BUILT_IN))]
        if args.peak is not None:
            traces = [scaled(trace, args.peak) for trace in traces]
    except TraceError as exc:
        print(f"webscale simulate: error: {exc}", file=err)
        return 2
    comparisons = compare(traces, args.policy or list(POLICIES), world)
    out.write(FORMATS[args.format](comparisons))
    if args.plot is not None:
        for comparison in comparisons:
            path = plot(comparison, args.plot / f"scaling-{comparison.trace.name}.png")
            print(f"wrote {path}", file=err)
    return 0
