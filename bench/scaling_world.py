"""The autoscaling benchmark's world and traces, shared by bench/scaling.py and the modules it uses:
the standard world, the real traces (which are tuning, which held out), their scaling to one peak,
and reading one policy's run out of a comparison."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from webscale.simulate import Comparison, Run, Trace, World

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TRACES = HERE / "traces"
PEAK = 2500.0
STARTUPS = (30, 20, 60)
"""Pod start-up of the headline world, then of the variants."""
POLICY_NAMES = ("webscale", "hpa", "keda", "kpa", "oracle")


@dataclass(frozen=True)
class RealTrace:
    file: str
    label: str
    source: str
    tuned: bool
    """The defaults were chosen on this trace (the others are held out)."""


REAL = (
    RealTrace("nasa-kennedy-1995-07-13.csv", "nasa", "NASA KSC web server, 1995-07-13, per minute", True),
    RealTrace("azure-llm-code-2023-11-16.csv", "azure-code", "Azure LLM inference API (code), 1 h, per 10 s", True),
    RealTrace("worldcup98-1998-06-30.csv", "worldcup98", "World Cup 98 web site, 1998-06-30, per minute", False),
    RealTrace("twitter-stream-2021-08-day22.csv", "twitter", "Twitter sample stream, 2021-08, 23.5 h, per 10 s", False),
    RealTrace(
        "azure-llm-conv-2023-11-16.csv", "azure-conv", "Azure LLM inference API (conversation), 1 h, per 10 s", False
    ),
)


def world(startup: int) -> World:
    """The standard world: 100 req/s per ready pod (2 workers x 50), target 70 %, Prometheus scraped
    every 15 s and read as rate[1m], 1..200 pods."""
    return World(
        startup_delay=startup,
        scrape_interval=15,
        rate_window=60,
        rps_per_worker=50.0,
        workers_per_pod=2,
        min_replicas=1,
        max_replicas=200,
        target_utilization=0.7,
    )


def scaled(trace: Trace, label: str, source: str) -> Trace:
    top = max(trace.rps)
    rps = tuple(v * PEAK / top for v in trace.rps)
    hours = len(rps) / 3600
    return Trace(label, rps, f"{source}; {hours:.1f} h, peak scaled to {PEAK:,.0f} req/s")


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f} %"


def row(c: Comparison, name: str) -> Run:
    return c.score(name).run
