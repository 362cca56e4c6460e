"""The running operator, wired: informers feed caches; a work queue reconciles; one loop scales.

    informers (threads) ─► Routing ─► Reconciling (WorkQueue, back-off) ─► Reconciler (pool threads)
                                          ▲
                        resync_loop ──────┘      Polling (tick) ─► Measurer ─► Autoscaler.act (pool)

Each part is its own module, named for one concept: `leadership` (the Lease), `routing` (watch
events to work), `reconciling` (queue, retries with back-off), `resync`, `polling` (the scaling
loop), `measure` (batched and template metrics), `health` (liveness), `locks` (one lock per app).
This class only builds them, starts them in order and stops them. Only the leader reconciles and
scales; a standby keeps warm caches and takes over when the Lease is free or expired.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from webscale.api import models
from webscale.api.labels import MANAGED_SELECTOR
from webscale.api.ref import AppRef
from webscale.autoscaling.act import Autoscaler
from webscale.kube.cache import CHILD_KINDS, StoreView, trim_for
from webscale.kube.client import Kube, new_api_client
from webscale.kube.informer import Informer, Resource
from webscale.kube.store import app_index
from webscale.metrics.prometheus import MetricsSource, PrometheusSource
from webscale.reconcile.reconciler import Reconciler
from webscale.runtime.fast_signal import FastSignal, fast_loop
from webscale.runtime.health import TickHealth
from webscale.runtime.identity import identity
from webscale.runtime.leadership import Leadership
from webscale.runtime.locks import AppLocks
from webscale.runtime.measure import Measurer
from webscale.runtime.polling import Polling
from webscale.runtime.reconciling import Reconciling
from webscale.runtime.registry import Registry
from webscale.runtime.resync import resync_loop
from webscale.runtime.routing import Routing
from webscale.runtime.wake import Waker, wake_loop
from webscale.runtime.wake_answer import Answerer
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
    # whose pods are the app's (kube.cache.own_replica_sets): a pod is dialled, named to HAProxy or
    # annotated only when its controller is a ReplicaSet of the app's own Deployment
    Resource("apps/v1", "ReplicaSet", MANAGED_SELECTOR, trim_for("ReplicaSet")),
)
RESYNC_STEP_SECONDS = 1.0
"""The resync queues a slice of the apps every this many seconds."""
FAILED_TICKS = 10
"""Consecutive failed scaling-loop ticks after which /healthz fails."""


class Controller:
    """Everything the operator process runs, started and stopped by the kopf handlers."""

    def __init__(self, settings: Settings, source: MetricsSource | None = None) -> None:
        self.settings = settings
        self.identity = identity(settings)
        self.leadership = Leadership(settings, self.identity)
        self.kube = Kube(new_api_client(self.identity), settings, self.leadership.may_write, self.identity)
        self.locks = AppLocks()
        self.routing = Routing(APP_KIND, CHILD_KINDS, self._reconcile, self._forget)
        self.informers = {
            r.kind: Informer(self.kube, r, settings.namespace, self.routing.from_thread, settings.watch_timeout_seconds)
            for r in RESOURCES
        }
        for kind, informer in self.informers.items():
            if kind != APP_KIND:
                informer.store.index = app_index
            # children are read rarely, and apps through the registry's parsed copies: held as JSON bytes
            informer.store.compact = kind in CHILD_KINDS or kind == APP_KIND
        view = StoreView({kind: i.store for kind, i in self.informers.items()})
        self.registry = Registry(self.informers[APP_KIND].store, settings.prometheus_urls)
        self.pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="app")
        self.templates = ThreadPoolExecutor(settings.workers, thread_name_prefix="template")
        self.source = source or PrometheusSource(
            timeout=settings.metrics_timeout_seconds, scrape_interval=settings.metrics_scrape_interval_seconds
        )
        self.health = TickHealth(settings.scaling_tick_seconds, settings.liveness_stale_ticks, FAILED_TICKS)
        self.reconciling = Reconciling(
            Reconciler(self.kube, view), self.registry, self.pool, settings.workers, self.locks, self._leading
        )
        self.autoscaler = Autoscaler(self.kube, view, settings.status_quantum)
        self.waker = Waker(self.autoscaler, view, self.registry.all, locks=self.locks)
        self.fast = FastSignal(
            self.autoscaler,
            view,
            self.registry.all,
            settings.fast_poll_seconds,
            settings.fast_reads_per_round,
            locks=self.locks,
        )
        self.answerer = Answerer(self.registry.get, view, self.waker.nudge)
        self.polling = Polling(
            self.registry,
            self.autoscaler,
            Measurer(self.source, self.templates, settings.metrics_timeout_seconds),
            self.pool,
            settings.workers,
            self.locks,
            self._leading,
            self.health,
        )
        self._tasks: list[asyncio.Task[Any]] = []

    def _leading(self) -> bool:
        return self.leadership.leading

    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers.values())

    async def start(self) -> None:
        self.routing.attach(asyncio.get_running_loop())
        for informer in self.informers.values():
            informer.start()
        while not self.synced():
            await asyncio.sleep(0.1)
        log.info("caches synced: %d app(s); identity %s", len(self.informers[APP_KIND].store), self.identity)
        self.reconciling.start()
        self._tasks = [
            asyncio.create_task(self.polling.run(self.settings.scaling_tick_seconds), name="scaling-loop"),
            asyncio.create_task(
                resync_loop(self.settings.resync_seconds, RESYNC_STEP_SECONDS, self._resync_apps, self._reconcile),
                name="resync",
            ),
            asyncio.create_task(wake_loop(self.waker, self.settings.wake_poll_seconds, self._leading), name="wake"),
            asyncio.create_task(fast_loop(self.fast, self._leading), name="fast-signal"),
        ]
        self.leadership.start(self.kube, self._leadership_changed)

    async def stop(self) -> None:
        """Stop writing, hand the Lease back, and let the process exit (threads are daemons)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.polling.stop()
        await self.reconciling.stop()
        await self.leadership.stop()
        for informer in self.informers.values():
            informer.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.templates.shutdown(wait=False, cancel_futures=True)
        close = getattr(self.source, "close", None)
        if close is not None:
            close()

    def _leadership_changed(self, leading: bool) -> None:
        if leading:  # the Lease's holder says so once (`kube.lease`)
            for app in self.registry.all():
                self.reconciling.add(app.ref)
        else:  # the new leader decides, and exports the apps' series
            self.autoscaler.app_metrics.forget_all()

    def _resync_apps(self) -> list[AppRef]:
        return [app.ref for app in self.registry.all()] if self._leading() else []

    def _reconcile(self, ref: AppRef) -> None:
        if self._leading():
            self.reconciling.add(ref)

    def _forget(self, ref: AppRef) -> None:
        """A deleted app: forgotten by every part that keeps something per app."""
        self.autoscaler.forget(ref)
        self.reconciling.forget(ref)
        self.polling.forget(ref)
        self.locks.forget(ref)
        forget = getattr(self.source, "forget", None)
        if forget is not None:
            forget(ref)
