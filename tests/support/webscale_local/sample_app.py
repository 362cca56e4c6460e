"""The real sample app (sample-app/bin/www.js, Express in cluster mode) on loopback.

    with start_sample_app(tmp_path, workers=1) as app:
        app.url                 # http://127.0.0.1:<port>
        app.requests_total()    # sum of http_requests_total on its /metrics

Each app runs `node sample-app/bin/www.js` with HOST=127.0.0.1 and PORT=0 (the
port is read from the primary's "listening" log line), in its own process
group so that stopping it ends the primary and every worker it forked. The
process is always stopped (SIGTERM to the group, then SIGKILL) and waited for
on exit, even when start-up fails. A missing `node` or missing
sample-app/node_modules is a clear failure, never a skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from webscale_local.procs import find_binary, tail, wait_started
from webscale_local.waiting import WaitTimeout, wait_for

ROOT = Path(__file__).resolve().parents[3]
APP_DIR = ROOT / "sample-app"
ENTRY = APP_DIR / "bin" / "www.js"
NODE = os.environ.get("WEBSCALE_NODE_BIN", "node")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
_SAMPLE = re.compile(r"^http_requests_total(\{[^}]*\})?\s+(\S+)")


class SampleAppMissing(RuntimeError):
    """node or the sample app's dependencies are not installed: tests fail (not skip) saying how to fix it."""


def node_binary() -> str:
    """Path of node, or a clear error saying how to install it."""
    path = find_binary(
        NODE, SampleAppMissing, "run `make deps` (installs Node.js 20+); the e2e tests run the real sample app"
    )
    if not (APP_DIR / "node_modules").is_dir():
        raise SampleAppMissing(f"{APP_DIR}/node_modules missing: run `npm ci` in {APP_DIR} (or `make deps`)")
    return path


@dataclass
class SampleApp:
    """A running sample app started by `start_sample_app`."""

    port: int
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    host: str = "127.0.0.1"
    """The loopback address it listens on (HOST=127.0.0.x gives each app its own address)."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        """host:port, as a Prometheus static target."""
        return f"{self.host}:{self.port}"

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as resp:
            return resp.read().decode()

    def requests_total(self) -> float:
        """Requests the app counted (all routes and statuses), from its own /metrics."""
        total = 0.0
        for line in self.metrics().splitlines():
            match = _SAMPLE.match(line)
            if match:
                total += float(match.group(2))
        return total

    def get(self, path: str) -> int:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as resp:
            resp.read()
            return resp.status

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after STOP_TIMEOUT; idempotent."""
        _stop_group(self.process)

    def last_log_lines(self, n: int = 20) -> str:
        return tail(self.log_path, n)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """End the primary and every worker of its process group, then reap the primary.

    The primary is waited for without reaping it (WNOWAIT) so that its process group id
    cannot be reused while the group is killed: only processes this fixture started are hit.
    """
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    if not _exited_unreaped(process.pid, STOP_TIMEOUT):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        _exited_unreaped(process.pid, STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # a worker left behind (the primary is not reaped yet)
    process.wait(timeout=STOP_TIMEOUT)


def _exited_unreaped(pid: int, timeout: float) -> bool:
    """Wait (bounded) until `pid` has exited, leaving it a zombie; True when it has."""

    def exited() -> bool:
        try:
            return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    try:
        return wait_for(exited, timeout, 0.05, f"process {pid} to exit")
    except WaitTimeout:
        return False


def _listening_port(log_path: Path) -> int | None:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("msg") == "listening":
                return int(entry["port"])
    return None


@contextlib.contextmanager
def start_sample_app(tmp_path: Path, workers: int = 1, **env: str) -> Iterator[SampleApp]:
    """Start the sample app with `workers` cluster workers on 127.0.0.1 (or HOST=127.0.0.x); stop it on exit."""
    node = node_binary()
    workdir = Path(tmp_path) / f"sample-app-{time.monotonic_ns()}"
    workdir.mkdir(parents=True)
    log_path = workdir / "app.log"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "HOST": "127.0.0.1",
        "PORT": "0",
        "WEB_CONCURRENCY": str(workers),
        "WEBSCALE_ANNOTATIONS_FILE": str(workdir / "annotations"),  # never a real /etc/podinfo
        "SHUTDOWN_DELAY_MS": "0",
        "SHUTDOWN_GRACE_MS": "3000",
        "LOG_LEVEL": "info",
        **env,
    }
    if not environment["HOST"].startswith("127."):
        raise ValueError(f"HOST={environment['HOST']!r}: the sample app only listens on loopback (127.0.0.0/8)")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [node, str(ENTRY)],
            cwd=APP_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        port = wait_started(
            process,
            lambda: _listening_port(log_path),
            START_TIMEOUT,
            "the sample app listening",
            lambda: tail(log_path),
        )
        app = SampleApp(port=port, log_path=log_path, process=process, host=environment["HOST"])
        wait_started(
            process,
            lambda: app.get("/healthz") == 200,
            max(0.1, deadline - time.monotonic()),
            "the sample app answering /healthz",
            app.last_log_lines,
        )
        yield app
    finally:
        _stop_group(process)
