"""Reconciling apps from the work queue, and retrying failures with a per-app back-off.

A queued app is reconciled on a pool thread under its lock (`runtime.locks`), from its latest
version in the registry. A failure (an API error, or anything else one app's reconcile raises) is
logged for that app and retried after its back-off (`runtime.backoff`: doubling, capped, reset by
a success), so an app that keeps failing costs one retry per cap and never delays the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor

from kubernetes.client.rest import ApiException

from webscale import telemetry
from webscale.api.ref import AppRef
from webscale.kube.client import NotLeader, failure_reason, is_gone, is_transient
from webscale.lasting import Lasting
from webscale.reconcile.reconciler import Reconciler
from webscale.runtime.backoff import Backoff
from webscale.runtime.locks import AppLocks
from webscale.runtime.queue import WorkQueue
from webscale.runtime.registry import Registry

log = logging.getLogger(__name__)

QUIET_TRANSIENT = 3
"""A transient failure (a conflict, throttling, a server error) is logged only once it happened this many
times in a row: one that the next retry cures is no news."""


class Reconciling:
    """The reconcile queue, its work, and the retries of what failed."""

    def __init__(
        self,
        reconciler: Reconciler,
        registry: Registry,
        pool: Executor,
        workers: int,
        locks: AppLocks,
        leading: Callable[[], bool],
        backoff: Backoff | None = None,
    ) -> None:
        self.reconciler = reconciler
        self.registry = registry
        self.pool = pool
        self.locks = locks
        self.leading = leading
        self.backoff = backoff if backoff is not None else Backoff()
        self.queue = WorkQueue(self._work, workers)
        self._retries: dict[AppRef, asyncio.TimerHandle] = {}
        self.failures = Lasting(log)

    def add(self, ref: AppRef) -> None:
        self.queue.add(ref)

    def forget(self, ref: AppRef) -> None:
        """A deleted app: no queued work, no retry, no back-off left."""
        self.queue.discard(ref)
        self.backoff.forget(ref)
        self.failures.forget(ref)
        retry = self._retries.pop(ref, None)
        if retry is not None:
            retry.cancel()

    def start(self) -> None:
        self.queue.start()

    async def stop(self) -> None:
        for retry in self._retries.values():
            retry.cancel()
        self._retries.clear()
        await self.queue.stop()

    async def _work(self, ref: AppRef) -> None:
        if not self.leading():
            return
        try:
            changed = await asyncio.get_running_loop().run_in_executor(self.pool, self._reconcile_locked, ref)
        except NotLeader:
            telemetry.RECONCILES.labels("not-leader").inc()
            return
        except ApiException as exc:
            if is_gone(exc):
                self.backoff.forget(ref)
                return
            telemetry.RECONCILES.labels("error").inc()
            self._retry(ref, exc, quiet=is_transient(exc))
            return
        except Exception as exc:
            telemetry.RECONCILES.labels("error").inc()
            self._retry(ref, exc, traceback=True)
            return
        failed = self.backoff.failures(ref)
        self.backoff.forget(ref)
        self.failures.recovered(ref, "%s: reconciles again after %d failed attempt(s)", ref, failed)
        if changed is not None:
            telemetry.RECONCILES.labels("changed" if changed else "unchanged").inc()

    def _reconcile_locked(self, ref: AppRef) -> list[str] | None:
        """Reconcile the app's latest version under its lock (pool thread); None: it is gone."""
        with self.locks(ref):
            app = self.registry.get(ref)
            return None if app is None else self.reconciler.reconcile(app)

    def _retry(self, ref: AppRef, exc: BaseException, quiet: bool = False, traceback: bool = False) -> None:
        """Retry after the app's back-off. The failure is logged when it starts or its reason changes (a
        transient one, such as a conflict, only once it failed `QUIET_TRANSIENT` times in a row)."""
        delay = self.backoff.failed(ref)
        failures = self.backoff.failures(ref)
        if not quiet or failures >= QUIET_TRANSIENT:
            why = failure_reason(exc)
            message = "%s: reconcile failed: %s; retry %d in %.2fs"
            self.failures.failed(ref, why, message, ref, why, failures, delay, traceback=traceback)
        previous = self._retries.pop(ref, None)
        if previous is not None:
            previous.cancel()
        self._retries[ref] = asyncio.get_running_loop().call_later(delay, self._again, ref)

    def _again(self, ref: AppRef) -> None:
        self._retries.pop(ref, None)
        if self.leading():
            self.queue.add(ref)
