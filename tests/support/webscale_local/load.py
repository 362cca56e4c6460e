"""A bounded, paced HTTP load generator for loopback apps (Python threads, keep-alive).

    with Load(["http://127.0.0.1:3001"], rate=17.5, duration=60) as load:
        ...                       # requests flow at 17.5/s, spread over the URLs
        load.stop()               # or leave the block: stopped and joined either way
    load.stats.ok                 # requests answered 2xx

Every load is bounded twice: by time (`duration`, seconds from start) and by count
(`max_requests`, default rate x duration). Request i is due at start + i / rate, so the
rate holds however fast the app answers (an open-loop generator; a late thread does not
send a burst to catch up beyond its own slot). Only 127.0.0.1 URLs are accepted.
"""

from __future__ import annotations

import http.client
import math
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

REQUEST_TIMEOUT = 5.0
MAX_DURATION = 300.0


@dataclass
class LoadStats:
    """What a Load sent: totals and failures by kind."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    started: float | None = None
    stopped: float | None = None

    @property
    def achieved_rate(self) -> float:
        if self.started is None or self.stopped is None or self.stopped <= self.started:
            return 0.0
        return self.sent / (self.stopped - self.started)


class Load:
    """Paced GET requests to `urls` (round robin) from `connections` threads with keep-alive.

    rate: requests per second in total. duration: seconds after start() when sending stops.
    max_requests: hard cap on requests (default ceil(rate x duration)). path: what to GET.
    """

    def __init__(
        self,
        urls: Sequence[str],
        rate: float,
        duration: float,
        max_requests: int | None = None,
        path: str = "/io?ms=1",
        connections: int = 2,
    ) -> None:
        if not urls:
            raise ValueError("no URLs to load")
        if not 0 < rate <= 1000:
            raise ValueError(f"rate must be in (0, 1000] requests/s, not {rate}")
        if not 0 < duration <= MAX_DURATION:
            raise ValueError(f"duration must be in (0, {MAX_DURATION}] s, not {duration}")
        self.targets = [self._target(url) for url in urls]
        self.rate = rate
        self.duration = duration
        self.max_requests = max_requests if max_requests is not None else math.ceil(rate * duration)
        if self.max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        self.path = path
        self.connections = max(1, connections)
        self.stats = LoadStats()
        self._lock = threading.Lock()
        self._next = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._start_time = 0.0

    @staticmethod
    def _target(url: str) -> tuple[str, int]:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.port is None:
            raise ValueError(f"load only goes to http://127.0.0.1:<port>, not {url!r}")
        return parts.hostname, parts.port

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Load:
        self._start_time = time.monotonic()
        self.stats.started = self._start_time
        self._threads = [
            threading.Thread(target=self._run, name=f"load-{i}", daemon=True) for i in range(self.connections)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> LoadStats:
        """Stop sending and join the threads (bounded by the request timeout); returns the stats."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT + 2)
        if self.stats.stopped is None:
            self.stats.stopped = time.monotonic()
        return self.stats

    def wait(self) -> LoadStats:
        """Block until the load has run its course (duration or max_requests), then stop."""
        deadline = self._start_time + self.duration + REQUEST_TIMEOUT + 2
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return self.stop()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def _claim(self) -> int | None:
        """The index of the next request to send, or None when a bound is reached."""
        with self._lock:
            i = self._next
            if i >= self.max_requests or i / self.rate >= self.duration:
                return None
            self._next += 1
            return i

    def _run(self) -> None:
        conns: dict[tuple[str, int], http.client.HTTPConnection] = {}
        try:
            while not self._stop.is_set():
                i = self._claim()
                if i is None:
                    return
                due = self._start_time + i / self.rate
                delay = due - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                if time.monotonic() - self._start_time >= self.duration:
                    return
                self._send(conns, self.targets[i % len(self.targets)])
        finally:
            for conn in conns.values():
                conn.close()

    def _send(self, conns: dict[tuple[str, int], http.client.HTTPConnection], target: tuple[str, int]) -> None:
        error = None
        try:
            conn = conns.get(target)
            if conn is None:
                conn = conns[target] = http.client.HTTPConnection(*target, timeout=REQUEST_TIMEOUT)
            conn.request("GET", self.path)
            resp = conn.getresponse()
            resp.read()
            if resp.will_close:
                conn.close()
                conns.pop(target, None)
            if not 200 <= resp.status < 300:
                error = f"HTTP {resp.status}"
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
            stale = conns.pop(target, None)
            if stale is not None:
                stale.close()
        with self._lock:
            self.stats.sent += 1
            if error is None:
                self.stats.ok += 1
            else:
                self.stats.failed += 1
                self.stats.errors[error] += 1
