"""Trace-driven simulation of autoscaling policies.

The same `webscale.autoscaling.decide.decide` the operator runs is replayed against a request-rate trace
in a simulated world (pods that take time to start, Prometheus metrics that lag) next to
models of the Kubernetes HPA, KEDA and Knative's KPA, and an oracle that knows the future.
`main(argv)` is what `webscale simulate ...` runs.
"""

from __future__ import annotations

from webscale.simulate.cli import main
from webscale.simulate.comparison import POLICIES, Comparison, Score, compare
from webscale.simulate.engine import Run, View, World, simulate
from webscale.simulate.traces import BUILT_IN, Trace, TraceError, load_trace, parse_csv

__all__ = [
    "BUILT_IN",
    "POLICIES",
    "Comparison",
    "Run",
    "Score",
    "Trace",
    "TraceError",
    "View",
    "World",
    "compare",
    "load_trace",
    "main",
    "parse_csv",
    "simulate",
]
