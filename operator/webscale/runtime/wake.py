"""The fast wake-up loop: apps at zero are woken within about a second of their first held request.

Every `Settings.wake_poll_seconds` (0.5 s) the leader reads the held-request counters of the HAProxy
pods (`runtime.held`) of the apps that may need waking: those with autoscaling.scaleToZero whose
Deployment is at 0 replicas, those whose cold start is still under way, and Invalid apps at zero (their
running HAProxy pods hold requests as the last valid spec asked; such an app is woken to one pod). A warm app is never
asked (it costs nothing), and no request pays for this: HAProxy counts only requests it holds.

For each such app: `Autoscaler.wake` notes the requests waiting and scales an app at zero with
requests waiting to one pod; `autoscaling.cold_start` follows the cold start to the first held
request served, which is then observed in ``webscale_cold_start_seconds`` and told in a ColdStart
Event. Held, released and timed-out requests are counted in ``webscale_held_requests_total``.
The data path never depends on this loop: with the operator down, HAProxy still holds requests and
answers 503 with Retry-After after holdRequestsFor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Histogram

from webscale import telemetry
from webscale.api.app import App
from webscale.api.ref import AppRef
from webscale.api.scale_to_zero import settings as zero_settings
from webscale.autoscaling.act import Autoscaler
from webscale.autoscaling.cold_start import ColdStart, Measured, step
from webscale.kube.cache import ClusterView, own_deployment
from webscale.kube.client import NotLeader, failure_reason
from webscale.lasting import Lasting
from webscale.reconcile.hold import HELD_TOTAL, OLDEST, RELEASED_TOTAL, TIMED_OUT_TOTAL, WAITING
from webscale.runtime.held import Reader, haproxy_pod_urls, read_held

log = logging.getLogger(__name__)

COLD_START = Histogram(
    "webscale_cold_start_seconds",
    "Cold starts of apps at zero, from the first held request to a pod ready (until=ready) and to that "
    "request released to the pod (until=served)",
    ["until"],
    buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 300),
    registry=telemetry.REGISTRY,
)
HELD = Counter(
    "webscale_held_requests_total",
    "Requests held at the load balancer of apps at zero or waking, by outcome (held, released to a pod, "
    "timed out with 503)",
    ["outcome"],
    registry=telemetry.REGISTRY,
)
NUDGE_GAP_SECONDS = 0.1
"""Rounds started by nudges are at least this far apart (every held request's ask nudges)."""
_OUTCOMES = {"held": HELD_TOTAL, "released": RELEASED_TOTAL, "timed_out": TIMED_OUT_TOTAL}


def _delta(new: float, old: float | None) -> float:
    """A counter's increase (a restarted HAProxy starts again from 0; its whole count is new)."""
    if old is None:
        return 0.0  # first sight: what it counted before is not this loop's news
    return new - old if new >= old else new


class Waker:
    """State of the wake loop: cold starts under way and the last counters read per HAProxy pod."""

    def __init__(
        self,
        autoscaler: Autoscaler,
        view: ClusterView,
        apps: Callable[[], list[App]],
        read: Reader = read_held,
        locks: Callable[[AppRef], contextlib.AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.autoscaler = autoscaler
        self.locks = locks
        """The app's lock (runtime.locks): a poll's act step and a wake never write the app at once."""
        self.view = view
        self.apps = apps
        self.read = read
        self.tracks: dict[AppRef, ColdStart] = {}
        self.failures = Lasting(log)
        """Apps whose wake-up check fails: logged when it starts, changes and ends, not every round."""
        self.counters: dict[str, dict[str, float]] = {}
        self.nudged = asyncio.Event()

    def nudge(self) -> None:
        """Requests are waiting somewhere (an HAProxy pod asked for a pod: runtime.wake_answer): the
        next round starts now, not at the next interval (called on the event loop)."""
        self.nudged.set()

    def watched(self) -> list[tuple[App, dict[str, Any]]]:
        """Apps with scaleToZero at zero replicas or with a cold start under way, with their Deployment;
        and Invalid apps at zero: an edit the operator refuses must not leave an app that was at zero, as
        its last valid spec asked, holding every request until it times out."""
        out = []
        for app in self.apps():
            if app.deleting or (app.valid and zero_settings(app.valid_spec) is None):
                continue
            deployment = own_deployment(self.view, app)
            if deployment is None:
                continue
            if int(deployment.get("spec", {}).get("replicas") or 0) == 0 or app.ref in self.tracks:
                out.append((app, deployment))
        return out

    def tick(self, now: float) -> None:
        """One round over the watched apps (blocking: runs in a worker thread). Every app's pods are read
        in one batch, so a slow pod costs its own read's time once, not once per app after it."""
        watched = self.watched()
        live = {app.ref for app, _ in watched}
        for ref in list(self.tracks):
            if ref not in live:
                self.tracks.pop(ref)
        urls = {app.ref: haproxy_pod_urls(self.view, app) for app, _ in watched}
        every = sorted({url for app_urls in urls.values() for url in app_urls})
        counts = self.read(every) if every else {}
        self.failures.keep_only(live)
        for app, deployment in watched:
            try:
                self._one(app, deployment, {url: counts.get(url) for url in urls[app.ref]}, now)
            except NotLeader:
                continue  # leadership went while this round ran: the new leader wakes it
            except Exception as exc:
                reason = failure_reason(exc)
                self.failures.failed(app.ref, reason, "%s: waking failed: %s", app.key, reason, traceback=True)
            else:
                self.failures.recovered(app.ref, "%s: waking works again", app.key)

    def _one(
        self, app: App, deployment: dict[str, Any], counts: dict[str, dict[str, float] | None], now: float
    ) -> None:
        readings = {url: found for url, found in counts.items() if found is not None}
        waiting = int(sum(r.get(WAITING, 0.0) for r in readings.values()))
        oldest = max((r.get(OLDEST, 0.0) for r in readings.values()), default=0.0)
        released = 0.0
        for url, found in readings.items():
            old = self.counters.get(url)
            for outcome, name in _OUTCOMES.items():
                if name in found:
                    increase = _delta(found[name], None if old is None else old.get(name))
                    if increase > 0:
                        HELD.labels(outcome).inc(increase)
                    if outcome == "released":
                        released += increase
            self.counters[url] = found
        with self.locks(app.ref) if self.locks is not None else contextlib.nullcontext():
            self.autoscaler.wake(app, waiting, now)
        ready = int(deployment.get("status", {}).get("readyReplicas") or 0)
        track, measured = step(self.tracks.get(app.ref), waiting, oldest, int(released), ready, now)
        if track is None:
            self.tracks.pop(app.ref, None)
        else:
            self.tracks[app.ref] = track
        if measured is not None:
            self._measured(app, measured)

    def _measured(self, app: App, measured: Measured) -> None:
        COLD_START.labels("ready").observe(measured.to_ready)
        COLD_START.labels("served").observe(measured.to_served)
        message = (
            f"cold start: the first held request was sent to a pod {measured.to_served:.1f} s after it arrived "
            f"(a pod was ready after {measured.to_ready:.1f} s)"
        )
        log.info("%s: %s", app.key, message)
        self.autoscaler.kube.event(app.involved(), "Normal", "ColdStart", message)


async def wake_loop(waker: Waker, interval: float, leading: Callable[[], bool]) -> None:
    """Run `Waker.tick` every `interval` seconds while this replica leads (0: off), and at once (at most
    every `NUDGE_GAP_SECONDS`) when `Waker.nudge` says requests are waiting."""
    if interval <= 0:
        return
    while True:
        started = time.monotonic()
        waker.nudged.clear()
        if leading():
            try:
                await asyncio.to_thread(waker.tick, time.time())
            except Exception:
                log.exception("wake loop: round failed; continuing")
        await asyncio.sleep(max(0.0, NUDGE_GAP_SECONDS - (time.monotonic() - started)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waker.nudged.wait(), max(0.0, interval - (time.monotonic() - started)))
