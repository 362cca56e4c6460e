"""Benchmark the local control plane: cold build, warm start to /readyz, nodes Ready, peak memory.

Writes bench/results/cluster.md. Run with `make bench` (or .venv/bin/python bench/cluster.py).
"""

from __future__ import annotations

import platform
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from webscale_local.launcher import LocalCluster, build

ROOT = Path(__file__).resolve().parents[1]

RUNS = 3


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def one_run(bin_dir: Path) -> dict[str, float]:
    cluster = LocalCluster(bin_dir=bin_dir)
    peak = {"kib": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak["kib"] = max(peak["kib"], sum(rss_kib(p) for p in cluster.pids()))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with cluster:
        # keep sampling a little while controllers settle with 3 nodes
        time.sleep(5)
        done.set()
        sampler.join()
        settled = sum(rss_kib(p) for p in cluster.pids())
    return {
        "readyz": cluster.timings["readyz"],
        "nodes_ready": cluster.timings["nodes_ready"],
        "peak_mib": peak["kib"] / 1024,
        "settled_mib": settled / 1024,
    }


def main() -> int:
    bin_dir = build()
    cold = (bin_dir / "build-seconds").read_text().strip() if (bin_dir / "build-seconds").exists() else "n/a"
    runs = [one_run(bin_dir) for _ in range(RUNS)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    rows = "\n".join(
        f"| {i + 1} | {r['readyz']:.1f} | {r['nodes_ready']:.1f} | {r['peak_mib']:.0f} | {r['settled_mib']:.0f} |"
        for i, r in enumerate(runs)
    )
    text = f"""# Local control plane

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {len(__import__("os").sched_getaffinity(0))} cores,
binaries in `{bin_dir}`.

Cold build (`tests/cluster/build.sh`, the first build on a new machine of this kind):
**{cold} s**. A warm machine rebuilds nothing (the output is keyed by the go.sum hash).

Warm start, {RUNS} runs (etcd + kube-apiserver + controller-manager + scheduler + kwok, 3 nodes):

| run | start to `/readyz` (s) | start to 3 nodes Ready (s) | peak RSS, all processes (MiB) | RSS 5 s later (MiB) |
| --- | --- | --- | --- | --- |
{rows}
| **median** | **{med["readyz"]:.1f}** | **{med["nodes_ready"]:.1f}** | **{med["peak_mib"]:.0f}** | **{med["settled_mib"]:.0f}** |

Goal: warm start to a usable cluster under 15 s — {"met" if med["nodes_ready"] < 15 else "NOT met"}
(median {med["nodes_ready"]:.1f} s).
"""
    out = ROOT / "bench" / "results" / "cluster.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
