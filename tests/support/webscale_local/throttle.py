"""One slow pod for the load-balancer benchmark (called by bench/lb.py): a CPU-throttled pod.

A container at its CPU limit is throttled by the kernel's CFS bandwidth control: in every period
(100 ms by default) it may run for its quota, then it stands still until the next period. A pod with
``limits.cpu: 250m`` whose own background work (a batch job, a GC, a cache warm-up) uses its quota
runs about 25 ms of every 100 ms; a request that arrives in the other 75 ms waits, however little
work it needs. This is the "one slow pod" most Kubernetes users meet, and unlike burning CPU on the
benchmark machine it slows that pod only: HAProxy, the client and the other pods keep their CPU.

`throttled` emulates it on a real app process with a bounded SIGSTOP / SIGCONT duty cycle and
always leaves the process running (SIGCONT) when the block ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator

PERIOD_MS = 100.0
"""CFS's default period (cpu.cfs_period_us = 100000)."""


@contextlib.contextmanager
def throttled(pid: int, run_ms: float, max_seconds: float, period_ms: float = PERIOD_MS) -> Iterator[None]:
    """While the block runs (at most `max_seconds`), `pid` runs `run_ms` of every `period_ms`."""
    if not 0 < run_ms < period_ms:
        raise ValueError(f"run_ms {run_ms} must be between 0 and the period {period_ms}")
    stop = threading.Event()

    def cycle() -> None:
        start = time.monotonic()
        for n in range(int(max_seconds * 1000 / period_ms)):  # bounded in count and time
            period_start = start + n * period_ms / 1000
            os.kill(pid, signal.SIGCONT)
            if stop.wait(max(0.0, period_start + run_ms / 1000 - time.monotonic())):
                return
            os.kill(pid, signal.SIGSTOP)
            if stop.wait(max(0.0, period_start + period_ms / 1000 - time.monotonic())):
                return

    thread = threading.Thread(target=cycle, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
