"""The scaling loop: every tick, measure the apps that are due and act for each on a pool thread.

    tick ─► due apps ─► Measurer (batched apps together; each template app apart) ─► act, per app

Per-app work runs on the shared bounded pool and under the app's lock (`runtime.locks`); an app
still being measured or acted for is skipped by later ticks and counted as lag. Nothing one app
does reaches another or the loop: a failed measurement is that app's Observation, a failed act step
is logged for that app and retried at its next poll. A tick that fails as a whole (the registry
itself cannot be read, say) is counted, and enough failed ticks in a row fail /healthz
(`runtime.health`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor

from kubernetes.client.rest import ApiException

from webscale import telemetry
from webscale.api.app import App
from webscale.api.durations import seconds
from webscale.api.observation import Observation
from webscale.api.ref import AppRef
from webscale.autoscaling.act import Autoscaler, due_at, query_of
from webscale.kube.client import NotLeader, failure_reason, is_gone, is_transient
from webscale.lasting import Lasting
from webscale.metrics.failure import one_line
from webscale.metrics.prometheus import AppQuery
from webscale.runtime.health import TickHealth
from webscale.runtime.locks import AppLocks
from webscale.runtime.measure import Measurer, split
from webscale.runtime.registry import Registry

log = logging.getLogger(__name__)

Work = tuple[AppRef, Observation, float, str]
"""(app, its Observation, the time it was due, how it was measured) for one act step."""


class Polling:
    """The scaling loop and its per-app act steps."""

    def __init__(
        self,
        registry: Registry,
        autoscaler: Autoscaler,
        measurer: Measurer,
        pool: Executor,
        workers: int,
        locks: AppLocks,
        leading: Callable[[], bool],
        health: TickHealth,
    ) -> None:
        self.registry = registry
        self.autoscaler = autoscaler
        self.measurer = measurer
        self.pool = pool
        self.workers = workers
        self.locks = locks
        self.leading = leading
        self.health = health
        self._acting: set[AppRef] = set()
        """Apps measured or acted for right now: later ticks skip them."""
        self._work: deque[Work] = deque()
        self._drainers = 0
        self._tasks: set[asyncio.Future[None]] = set()
        self.failures = Lasting(log)
        """Failing ticks ("tick") and apps' failing act steps: logged when they start, change and end."""

    async def run(self, tick_seconds: float) -> None:
        """Tick until cancelled; a failed tick is logged, counted, and the loop goes on."""
        while True:
            started = time.monotonic()
            error = None
            try:
                if self.leading():
                    await self.poll(time.time())
            except Exception as exc:
                error = one_line(f"{type(exc).__name__}: {exc}")
                self.failures.failed("tick", error, "scaling loop: a tick failed: %s", error, traceback=True)
            else:
                self.failures.recovered("tick", "scaling loop: ticks work again")
            self.health.ticked(error)
            telemetry.LAST_TICK.set(self.health.last_tick)
            await asyncio.sleep(max(0.0, tick_seconds - (time.monotonic() - started)))

    async def poll(self, now: float) -> None:
        due = [a for a in self.autoscaler.due(self.registry.all(), now) if a.ref not in self._acting]
        if not due:
            return
        started = time.monotonic()
        deadline = asyncio.get_running_loop().time() + self.measurer.deadline_seconds
        pending = {app.ref: app for app in due}
        for app in due:
            self.autoscaler.mark_polled(app, now)
            self._acting.add(app.ref)
        try:
            queries, unmeasured = [], []
            for app in due:
                if app.valid_spec.autoscaling.mode == "off":
                    unmeasured.append((app, "not measured (autoscaling off)"))
                    continue
                try:
                    queries.append(query_of(app))
                except Exception as exc:  # this app's spec alone
                    log.exception("%s: building its metrics query failed", app.key)
                    unmeasured.append((app, one_line(f"not measured: {type(exc).__name__}: {exc}")))
            self._dispatch(
                [self._work_of(app, Observation.failed(now, why), now, "none") for app, why in unmeasured], pending
            )
            plain, templated = split(queries)
            for query in templated:
                task = asyncio.create_task(self._measure_template(pending.pop(query.key), query, now, deadline))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            observations = await self.measurer.batched(plain, now)
            work = []
            for query in plain:
                observation = observations.get(query.key) or Observation.failed(now, "not measured")
                work.append(self._work_of(pending[query.key], observation, now, "batched"))
            self._dispatch(work, pending)
        finally:
            for ref in pending:  # never measured (the tick failed): free for the next tick
                self._acting.discard(ref)
        telemetry.POLLS.inc()
        telemetry.POLL_APPS.inc(len(due))
        telemetry.POLL_DURATION.observe(time.monotonic() - started)

    async def _measure_template(self, app: App, query: AppQuery, now: float, deadline: float) -> None:
        try:
            observation = await self.measurer.template(query, now, deadline)
        except Exception as exc:  # never expected; still this app's failure alone
            log.exception("%s: measuring the template failed", app.key)
            observation = Observation.failed(now, one_line(f"measuring failed: {type(exc).__name__}: {exc}"))
        except BaseException:
            self._acting.discard(app.ref)
            raise
        self._dispatch([self._work_of(app, observation, now, "template")], {})

    @staticmethod
    def _work_of(app: App, observation: Observation, now: float, measured: str) -> Work:
        interval = seconds(app.valid_spec.autoscaling.polling_interval)
        return app.ref, observation, due_at(now, interval), measured

    def _dispatch(self, work: list[Work], pending: dict[AppRef, App]) -> None:
        """Queue act steps and start enough drainers on the pool (event loop)."""
        for item in work:
            pending.pop(item[0], None)
        self._work.extend(work)
        self._start_drainers()

    def _start_drainers(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(min(self.workers - self._drainers, len(self._work))):
            self._drainers += 1
            future = loop.run_in_executor(self.pool, self._drain)
            self._tasks.add(future)
            future.add_done_callback(self._drained)

    def _drained(self, future: asyncio.Future[None]) -> None:
        self._tasks.discard(future)
        self._drainers -= 1
        if self._work:  # queued while this drainer was finishing
            self._start_drainers()

    def _drain(self) -> None:
        """Act for queued apps until none is left (pool thread). Several drainers share the queue, so
        an app whose call is slow holds up one drainer, never the others' apps."""
        while True:
            try:
                ref, observation, due, measured = self._work.popleft()
            except IndexError:
                return
            self._act(ref, observation, due, measured)

    def _act(self, ref: AppRef, observation: Observation, due: float, measured: str) -> None:
        app = None
        try:
            with self.locks(ref):
                app = self.registry.get(ref)
                if app is None or not app.valid or not self.leading():
                    return
                try:
                    self.autoscaler.act(app, observation, observation.at)
                except NotLeader:
                    return
                except ApiException as exc:
                    if not is_gone(exc):
                        self._failed(app, exc, traceback=False)
                    return
                self.failures.recovered(ref, "%s: scaling steps work again", ref)
                telemetry.DECISION_LAG.labels(measured).observe(max(0.0, time.time() - due))
                if self.registry.get(ref) is None or not self.leading():
                    # deleted, or leadership lost, while this step ran: its forget may have come first
                    self.autoscaler.app_metrics.forget(ref)
        except Exception as exc:
            if app is not None:
                with self.locks(ref):
                    self._failed(app, exc, traceback=True)
            else:
                why = failure_reason(exc)
                self.failures.failed(ref, why, "%s: a scaling step failed: %s", ref, why, traceback=True)
        finally:
            self._acting.discard(ref)

    def _failed(self, app: App, exc: BaseException, traceback: bool) -> None:
        """A failed step of this app: logged when it starts or its reason changes, and, when the failure is
        the app's own (not the API server's: unreachable, throttling, 5xx), said in its ScalingActive
        condition (the write of which may fail too: the log line then is all there is)."""
        why = failure_reason(exc)
        self.failures.failed(
            app.ref, why, "%s: a scaling step failed: %s; next poll retries", app.ref, why, traceback=traceback
        )
        if is_transient(exc) or isinstance(exc, OSError):
            return  # the API server's trouble, not the app's: a status write now would only add to it
        with contextlib.suppress(Exception):  # best effort: the failure is logged above
            self.autoscaler.report_failure(app, why, time.time())

    def forget(self, ref: AppRef) -> None:
        self._acting.discard(ref)
        self.failures.forget(ref)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
