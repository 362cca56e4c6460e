"""Run the operator as in production: `webscale run` in its own process, against a test cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from webscale_local.launcher import LocalCluster
from webscale_local.ports import free_port


class OperatorProcess:
    """`webscale run` as a subprocess; stop() always ends it, kill() simulates a crash."""

    def __init__(self, cluster: LocalCluster, log_path: Path, **env: str) -> None:
        self.cluster = cluster
        self.log_path = log_path
        self.env = {
            **os.environ,
            "KUBECONFIG": str(cluster.kubeconfig),
            "WEBSCALE_LIVENESS_PORT": str(free_port()),
            "WEBSCALE_WAKE_PORT": str(free_port()),  # several operators may run at once here
            "WEBSCALE_LOG_FORMAT": "plain",
            # the wake loop and the fast signal dial HAProxy pods' IPs; the fake nodes' pods have 10.x
            # addresses the host must never send a packet to, so both stay off here (tests/e2e reads real
            # HAProxy on loopback)
            "WEBSCALE_WAKE_POLL_SECONDS": "0",
            "WEBSCALE_FAST_POLL_SECONDS": "0",
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

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.env['WEBSCALE_LIVENESS_PORT']}"

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The operator's own /metrics: (sample name, sorted labels) -> value."""
        with urllib.request.urlopen(f"{self.http}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def metric(self, name: str, **labels: str) -> float:
        """One sample's value (0 when absent)."""
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
