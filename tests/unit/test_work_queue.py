"""The reconcile queue: coalesced, serialised per key, bounded."""

from __future__ import annotations

import asyncio

from webscale_local.waiting import wait_for_async

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
    await wait_for_async(lambda: runs == ["a"], what="the first run of a to start")
    for _ in range(5):
        queue.add("a")  # while "a" runs: once more, afterwards
    queue.add("b")
    await wait_for_async(lambda: "b" in running, what="b to start beside the running a")
    release.set()
    await wait_for_async(lambda: not queue.busy(), what="the queue to drain")
    await queue.stop()
    assert overlaps == []
    assert sorted(runs) == ["a", "a", "b"]


async def test_at_most_concurrency_keys_run_at_once():
    active, peak = 0, 0
    release = asyncio.Event()

    async def work(_key):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await release.wait()  # every key holds its worker until released
        active -= 1

    queue = WorkQueue(work, concurrency=3)
    queue.start()
    for i in range(20):
        queue.add(i)
    # with no limit all 20 would start in these same loop turns and the peak below would be 20
    await wait_for_async(lambda: active >= 3, what="three keys running")
    await asyncio.sleep(0)  # one more loop turn: room for a fourth to start, if the limit failed
    assert active == 3
    release.set()
    await wait_for_async(lambda: not queue.busy(), what="the queue to drain")
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
    await wait_for_async(lambda: not queue.busy(), what="the queue to drain")
    await queue.stop()
    assert done == [0, 2]
