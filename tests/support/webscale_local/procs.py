"""Child processes of the local control plane: start, wait for ready, stop for sure."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

from webscale_local.ports import free_port
from webscale_local.waiting import WaitTimeout, wait_for

__all__ = [
    "ClusterError",
    "Component",
    "find_binary",
    "free_port",
    "http_ok",
    "port_free",
    "wait_started",
    "wait_until",
]
T = TypeVar("T")


class ClusterError(RuntimeError):
    """The control plane could not be built or started; the message says why."""


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
        return tail(self.log_path, lines)

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
    """Poll `check` until true; fail early (with its log) if a watched component dies. A probe that
    errors is just "not yet"."""

    def probe() -> bool:
        for comp in watch:
            if comp.proc is not None and comp.proc.poll() is not None:
                raise ClusterError(
                    f"{comp.name} exited with code {comp.proc.returncode} while waiting for {what}; "
                    f"its last log lines:\n{comp.log_tail()}"
                )
        return check()

    try:
        return bool(wait_for(probe, timeout, 0.25, what, give_up=(ClusterError,)))
    except WaitTimeout:
        if raise_on_timeout:
            tails = "\n".join(f"--- {c.name} ---\n{c.log_tail(10)}" for c in watch)
            raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}\n{tails}") from None
        return False


class _Exited(RuntimeError):
    pass


def wait_started(
    process: subprocess.Popen[bytes],
    ready: Callable[[], T],
    timeout: float,
    what: str,
    log: Callable[[], str],
    interval: float = 0.05,
) -> T:
    """Wait until `ready()` is truthy (returned) while `process` runs. RuntimeError with the end of
    `log()` when the process exits first or the deadline passes."""

    def probe() -> T:
        if process.poll() is not None:
            raise _Exited(f"{what}: the process exited with code {process.returncode}")
        return ready()

    try:
        return wait_for(probe, timeout, interval, what, give_up=(_Exited,))
    except (_Exited, WaitTimeout) as exc:
        raise RuntimeError(f"{exc}\n{log()}") from None


def find_binary(name: str, missing: type[Exception], how: str) -> str:
    """`name` itself when it is a path, else found on PATH or in /usr/sbin (where Debian puts
    daemons); `missing` saying `how` to install it when there is none."""
    path = name if os.path.isabs(name) else (shutil.which(name) or shutil.which(name, path="/usr/sbin"))
    if not path or not os.access(path, os.X_OK):
        raise missing(f"{name!r} not found: {how}")
    return path


def http_ok(url: str, timeout: float = 2) -> bool:
    """Does `url` answer 200 right now (a readiness endpoint)? Any error is False."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


def tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a log file ("(no log)" when it cannot be read)."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
