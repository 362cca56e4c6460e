"""The running operator: informers feed caches; a work queue reconciles; one loop scales.

    informers (threads) --changes--> event loop --> WorkQueue --> Reconciler (pool threads)
                                         |
                     scaling loop (tick) --> one batched metrics query --> Autoscaler.act per app (pool)

Only the leader (Lease) reconciles and scales; a standby keeps warm caches and takes over when the
Lease is free or expired. Per-app work runs on a bounded pool (`WEBSCALE_WORKERS`) and is serialised per
app (one lock per app for reconcile and act); one app's slow call never holds up the others' polls —
an app still acting on its last poll is skipped and counted as lag.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes.client.rest import ApiException

from webscale import telemetry
from webscale.api import models
from webscale.api.app import App
from webscale.api.labels import MANAGED_SELECTOR
from webscale.api.observation import Observation
from webscale.autoscaling.act import Autoscaler, due_at, query_of
from webscale.kube.cache import CHILD_KINDS, StoreView, trim_for
from webscale.kube.client import Kube, NotLeader, is_gone, is_transient, new_api_client
from webscale.kube.informer import Informer, Resource
from webscale.kube.lease import LeaderElector, Timing
from webscale.kube.store import Change, app_index
from webscale.metrics.prometheus import MetricsSource, PrometheusSource
from webscale.reconcile.reconciler import Reconciler
from webscale.runtime.changes import route
from webscale.runtime.identity import identity, lease_namespace
from webscale.runtime.queue import WorkQueue
from webscale.runtime.registry import Registry
from webscale.runtime.resync import batch_sizes
from webscale.settings import Settings

log = logging.getLogger(__name__)

APP_KIND = models.KIND
CHILD_RESOURCES = (
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("policy/v1", "PodDisruptionBudget"),
)
RESOURCES = (
    Resource(f"{models.GROUP}/{models.VERSION}", APP_KIND),
    *(Resource(v, k, MANAGED_SELECTOR, trim_for(k)) for v, k in CHILD_RESOURCES),
    Resource("v1", "Pod", MANAGED_SELECTOR, trim_for("Pod")),
)
RETRY_SECONDS = 5.0
RESYNC_STEP_SECONDS = 1.0
"""The resync queues a slice of the apps every this many seconds."""


class Controller:
    """Everything the operator process runs, started and stopped by the kopf handlers."""

    def __init__(self, settings: Settings, source: MetricsSource | None = None) -> None:
        self.settings = settings
        self.identity = identity(settings)
        self.elector: LeaderElector | None = None
        self.leading = not settings.leader_election
        self.kube = Kube(new_api_client(self.identity), settings, self._may_write, self.identity)
        self.informers = {
            r.kind: Informer(self.kube, r, settings.namespace, self._from_thread, settings.watch_timeout_seconds)
            for r in RESOURCES
        }
        for kind, informer in self.informers.items():
            if kind != APP_KIND:
                informer.store.index = app_index
            # children are read rarely, and apps through the registry's parsed copies: held as JSON bytes
            informer.store.compact = kind in CHILD_KINDS or kind == APP_KIND
        self.view = StoreView({kind: i.store for kind, i in self.informers.items()})
        self.registry = Registry(self.informers[APP_KIND].store, settings.prometheus_urls)
        self.reconciler = Reconciler(self.kube, self.view)
        self.autoscaler = Autoscaler(self.kube, self.view, settings.status_quantum)
        self.source = source or PrometheusSource(
            timeout=settings.metrics_timeout_seconds, scrape_interval=settings.metrics_scrape_interval_seconds
        )
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="app")
        self.queue = WorkQueue(self._reconcile, settings.workers)
        self.last_tick = time.time()
        self._locks: dict[App, threading.Lock] = {}
        self._acting: set[App] = set()
        self._act_tasks: set[asyncio.Future[None]] = set()
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- lifecycle ------------------------------------------------------------------------------

    def _may_write(self) -> bool:
        return not self.settings.leader_election or (self.elector is not None and self.elector.is_leader())

    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers.values())

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for informer in self.informers.values():
            informer.start()
        while not self.synced():
            await asyncio.sleep(0.1)
        log.info("caches synced: %d app(s); identity %s", len(self.informers[APP_KIND].store), self.identity)
        self.queue.start()
        self._tasks = [
            asyncio.create_task(self._scaling_loop(), name="scaling-loop"),
            asyncio.create_task(self._resync_loop(), name="resync"),
        ]
        if self.settings.leader_election:
            timing = Timing(
                self.settings.lease_duration_seconds,
                self.settings.lease_renew_deadline_seconds,
                self.settings.lease_retry_seconds,
            )
            self.elector = LeaderElector(
                self.kube,
                lease_namespace(self.settings),
                self.settings.lease_name,
                self.identity,
                timing,
                on_start=lambda: self._call_soon(self._leadership, True),
                on_stop=lambda: self._call_soon(self._leadership, False),
            ).start()
        else:
            self._leadership(True)

    async def stop(self) -> None:
        """Stop writing, hand the Lease back, and let the process exit (threads are daemons)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.queue.stop()
        self.leading = False
        if self.elector is not None:
            await asyncio.to_thread(self.elector.release)
        for informer in self.informers.values():
            informer.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)
        close = getattr(self.source, "close", None)
        if close is not None:
            close()

    def _call_soon(self, fn: Any, *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _leadership(self, leading: bool) -> None:
        self.leading = leading
        if leading:
            apps = self.registry.all()
            log.info("leading: reconciling %d app(s) and scaling", len(apps))
            for app in apps:
                self.queue.add(app)

    # ---- watch changes (in the event loop) ------------------------------------------------------

    def _from_thread(self, kind: str, change: Change) -> None:
        work = route(kind, change, APP_KIND, CHILD_KINDS)
        if work is not None:
            self._call_soon(self._on_change, *work)

    def _on_change(self, what: str, key: App) -> None:
        if what == "forget":
            self.autoscaler.forget(key)
            self.queue.discard(key)
            self._locks.pop(key, None)
        else:
            self.queue.add(key)

    # ---- reconcile ------------------------------------------------------------------------------

    def _lock(self, key: App) -> threading.Lock:
        """The app's lock, held (in a pool thread) by a reconcile or an act step of that app."""
        lock = self._locks.get(key)
        return lock if lock is not None else self._locks.setdefault(key, threading.Lock())

    async def _reconcile(self, key: Any) -> None:
        if not self.leading:
            return
        try:
            changed = await asyncio.get_running_loop().run_in_executor(self.pool, self._reconcile_locked, key)
            if changed is not None:
                telemetry.RECONCILES.labels("changed" if changed else "unchanged").inc()
        except NotLeader:
            telemetry.RECONCILES.labels("not-leader").inc()
        except ApiException as exc:
            if is_gone(exc):
                return
            telemetry.RECONCILES.labels("error").inc()
            level = logging.INFO if is_transient(exc) else logging.WARNING
            log.log(
                level, "%s: reconcile failed (%s %s); retrying in %.0fs", key.key, exc.status, exc.reason, RETRY_SECONDS
            )
            self._retry_later(key)

    def _reconcile_locked(self, key: App) -> list[str] | None:
        """Reconcile the app's latest version under its lock (pool thread); None: it is gone."""
        with self._lock(key):
            app = self.registry.get(key.namespace, key.name)
            return None if app is None else self.reconciler.reconcile(app)

    def _retry_later(self, key: App) -> None:
        asyncio.get_running_loop().call_later(RETRY_SECONDS, self.queue.add, key)

    async def _resync_loop(self) -> None:
        """Every app once per resync period, spread over the period (`runtime.resync`)."""
        period = self.settings.resync_seconds
        await asyncio.sleep(period)
        while True:
            apps = self.registry.all() if self.leading else []
            sizes = batch_sizes(len(apps), period, RESYNC_STEP_SECONDS)
            step = period / len(sizes)
            done = 0
            for size in sizes:
                for app in apps[done : done + size]:
                    if self.leading:
                        self.queue.add(app)
                done += size
                await asyncio.sleep(step)

    # ---- scaling --------------------------------------------------------------------------------

    async def _scaling_loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                if self.leading:
                    await self._poll(time.time())
            except Exception:
                log.exception("scaling loop: tick failed; continuing")
            self.last_tick = time.time()
            telemetry.LAST_TICK.set(self.last_tick)
            await asyncio.sleep(max(0.0, self.settings.scaling_tick_seconds - (time.monotonic() - started)))

    async def _poll(self, now: float) -> None:
        due = [a for a in self.autoscaler.due(self.registry.all(), now) if a not in self._acting]
        if not due:
            return
        started = time.monotonic()
        for app in due:
            self.autoscaler.mark_polled(app, now)
        queries = [query_of(a) for a in due if a.valid_spec.autoscaling.mode != "off"]
        observations = await asyncio.to_thread(self.source.observe, queries, now) if queries else {}
        work: deque[tuple[App, Observation, float]] = deque()
        for app in due:
            observation = observations.get(app) or Observation(at=now, error="not measured (autoscaling off)")
            interval = models.seconds(app.valid_spec.autoscaling.polling_interval)
            self._acting.add(app)
            work.append((app, observation, due_at(now, interval)))
        loop = asyncio.get_running_loop()
        for _ in range(min(self.settings.workers, len(work))):
            future = loop.run_in_executor(self.pool, self._drain, work, now)
            self._act_tasks.add(future)
            future.add_done_callback(self._act_tasks.discard)
        telemetry.POLLS.inc()
        telemetry.POLL_APPS.inc(len(due))
        telemetry.POLL_DURATION.observe(time.monotonic() - started)

    def _drain(self, work: deque[tuple[App, Observation, float]], now: float) -> None:
        """Act for due apps until none is left (pool thread). Several drainers share `work`, so an app
        whose call is slow holds up one drainer, never the others' apps."""
        while True:
            try:
                key, observation, due = work.popleft()
            except IndexError:
                return
            self._act(key, observation, now, due)

    def _act(self, key: App, observation: Observation, now: float, due: float) -> None:
        try:
            with self._lock(key):
                app = self.registry.get(key.namespace, key.name)
                if app is None or not app.valid or not self.leading:
                    return
                try:
                    self.autoscaler.act(app, observation, now)
                except NotLeader:
                    return
                except ApiException as exc:
                    if not is_gone(exc):
                        log.warning(
                            "%s: scaling step failed (%s %s); next poll retries", app.key, exc.status, exc.reason
                        )
                    return
                telemetry.DECISION_LAG.observe(max(0.0, time.time() - due))
        except Exception:
            log.exception("%s: scaling step failed; next poll retries", key.key)
        finally:
            self._acting.discard(key)
