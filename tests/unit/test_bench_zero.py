"""bench/scale_to_zero.py's helpers: which traces have idle stretches, and that rewriting its section
of bench/results/scaling.md leaves the rest of the file as it was."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from webscale.simulate.traces import Trace

PATH = Path(__file__).resolve().parents[2] / "bench" / "scale_to_zero.py"
_spec = importlib.util.spec_from_file_location("scale_to_zero_bench", PATH)
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_idle_stretches_and_the_longest():
    trace = Trace("t", (1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0))
    assert bench.longest_idle(trace) == 4
    assert bench.idle_stretches(trace, 3) == 2 and bench.idle_stretches(trace, 2) == 3


def test_the_section_is_replaced_in_place_or_appended():
    new = f"{bench.START}\nnew\n{bench.END}"
    old = f"head\n\n{bench.START}\nold\n{bench.END}\n\ntail\n"
    assert bench.replace_section(old, new) == f"head\n\n{new}\n\ntail\n"
    assert bench.replace_section("head\n", new) == f"head\n\n{new}\n"


def test_the_committed_results_carry_the_section():
    text = (PATH.parent / "results" / "scaling.md").read_text(encoding="utf-8")
    assert text.count(bench.START) == 1 and text.count(bench.END) == 1
