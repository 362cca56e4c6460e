"""Run the operator as in production: `webscale run` in its own process, against a test cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from webscale_local.launcher import LocalCluster


class OperatorProcess:
    """`webscale run` as a subprocess; stop() always ends it, kill() simulates a crash."""

    def __init__(self, cluster: LocalCluster, log_path: Path, **env: str) -> None:
        self.cluster = cluster
        self.log_path = log_path
        self.env = {
            **os.environ,
            "KUBECONFIG": str(cluster.kubeconfig),
            "WEBSCALE_LIVENESS_PORT": "0",
            "WEBSCALE_LOG_FORMAT": "plain",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webscale.cli", "run"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, as when a node dies."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
