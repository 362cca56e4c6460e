"""Measuring the due apps of one tick: the batched apps together, each template app on its own.

    batched apps ── one MetricsSource.observe (a few shared queries) ──► act at once
    template apps ─ each: a slot of its namespace's budget ─► its own observe ─► act when it answers
                    (or, at the tick's deadline, act on "did not answer in time")

An app with its own ``spec.metrics.requestRate`` template costs one query of its own, which a user
can make arbitrarily expensive for Prometheus to evaluate. So templates never run on the batched
path: the batched apps' decisions never wait for one. Templates run concurrently, at most
`per_namespace` of one namespace at a time (one namespace's slow templates use its own budget, not
the others'), and each has the tick's deadline: whatever it did not answer by then is that app's
failure (MetricsAvailable=False with the reason), never another app's. A query still running at
the deadline keeps its namespace slot until its HTTP timeout ends it.

Nothing here raises for one app: any exception of the metrics source becomes the failure of the
apps it concerned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

from webscale.api.observation import Observation
from webscale.api.ref import AppRef
from webscale.metrics.failure import one_line
from webscale.metrics.prometheus import AppQuery, MetricsSource
from webscale.promql.template import FIELD as TEMPLATE_FIELD

log = logging.getLogger(__name__)

TEMPLATES_PER_NAMESPACE = 2
"""Template queries of one namespace running at once, at most."""


def split(queries: Sequence[AppQuery]) -> tuple[list[AppQuery], list[AppQuery]]:
    """(apps read by the batched queries, apps with a requestRate template of their own)."""
    plain = [q for q in queries if q.request_rate_template is None]
    return plain, [q for q in queries if q.request_rate_template is not None]


class NamespaceBudget:
    """At most `per_namespace` slots in use per namespace (event-loop side; waiting costs no thread)."""

    def __init__(self, per_namespace: int) -> None:
        if per_namespace < 1:
            raise ValueError(f"per_namespace must be at least 1, got {per_namespace}")
        self.per_namespace = per_namespace
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}
        """Per namespace: tasks holding or waiting for a slot (the entry goes when none is left)."""
        self._held: dict[str, int] = {}

    async def acquire(self, namespace: str, timeout: float) -> bool:
        """Take a slot of `namespace`, waiting at most `timeout` seconds; False when none came free."""
        slot = self._slots.setdefault(namespace, asyncio.Semaphore(self.per_namespace))
        self._users[namespace] = self._users.get(namespace, 0) + 1
        try:
            if not slot.locked():
                await slot.acquire()  # free: taken without waiting, even at the deadline
            elif timeout <= 0:
                raise TimeoutError
            else:
                await asyncio.wait_for(slot.acquire(), timeout)
            self._held[namespace] = self._held.get(namespace, 0) + 1
            return True
        except TimeoutError:
            self._leave(namespace)
            return False

    def release(self, namespace: str) -> None:
        self._slots[namespace].release()
        self._held[namespace] -= 1
        self._leave(namespace)

    def in_use(self, namespace: str) -> int:
        return self._held.get(namespace, 0)

    def __len__(self) -> int:
        """Namespaces with a slot held or awaited."""
        return len(self._slots)

    def _leave(self, namespace: str) -> None:
        """One user less; a namespace nobody waits for or holds is dropped (memory follows use)."""
        self._users[namespace] -= 1
        if self._users[namespace] == 0:
            del self._users[namespace], self._slots[namespace]
            self._held.pop(namespace, None)


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[[str], None], arg: str) -> None:
    """`fn(arg)` in the loop, from a pool thread; nothing once the loop is closed (shutting down)."""
    with contextlib.suppress(RuntimeError):  # closed between the check and the call
        if not loop.is_closed():
            loop.call_soon_threadsafe(fn, arg)


class Measurer:
    """Runs the metrics source for the batched apps and, apart, for each template app."""

    def __init__(
        self,
        source: MetricsSource,
        templates: Executor,
        deadline_seconds: float,
        per_namespace: int = TEMPLATES_PER_NAMESPACE,
    ) -> None:
        self.source = source
        self.templates = templates
        self.deadline_seconds = deadline_seconds
        self.budget = NamespaceBudget(per_namespace)

    async def batched(self, queries: Sequence[AppQuery], now: float) -> dict[AppRef, Observation]:
        """The batched apps' Observations (a thread: the source blocks)."""
        return await asyncio.to_thread(self.observe, queries, now) if queries else {}

    async def template(self, query: AppQuery, now: float, deadline: float) -> Observation:
        """One template app's Observation, by `deadline` (the event loop's clock)."""
        loop = asyncio.get_running_loop()
        namespace = query.key.namespace
        if not await self.budget.acquire(namespace, deadline - loop.time()):
            return Observation.failed(
                now,
                f"{TEMPLATE_FIELD} not measured: namespace {namespace} already had {self.budget.per_namespace} "
                f"template queries running until this poll's deadline ({self.deadline_seconds:g}s)",
            )
        try:
            future = self.templates.submit(self.observe, [query], now)
        except Exception as exc:  # the executor is shut down: the operator is stopping
            self.budget.release(namespace)
            return Observation.failed(now, one_line(f"{TEMPLATE_FIELD} not measured: {exc}"))
        future.add_done_callback(lambda _: _call_soon(loop, self.budget.release, namespace))
        try:
            observed = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), deadline - loop.time())
        except TimeoutError:
            return Observation.failed(
                now,
                f"{TEMPLATE_FIELD} did not answer within this poll's deadline ({self.deadline_seconds:g}s): "
                "the query is too expensive, or its Prometheus too slow to answer; make the query cheaper",
            )
        return observed.get(query.key) or Observation.failed(now, f"{TEMPLATE_FIELD} not measured")

    def observe(self, queries: Sequence[AppQuery], now: float) -> dict[AppRef, Observation]:
        """The source's Observations; should it raise anyway, each app's failure (never an exception)."""
        try:
            return self.source.observe(queries, now)
        except Exception as exc:
            log.exception("metrics: the metrics source failed for %d app(s)", len(queries))
            reason = one_line(f"reading metrics failed: {type(exc).__name__}: {exc}")
            return {q.key: Observation.failed(now, reason) for q in queries}
