"""Scores as a text table, JSON, CSV or Markdown."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from webscale.simulate.comparison import Comparison

COLUMNS = (
    ("policy", "policy"),
    ("pod_seconds", "pod-seconds"),
    ("cost_ratio", "cost/oracle"),
    ("seconds_over", "s over capacity"),
    ("requests_over", "requests over capacity"),
    ("actions", "scaling actions"),
)


def rows(comparisons: list[Comparison]) -> list[dict[str, Any]]:
    """One flat record per trace and policy."""
    out = []
    for comparison in comparisons:
        trace = comparison.trace
        for score in comparison.scores:
            run = score.run
            out.append(
                {
                    "trace": trace.name,
                    "seconds": trace.seconds,
                    "requests": round(trace.requests, 1),
                    "policy": run.policy,
                    "pod_seconds": run.pod_seconds,
                    "cost_ratio": None if score.cost_ratio is None else round(score.cost_ratio, 4),
                    "seconds_over": run.seconds_over,
                    "requests_over": round(run.requests_over, 1),
                    "actions": run.actions,
                }
            )
    return out


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "cost_ratio":
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _heading(comparison: Comparison) -> str:
    trace = comparison.trace
    about = f"{trace.description}; " if trace.description else ""
    return f"{trace.name}: {about}{trace.seconds:,} s, {trace.requests:,.0f} requests"


def table(comparisons: list[Comparison]) -> str:
    """Aligned plain-text tables, one per trace."""
    blocks = []
    for comparison in comparisons:
        records = rows([comparison])
        cells = [[title for _, title in COLUMNS]]
        cells += [[_cell(key, r[key]) for key, _ in COLUMNS] for r in records]
        widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
        lines = [
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            for row in cells
        ]
        blocks.append("\n".join([_heading(comparison), *lines]))
    return "\n\n".join(blocks) + "\n"


def markdown(comparisons: list[Comparison], level: int = 3) -> str:
    """Markdown tables, one per trace, under a heading each."""
    blocks = []
    for comparison in comparisons:
        header = "| " + " | ".join(title for _, title in COLUMNS) + " |"
        rule = "|" + "|".join("---" if key == "policy" else "---:" for key, _ in COLUMNS) + "|"
        body = ["| " + " | ".join(_cell(k, r[k]) for k, _ in COLUMNS) + " |" for r in rows([comparison])]
        blocks.append("\n".join([f"{'#' * level} {_heading(comparison)}", "", header, rule, *body]))
    return "\n\n".join(blocks) + "\n"


def as_json(comparisons: list[Comparison]) -> str:
    return json.dumps(rows(comparisons), indent=2) + "\n"


def as_csv(comparisons: list[Comparison]) -> str:
    records = rows(comparisons)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]) if records else ["trace"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


FORMATS = {"table": table, "json": as_json, "csv": as_csv, "markdown": markdown}
"""Output formats by name."""
