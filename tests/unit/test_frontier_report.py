"""bench/frontier_report.py's points file reads back as the points it was given, lever names with
commas included."""

from __future__ import annotations

import csv
import importlib.util
import io
import sys
from pathlib import Path

from webscale.simulate.frontier import Point

BENCH = Path(__file__).resolve().parents[2] / "bench"
_spec = importlib.util.spec_from_file_location("frontier_report_bench", BENCH / "frontier_report.py")
assert _spec is not None and _spec.loader is not None
report = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = report
_spec.loader.exec_module(report)


def test_points_csv_quotes_names_with_commas_and_reads_back():
    lever = "webscale, fast scale-down, checked"
    curves = {
        ("nasa", 30, "webscale"): [Point(0.5, 1.2, 0.0), Point(0.9, 0.8, 2.0)],
        ("nasa", 30, "hpa"): [Point(0.7, 1.0, 1.0)],
        ("nasa", 30, lever): [Point(0.7, 0.95, 1.5)],
    }
    rows = list(csv.DictReader(io.StringIO(report.points_csv(curves))))
    assert len(rows) == 4 and all(None not in r for r in rows)
    assert {r["policy"] for r in rows} == {"webscale", "hpa", lever}
    hpa = next(r for r in rows if r["policy"] == "hpa")
    # webscale's curve at 1 % under: halfway from 1.2 to 0.8, over the HPA's 1.0
    assert float(hpa["webscale_iso_ratio"]) == 1.0 and hpa["target"] == "0.70"
    ours = [r for r in rows if r["policy"] == "webscale"]
    assert [r["webscale_iso_ratio"] for r in ours] == ["", ""]
