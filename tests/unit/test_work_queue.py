"""The reconcile queue: coalesced, serialised per key, bounded."""

from __future__ import annotations

import asyncio

from webscale.runtime.queue import WorkQueue


async def test_events_for_one_key_coalesce_and_never_run_it_twice_at_once():
    running: set[str] = set()
    overlaps: list[str] = []
    runs: list[str] = []
    release = asyncio.Event()

    async def work(key):
        if key in running:
            overlaps.append(key)
        running.add(key)
        runs.append(key)
        await release.wait()
        running.discard(key)

    queue = WorkQueue(work, concurrency=4)
    queue.start()
    for _ in range(5):
        queue.add("a")
    await asyncio.sleep(0.01)
    for _ in range(5):
        queue.add("a")  # while "a" runs: once more, afterwards
    queue.add("b")
    await asyncio.sleep(0.01)
    release.set()
    for _ in range(100):
        if not queue.busy():
            break
        await asyncio.sleep(0.01)
    await queue.stop()
    assert overlaps == []
    assert sorted(runs) == ["a", "a", "b"]


async def test_at_most_concurrency_keys_run_at_once():
    active, peak = 0, 0

    async def work(_key):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1

    queue = WorkQueue(work, concurrency=3)
    queue.start()
    for i in range(20):
        queue.add(i)
    for _ in range(200):
        if not queue.busy():
            break
        await asyncio.sleep(0.01)
    await queue.stop()
    assert peak == 3 and queue.done == 20


async def test_a_failing_key_does_not_stop_the_others():
    done: list[int] = []

    async def work(key):
        if key == 1:
            raise RuntimeError("boom")
        done.append(key)

    queue = WorkQueue(work, concurrency=1)
    queue.start()
    for i in range(3):
        queue.add(i)
    for _ in range(100):
        if not queue.busy():
            break
        await asyncio.sleep(0.01)
    await queue.stop()
    assert done == [0, 2]
