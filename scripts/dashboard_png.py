"""Draw the Grafana dashboard's panels (manifests/grafana/webscale-dashboard.json) as one PNG, from a real
Prometheus, with the dashboard's own queries: a picture of a run without running Grafana.

    .venv/bin/python scripts/dashboard_png.py --prometheus http://127.0.0.1:9090 --minutes 5 --out x.png

Grafana variables: $namespace and $app match all, $__rate_interval is --rate-interval. A panel whose
queries return nothing is drawn with "no data" (and listed on stderr): tests/e2e/test_dashboard_queries.py
renders its run with this and fails on such a panel.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "manifests" / "grafana" / "webscale-dashboard.json"
COLUMNS = 4


def query_range(url: str, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=30) as resp:
        body = json.load(resp)
    if body.get("status") != "success":
        raise RuntimeError(f"query failed: {expr}: {body}")
    return list(body["data"]["result"])


def legend(fmt: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt) or str(labels)


def render(url: str, out: Path, start: float, end: float, rate_interval: str) -> list[str]:
    """Write the PNG; returns the titles of panels without data."""
    board = json.loads(DASHBOARD.read_text())
    panels = [p for p in board["panels"] if p["type"] != "row"]
    rows = (len(panels) + COLUMNS - 1) // COLUMNS
    fig, axes = plt.subplots(rows, COLUMNS, figsize=(5 * COLUMNS, 3.2 * rows), squeeze=False)
    step = max(1.0, (end - start) / 300)
    unit, scale = ("seconds", 1.0) if end - start <= 600 else ("minutes", 60.0)
    empty = []
    for ax, panel in zip(axes.flat, panels, strict=False):
        drawn = 0
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", rate_interval)
            expr = expr.replace("$namespace", ".*").replace("$app", ".*")
            for s in query_range(url, expr, start, end, step):
                xs = [(float(t) - start) / scale for t, _ in s["values"]]
                ys = [float(v) for _, v in s["values"]]
                ax.plot(xs, ys, label=legend(target["legendFormat"], s["metric"]), linewidth=1.2)
                drawn += 1
        ax.set_title(panel["title"], fontsize=10)
        ax.set_xlabel(unit, fontsize=8)
        ax.set_xlim(0, (end - start) / scale)
        ax.tick_params(labelsize=7)
        if drawn:
            ax.legend(fontsize=6, loc="upper left")
        else:
            empty.append(panel["title"])
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="grey")
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(board["title"], fontsize=13)
    fig.tight_layout()
    fig.savefig(out, dpi=70)
    plt.close(fig)
    return empty


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prometheus", required=True, help="base URL of the Prometheus to read")
    parser.add_argument("--minutes", type=float, default=10, help="how far back from now")
    parser.add_argument("--rate-interval", default="1m", help="what $__rate_interval stands for")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = parser.parse_args(argv)
    end = time.time()
    empty = render(args.prometheus.rstrip("/"), args.out, end - args.minutes * 60, end, args.rate_interval)
    print(f"wrote {args.out}" + (f"; panels without data: {empty}" if empty else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
