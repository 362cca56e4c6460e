"""A real Prometheus (the Debian package) on loopback, with temporary storage.

    with start_prometheus(tmp_path, [("127.0.0.1:8001", {"namespace": "default", "app": "shop"})]) as prom:
        prom.url            # http://127.0.0.1:<port>
        prom.queries()      # the query log: every PromQL query Prometheus evaluated

The process is always stopped (terminate, then kill) and waited for on exit,
even when the body or the start-up fails. Never the system service: each call
starts its own process with its own config, storage and port.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webscale_local.ports import free_port
from webscale_local.procs import http_ok, tail, wait_started
from webscale_local.waiting import wait_for

PROMETHEUS = os.environ.get("WEBSCALE_PROMETHEUS_BIN", "/usr/bin/prometheus")
START_TIMEOUT = 30.0


class PrometheusMissing(RuntimeError):
    """/usr/bin/prometheus is not installed: tests fail (not skip) with how to fix it."""


@dataclass
class PrometheusHandle:
    """A running Prometheus started by `start_prometheus`."""

    url: str
    port: int
    config_path: Path
    query_log_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def stop(self) -> None:
        """Stop the process and wait for it (idempotent)."""
        _stop(self.process)

    def queries(self) -> list[str]:
        """The PromQL of every query evaluated so far, oldest first (from query_log_file)."""
        if not self.query_log_path.exists():
            return []
        out = []
        for line in self.query_log_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["params"]["query"])
        return out

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path> and return `data` (for test set-up, not for the code under test)."""
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=5) as resp:
            body = json.load(resp)
        return body["data"]

    def wait_for_targets_up(self, count: int, timeout: float = START_TIMEOUT) -> None:
        """Wait (bounded) until `count` active targets have been scraped successfully."""

        def health() -> list[str]:
            return [t["health"] for t in self.api("targets")["activeTargets"]]

        wait_for(lambda: health().count("up") >= count, timeout, 0.2, f"{count} Prometheus targets up")

    def last_log_lines(self, n: int = 30) -> str:
        return tail(self.log_path, n)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def prometheus_binary() -> str:
    """Path of the prometheus binary, or a clear error saying how to install it."""
    path = PROMETHEUS if os.path.exists(PROMETHEUS) else shutil.which("prometheus")
    if not path or not os.access(path, os.X_OK):
        raise PrometheusMissing(
            f"{PROMETHEUS} not found: run `make deps`, which installs the Debian package "
            "`prometheus` (apt-get install prometheus); the e2e tests need a real Prometheus"
        )
    return path


def write_config(
    path: Path,
    scrape_targets: Sequence[tuple[str, dict[str, str]]],
    scrape_interval: str,
    query_log_path: Path,
    extra_scrape_configs: Sequence[dict[str, Any]] = (),
) -> None:
    """Write prometheus.yml: one static_config per target with its labels set directly.

    JSON is valid YAML, so no YAML library is needed to write it.
    """
    config = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": scrape_interval,
            "query_log_file": str(query_log_path),
        },
        "scrape_configs": [
            {
                "job_name": "webscale-test",
                "static_configs": [{"targets": [target], "labels": dict(labels)} for target, labels in scrape_targets],
            },
            *extra_scrape_configs,
        ],
    }
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")


def operator_job(address: str, labels: dict[str, str]) -> dict[str, Any]:
    """A scrape job for the operator's /metrics as its ServiceMonitor scrapes it (honorLabels: true): the
    per-app series keep their own `namespace` (the app's) over the target's (the operator's)."""
    return {
        "job_name": "webscale-operator",
        "honor_labels": True,
        "static_configs": [{"targets": [address], "labels": dict(labels)}],
    }


@contextlib.contextmanager
def start_prometheus(
    tmp_path: Path,
    scrape_targets: Sequence[tuple[str, dict[str, str]]],
    scrape_interval: str = "1s",
    extra_scrape_configs: Sequence[dict[str, Any]] = (),
) -> Iterator[PrometheusHandle]:
    """Start Prometheus scraping `scrape_targets` ("host:port", labels); stop it on exit.

    extra_scrape_configs: more scrape_configs entries, e.g. a job with relabel_configs.
    """
    binary = prometheus_binary()
    workdir = Path(tmp_path) / f"prometheus-{time.monotonic_ns()}"
    workdir.mkdir(parents=True)
    config_path = workdir / "prometheus.yml"
    query_log_path = workdir / "queries.log"
    log_path = workdir / "prometheus.log"
    write_config(config_path, scrape_targets, scrape_interval, query_log_path, extra_scrape_configs)

    handle: PrometheusHandle | None = None
    last_error = ""
    try:
        for _attempt in range(3):  # a free port can be taken between free_port() and bind
            port = free_port()
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    [
                        binary,
                        f"--config.file={config_path}",
                        f"--storage.tsdb.path={workdir / 'data'}",
                        f"--web.listen-address=127.0.0.1:{port}",
                        "--web.enable-lifecycle",
                        "--log.level=info",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            handle = PrometheusHandle(
                url=f"http://127.0.0.1:{port}",
                port=port,
                config_path=config_path,
                query_log_path=query_log_path,
                log_path=log_path,
                process=process,
            )
            last_error = wait_ready(handle)
            if not last_error:
                break
            handle.stop()
            if "address already in use" not in tail(log_path, 50):
                break
        if last_error:
            raise RuntimeError(
                f"Prometheus did not start: {last_error}\n--- last log lines ({log_path}) ---\n{tail(log_path, 30)}"
            )
        assert handle is not None
        yield handle
    finally:
        if handle is not None:
            handle.stop()


def wait_ready(handle: PrometheusHandle) -> str:
    """'' when /-/ready answers 200 within START_TIMEOUT, else why not."""
    try:
        wait_started(handle.process, lambda: http_ok(f"{handle.url}/-/ready"), START_TIMEOUT, "/-/ready", lambda: "")
    except RuntimeError:
        code = handle.process.poll()
        return f"process exited with code {code}" if code is not None else f"/-/ready not 200 after {START_TIMEOUT}s"
    return ""
