"""A bounded, paced HTTP load generator for loopback apps (Python threads, keep-alive); inside a real
node's network namespace (no default route: webscale_local.netns) also for its pods and Services.

    with Load(["http://127.0.0.1:3001"], rate=17.5, duration=60) as load:
        ...                       # requests flow at 17.5/s, spread over the URLs
        load.stop()               # or leave the block: stopped and joined either way
    load.stats.ok                 # requests answered 2xx
    load.stats.latencies          # seconds each of those took, request written to response read

Every load is bounded twice: by time (`duration`, seconds from start) and by count
(`max_requests`, default rate x duration). Request i is due at start + i / rate, so the
rate holds however fast the app answers (an open-loop generator; a late thread does not
send a burst to catch up beyond its own slot). Only 127.0.0.1 URLs are accepted, except inside
a harness-made network namespace with no default route.

Keep-alive as a browser does it: each thread keeps one connection per URL, and one that sat idle
longer than IDLE_REUSE seconds, or that the server has closed meanwhile (its socket reads EOF), is
replaced before the next request rather than reused. A server closes an idle connection after
its keep-alive timeout (the sample app's KEEP_ALIVE_TIMEOUT_MS, Node's 5 s; HAProxy's `timeout
http-keep-alive`, 4 s): a request written on it is lost (RemoteDisconnected), and that is the
client's doing, not the app's. No request is retried, so every failure the app causes counts.
"""

from __future__ import annotations

import http.client
import math
import select
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

REQUEST_TIMEOUT = 5.0
IDLE_REUSE = 2.0
"""Seconds a kept-alive connection may sit idle and still be reused: well below the keep-alive
timeouts of the servers loaded here (the sample app's 5 s, HAProxy's 4 s), so a request is never
written on a connection the server is closing at that moment."""
MAX_DURATION = 300.0


@dataclass
class LoadStats:
    """What a Load sent: totals and failures by kind."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    """Seconds each answered (2xx) request took, from writing it to reading the whole response (a new
    connection's connect is included), in the order they finished."""
    started: float | None = None
    stopped: float | None = None

    def record(self, error: str | None, latency: float) -> None:
        """Count one request: answered 2xx (error None, its latency kept) or failed by kind."""
        self.sent += 1
        if error is None:
            self.ok += 1
            self.latencies.append(latency)
        else:
            self.failed += 1
            self.errors[error] += 1

    def summary(self) -> str:
        """'1748 ok, 2 failed (RemoteDisconnected: 2)': the failures by kind, most frequent first."""
        kinds = ", ".join(f"{kind}: {n}" for kind, n in self.errors.most_common())
        return f"{self.ok} ok, {self.failed} failed" + (f" ({kinds})" if kinds else "")

    @property
    def achieved_rate(self) -> float:
        if self.started is None or self.stopped is None or self.stopped <= self.started:
            return 0.0
        return self.sent / (self.stopped - self.started)


class Load:
    """Paced GET requests to `urls` (round robin) from `connections` threads with keep-alive.

    rate: requests per second in total. duration: seconds after start() when sending stops.
    max_requests: hard cap on requests (default ceil(rate x duration)). path: what to GET.
    idle_reuse: seconds a kept-alive connection may sit idle and still be reused.
    """

    def __init__(
        self,
        urls: Sequence[str],
        rate: float,
        duration: float,
        max_requests: int | None = None,
        path: str = "/io?ms=1",
        connections: int = 2,
        idle_reuse: float = IDLE_REUSE,
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
        self.idle_reuse = idle_reuse
        self.stats = LoadStats()
        self._lock = threading.Lock()
        self._next = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._start_time = 0.0

    @staticmethod
    def _target(url: str) -> tuple[str, int]:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"load goes to http://<host>:<port>, not {url!r}")
        if parts.hostname != "127.0.0.1" and not _isolated():
            raise ValueError(
                f"load goes only to http://127.0.0.1:<port>, not {url!r}, unless this process runs inside a "
                "harness-made network namespace with no default route (a real node's: webscale_local.netns)"
            )
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
        conns: dict[tuple[str, int], KeptAlive] = {}
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
            for kept in conns.values():
                kept.conn.close()

    def _send(self, conns: dict[tuple[str, int], KeptAlive], target: tuple[str, int]) -> None:
        error = None
        kept = conns.get(target)
        if kept is not None and not kept.reusable(self.idle_reuse):
            kept.conn.close()
            kept = None
        if kept is None:
            kept = conns[target] = KeptAlive(http.client.HTTPConnection(*target, timeout=REQUEST_TIMEOUT))
        sent = time.monotonic()
        try:
            kept.conn.request("GET", self.path)
            resp = kept.conn.getresponse()
            resp.read()
            kept.used = time.monotonic()
            if resp.will_close:
                kept.conn.close()
                conns.pop(target, None)
            if not 200 <= resp.status < 300:
                error = f"HTTP {resp.status}"
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
            kept.conn.close()
            conns.pop(target, None)
        latency = time.monotonic() - sent
        with self._lock:
            self.stats.record(error, latency)


def _isolated() -> bool:
    """Inside a network namespace the harness made, which has no default route: there a packet to a
    Pod or Service address reaches the node's pods or fails at once, and never leaves the machine."""
    from webscale_local import netns  # only a real node's tests load a non-loopback address
    from webscale_local.procs import ClusterError

    try:
        netns.assert_inside()
    except ClusterError:
        return False
    return True


@dataclass
class KeptAlive:
    """A kept-alive connection and when its last response was read."""

    conn: http.client.HTTPConnection
    used: float = field(default_factory=time.monotonic)

    def reusable(self, idle_reuse: float) -> bool:
        """Idle for less than `idle_reuse` seconds, and not closed by the server (no EOF, nor anything, to read)."""
        if time.monotonic() - self.used > idle_reuse:
            return False
        sock = self.conn.sock
        if sock is None:
            return True  # not connected yet: request() connects
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)
