"""The reconcile queue: per-app serialised, coalesced, on a bounded number of workers.

An app is in the queue at most once, however many events name it; an app being worked on is never
worked on twice at once — an event that arrives meanwhile queues it again for after. The work itself
reads the app's latest state when it starts, so it can never apply an older spec over a newer one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from webscale import telemetry

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """Keys to work on, each at most once at a time, by `concurrency` asyncio workers."""

    def __init__(self, work: Callable[[K], Awaitable[None]], concurrency: int) -> None:
        self.work = work
        self.concurrency = concurrency
        self._pending: OrderedDict[K, None] = OrderedDict()
        self._running: set[K] = set()
        self._again: set[K] = set()
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.done = 0

    def add(self, key: K) -> None:
        if key in self._running:
            self._again.add(key)
        else:
            self._pending[key] = None
            self._wakeup.set()
        telemetry.QUEUE_DEPTH.set(len(self._pending))

    def discard(self, key: K) -> None:
        self._pending.pop(key, None)
        self._again.discard(key)

    def __len__(self) -> int:
        return len(self._pending)

    def busy(self) -> bool:
        return bool(self._pending or self._running)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(), name=f"reconcile-{i}") for i in range(self.concurrency)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _worker(self) -> None:
        while True:
            while not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            key, _ = self._pending.popitem(last=False)
            telemetry.QUEUE_DEPTH.set(len(self._pending))
            self._running.add(key)
            try:
                await self.work(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("work on %s failed", key)
            finally:
                self._running.discard(key)
                self.done += 1
                if key in self._again:
                    self._again.discard(key)
                    self.add(key)
