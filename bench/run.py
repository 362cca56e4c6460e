"""`make bench`: run every benchmark; each writes its own file in bench/results/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHES = [
    [sys.executable, "bench/cluster.py"],
    [sys.executable, "bench/scaling.py"],
    [sys.executable, "bench/lb.py"],
    [sys.executable, "bench/fast_signal.py"],
    [sys.executable, "bench/scale.py"],  # the operator at 100, 1,000 and 5,000 apps: about 45 min on 2 cores
    ["node", "bench/sample_app.js"],
]


def main() -> int:
    failed = []
    for cmd in BENCHES:
        print(f"== {' '.join(cmd)}", flush=True)
        if subprocess.run(cmd, cwd=ROOT).returncode != 0:
            failed.append(" ".join(cmd))
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("bench: results in bench/results/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
