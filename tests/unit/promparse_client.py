"""Prometheus's own PromQL parser (tests/promparse, built from the pinned Go module) as a client.

One process answers every query of a test session, one JSON line each way: ``parse(query)`` returns
``{"error": ...}`` or ``{"expr": <expr.String()>, "selectors": [{"kind", "name", "matchers"}]}``.
The binary is $WEBSCALE_PROMPARSE (the Makefile sets it), else the one `make promparse-build`
cached in ~/.cache/webscale (``tests/promparse/build.sh --cached``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

BUILD = Path(__file__).resolve().parents[1] / "promparse" / "build.sh"


def promparse_binary() -> str:
    binary = os.environ.get("WEBSCALE_PROMPARSE")
    if binary:
        return binary
    built = subprocess.run(["bash", str(BUILD), "--cached"], capture_output=True, text=True, timeout=60, check=False)
    if built.returncode != 0:  # a Go build is not started from a test: make promparse-build does it
        raise RuntimeError(f"no promparse binary (make promparse-build): {built.stderr.strip()[-500:]}")
    return built.stdout.strip()


class PromParse:
    """A running promparse process; `close` stops it."""

    def __init__(self, binary: str) -> None:
        self.proc = subprocess.Popen(
            [binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1
        )

    def parse(self, query: str) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(query) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"promparse exited ({self.proc.poll()}) on {query!r}")
        result: dict[str, Any] = json.loads(line)
        if "error" not in result:
            result.setdefault("selectors", [])  # promparse leaves an empty list out
        return result

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
