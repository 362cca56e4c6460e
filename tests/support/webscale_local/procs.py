"""Child processes of the local control plane: start, wait for ready, stop for sure."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


class ClusterError(RuntimeError):
    """The control plane could not be built or started; the message says why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    """Nobody listens on 127.0.0.1:port and a new server could bind it (TIME_WAIT is fine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Component:
    """One process of the control plane, logging to its own file."""

    name: str
    args: list[str]
    log_path: Path
    ports: list[int]
    ready: Callable[[], bool]
    ready_timeout: float = 60
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )

    def wait_ready(self) -> None:
        wait_until(self.ready, self.ready_timeout, f"{self.name} to be ready", [self])

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def stop(self, grace: float = 10) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        else:
            _signal_group(self.proc.pid, signal.SIGKILL)  # reap anything it left in its group
        if self._log:
            self._log.close()
            self._log = None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    watch: Sequence[Component],
    raise_on_timeout: bool = True,
) -> bool:
    """Poll `check` until true; fail early (with its log) if a watched component dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for comp in watch:
            if comp.proc is not None and comp.proc.poll() is not None:
                raise ClusterError(
                    f"{comp.name} exited with code {comp.proc.returncode} while waiting for {what}; "
                    f"its last log lines:\n{comp.log_tail()}"
                )
        try:
            if check():
                return True
        except Exception:  # a probe that errors is just "not yet"
            pass
        time.sleep(0.25)
    if raise_on_timeout:
        tails = "\n".join(f"--- {c.name} ---\n{c.log_tail(10)}" for c in watch)
        raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}")
    return False
