"""The fast signal: every few seconds the leader reads the request counter of the HAProxy pods of the
warm apps, and burst mode acts on that in-band rate at once (`autoscaling.panic`).

Prometheus sees a surge a scrape and a rate window late; the app's own HAProxy pods count every request
as it is served. Every `Settings.fast_poll_seconds` (2 s) the leader reads ``/metrics?scope=backend``
of the HAProxy pods (the exporter they already serve to Prometheus; only the backend section) of each
app that uses the signal (`uses_fast_signal`) and keeps the last readings of
``haproxy_backend_http_requests_total{proxy="pods"}`` per pod; `Autoscaler.panic` then decides on
`in_band_rate`.

Bounded fan-out: a round reads at most `Settings.fast_reads_per_round` pods (`take_turns`), through at
most `FAN_OUT` connections at once, each given `READ_TIMEOUT`. With more HAProxy pods than that, the
apps take turns: each app is then read every ceil(pods / budget) rounds, and its rate spans the longer
gap (`in_band_rate`). So the cost per round is bounded whatever the number of apps (5,000 apps with two
HAProxy pods each: 10,000 pods, read in turns of 200 every 2 s, each app about every 100 s). Only pods
of the app's own HAProxy ReplicaSet, in its namespace, are asked (`runtime.held.haproxy_pod_urls`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from webscale.api.app import App
from webscale.api.autoscaling_spec import FAST_WINDOW_MAX
from webscale.api.durations import seconds
from webscale.api.ref import AppRef
from webscale.autoscaling.act import Autoscaler
from webscale.autoscaling.panic import in_band_rate
from webscale.kube.cache import ClusterView, own_deployment
from webscale.kube.client import NotLeader, failure_reason
from webscale.lasting import Lasting
from webscale.promql.queries import LB_REQUESTS_METRIC
from webscale.reconcile.haproxy_config import BACKEND
from webscale.runtime.held import haproxy_pod_urls
from webscale.runtime.pod_reads import finite, read_pods

log = logging.getLogger(__name__)

STATS_PATH = "/metrics?scope=backend"
"""The backend section of the HAProxy pods' Prometheus exporter (about 13 kB a pod)."""
READ_TIMEOUT = 0.5
"""Per pod, in all: one that has not answered within this is left out of this round."""
MAX_BODY = 256 * 1024
FAN_OUT = 16
"""Pods read at once."""


def keep(interval: float) -> int:
    """Readings kept per pod: the longest window autoscaling.burst.fastSignal.window allows (1m) read
    every `interval` seconds, and one before it (32 at 2 s)."""
    return math.ceil(seconds(FAST_WINDOW_MAX) / max(interval, 0.5)) + 2


STALE_FACTOR = 4
"""A pod's reading older than this many rounds (or a pair of readings further apart) is not used,
unless the apps take turns: then the turn's length is allowed (`FastSignal.stale`)."""
SAMPLE = f'{LB_REQUESTS_METRIC}{{proxy="{BACKEND}"}} '

Reader = Callable[[Sequence[str]], dict[str, float | None]]
"""URLs -> {url: requests counted, or None when the pod did not answer}."""


def parse_requests(text: str) -> float | None:
    """The backend's request counter in one exporter answer (None when it is not there, or not a count)."""
    for line in text.splitlines():
        if line.startswith(SAMPLE):
            with contextlib.suppress(ValueError, IndexError):
                value = float(line[len(SAMPLE) :].split()[0])
                return value if finite(value) else None
    return None


def read_requests(urls: Sequence[str]) -> dict[str, float | None]:
    """Read every URL, `FAN_OUT` at a time, each within `READ_TIMEOUT` in all; a pod that fails answers None."""
    return read_pods(urls, parse_requests, READ_TIMEOUT, MAX_BODY, FAN_OUT)


def uses_fast_signal(app: App, deployment: dict[str, Any] | None) -> bool:
    """The app's burst mode reads the in-band rate: a valid, live, unpaused app scaled by the operator
    (mode auto) through an HAProxy tier, with requests per second as its target unit (no
    metrics.requestRate), fastSignal enabled, and pods (an app at zero is the wake loop's)."""
    if app.deleting or not app.valid or app.paused or deployment is None:
        return False
    spec = app.valid_spec
    return (
        spec.autoscaling.mode == "auto"
        and spec.autoscaling.burst.fast_signal.enabled
        and spec.load_balancer.provider == "haproxy"
        and spec.metrics.request_rate is None
        and int(deployment.get("spec", {}).get("replicas") or 0) > 0
    )


def take_turns(
    wanted: Sequence[tuple[AppRef, Sequence[str]]], budget: int, cursor: int
) -> tuple[list[tuple[AppRef, Sequence[str]]], int]:
    """The apps read this round, whole apps in turn from `cursor` (wrapping) until the next would take
    the round past `budget` pods (at least one app a round); and the cursor for the next round (pure)."""
    if not wanted:
        return [], 0
    start = cursor % len(wanted)
    chosen: list[tuple[AppRef, Sequence[str]]] = []
    pods = 0
    for i in range(len(wanted)):
        ref, urls = wanted[(start + i) % len(wanted)]
        if chosen and pods + len(urls) > budget:
            return chosen, (start + i) % len(wanted)
        chosen.append((ref, urls))
        pods += len(urls)
    return chosen, start


class FastSignal:
    """The readings of the HAProxy pods and the turn of the apps (leader only; blocking rounds)."""

    def __init__(
        self,
        autoscaler: Autoscaler,
        view: ClusterView,
        apps: Callable[[], list[App]],
        interval: float,
        budget: int,
        read: Reader = read_requests,
        locks: Callable[[AppRef], contextlib.AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.autoscaler = autoscaler
        self.view = view
        self.apps = apps
        self.interval = interval
        self.budget = budget
        self.read = read
        self.locks = locks
        """The app's lock (runtime.locks): a poll's act step and this round never write the app at once."""
        self.readings: dict[str, deque[tuple[float, float]]] = {}
        self.keep = keep(interval)
        self.cursor = 0
        self.turn = 1
        """Rounds between two readings of the same app (1 while every app fits one round)."""
        self.failures = Lasting(log)
        """Apps whose decision fails: logged when it starts, changes and ends, not every round."""

    def stale(self) -> float:
        return STALE_FACTOR * self.interval * self.turn

    def wanted(self) -> list[tuple[App, list[str]]]:
        out = []
        for app in self.apps():
            if not uses_fast_signal(app, own_deployment(self.view, app)):
                continue
            urls = haproxy_pod_urls(self.view, app, STATS_PATH)
            if urls:
                out.append((app, urls))
        return sorted(out, key=lambda pair: (pair[0].namespace, pair[0].name))

    def tick(self, now: float) -> None:
        """One round: read this turn's apps and let each decide on its in-band rate."""
        wanted = self.wanted()
        pods = sum(len(urls) for _, urls in wanted)
        self.turn = max(1, math.ceil(pods / self.budget))
        by_ref = {app.ref: app for app, _ in wanted}
        self.failures.keep_only(by_ref)
        chosen, self.cursor = take_turns([(app.ref, urls) for app, urls in wanted], self.budget, self.cursor)
        live = {url for _, urls in wanted for url in urls}
        for url in list(self.readings):
            if url not in live:
                self.readings.pop(url)  # a pod gone, an app no longer using the signal
        counts = self.read([url for _, urls in chosen for url in urls])
        for ref, urls in chosen:
            for url in urls:
                count = counts.get(url)
                if count is not None:
                    self.readings.setdefault(url, deque(maxlen=self.keep)).append((now, count))
            app = by_ref[ref]
            window = seconds(app.valid_spec.autoscaling.burst.fast_signal.window)
            rate = in_band_rate({u: list(self.readings.get(u, ())) for u in urls}, now, window, self.stale())
            if rate is None:
                continue
            try:
                with self.locks(ref) if self.locks is not None else contextlib.nullcontext():
                    self.autoscaler.panic(app, rate, now)
            except NotLeader:
                continue  # leadership went while this round ran
            except Exception as exc:
                why = failure_reason(exc)
                self.failures.failed(ref, why, "%s: fast-signal decision failed: %s", app.key, why, traceback=True)
            else:
                self.failures.recovered(ref, "%s: fast-signal decisions work again", app.key)


async def fast_loop(fast: FastSignal, leading: Callable[[], bool]) -> None:
    """Run `FastSignal.tick` every `fast.interval` seconds while this replica leads (0: off)."""
    if fast.interval <= 0:
        return
    while True:
        started = time.monotonic()
        if leading():
            try:
                await asyncio.to_thread(fast.tick, time.time())
            except Exception:
                log.exception("fast signal: round failed; continuing")
        await asyncio.sleep(max(0.0, fast.interval - (time.monotonic() - started)))
