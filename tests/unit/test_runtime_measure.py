"""Measuring a tick's apps: batched apps never wait for templates; templates have a per-namespace
budget and a deadline; whatever the source raises is the failure of the apps it concerned."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from webscale.api.observation import Observation
from webscale.api.ref import AppRef
from webscale.metrics.prometheus import AppQuery
from webscale.runtime.measure import Measurer, NamespaceBudget, split

URL = "http://p:9090"


def plain(name: str, namespace: str = "a") -> AppQuery:
    return AppQuery(AppRef(namespace, name), URL)


def templated(name: str, namespace: str = "a") -> AppQuery:
    return AppQuery(AppRef(namespace, name), URL, request_rate_template="sum(x{app={app}})")


class BlockingSource:
    """Answers at once for batched apps; a template app's answer waits until `release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[AppRef] = []

    def observe(self, apps: Sequence[AppQuery], now: float) -> dict[AppRef, Observation]:
        for app in apps:
            if app.request_rate_template is not None:
                self.started.append(app.key)
                assert self.release.wait(30), "never released"
        return {app.key: Observation(at=now, requests_per_second=1.0) for app in apps}


@pytest.fixture()
def pool() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(4)
    yield executor
    executor.shutdown(wait=False, cancel_futures=True)


def test_split_separates_template_apps():
    queries = [plain("p1"), templated("t1"), plain("p2")]
    assert split(queries) == ([queries[0], queries[2]], [queries[1]])


async def test_batched_apps_are_measured_while_a_template_still_runs(pool: ThreadPoolExecutor):
    source = BlockingSource()
    measurer = Measurer(source, pool, deadline_seconds=30)
    loop = asyncio.get_running_loop()
    slow = asyncio.create_task(measurer.template(templated("slow"), 1.0, loop.time() + 30))
    while not source.started:
        await asyncio.sleep(0.01)
    observed = await measurer.batched([plain("p1"), plain("p2")], 1.0)
    assert sorted(observed) == [AppRef("a", "p1"), AppRef("a", "p2")]
    assert not slow.done()  # the batched answer did not wait for the template
    source.release.set()
    assert (await slow).requests_per_second == 1.0


async def test_a_template_past_the_deadline_is_that_apps_failure(pool: ThreadPoolExecutor):
    source = BlockingSource()
    measurer = Measurer(source, pool, deadline_seconds=0.2)
    loop = asyncio.get_running_loop()
    observation = await measurer.template(templated("slow"), 1.0, loop.time())
    source.release.set()
    assert observation.error is not None
    assert observation.error.startswith("spec.metrics.requestRate did not answer within this poll's deadline (0.2s)")


async def test_a_namespace_uses_its_own_budget_not_the_others(pool: ThreadPoolExecutor):
    source = BlockingSource()
    measurer = Measurer(source, pool, deadline_seconds=5, per_namespace=1)
    loop = asyncio.get_running_loop()
    first = asyncio.create_task(measurer.template(templated("t1", "busy"), 1.0, loop.time() + 30))
    while not source.started:
        await asyncio.sleep(0.01)
    # the busy namespace's only slot is held: its next template gets none before its deadline
    refused = await measurer.template(templated("t2", "busy"), 1.0, loop.time())
    assert refused.error == (
        "spec.metrics.requestRate not measured: namespace busy already had 1 template queries running "
        "until this poll's deadline (5s)"
    )
    # another namespace is not held up by the busy one's slot
    other = asyncio.create_task(measurer.template(templated("t3", "calm"), 1.0, loop.time() + 30))
    while len(source.started) < 2:
        await asyncio.sleep(0.01)
    assert source.started == [AppRef("busy", "t1"), AppRef("calm", "t3")]
    source.release.set()
    assert (await first).ok and (await other).ok
    while len(measurer.budget):  # slots go back as the threads finish; empty namespaces are dropped
        await asyncio.sleep(0.01)


async def test_whatever_the_source_raises_is_the_failure_of_its_apps_only(pool: ThreadPoolExecutor):
    class Raising:
        def observe(self, apps: Sequence[AppQuery], now: float) -> dict[AppRef, Observation]:
            if any(a.key.name == "bad" for a in apps):
                raise RecursionError("maximum recursion depth exceeded")
            return {a.key: Observation(at=now, requests_per_second=2.0) for a in apps}

    measurer = Measurer(Raising(), pool, deadline_seconds=5)
    loop = asyncio.get_running_loop()
    bad = await measurer.template(templated("bad"), 1.0, loop.time() + 5)
    good = await measurer.template(templated("good"), 1.0, loop.time() + 5)
    assert bad.error == "reading metrics failed: RecursionError: maximum recursion depth exceeded"
    assert good.requests_per_second == 2.0
    assert await measurer.batched([], 1.0) == {}


async def test_a_stopped_executor_is_a_failure_not_an_exception():
    executor = ThreadPoolExecutor(1)
    executor.shutdown()
    measurer = Measurer(BlockingSource(), executor, deadline_seconds=5)
    observation = await measurer.template(templated("t"), 1.0, asyncio.get_running_loop().time() + 5)
    assert observation.error is not None and "not measured" in observation.error
    assert len(measurer.budget) == 0


async def test_budget_slots_are_bounded_and_handed_on():
    budget = NamespaceBudget(2)
    assert await budget.acquire("a", 0) and await budget.acquire("a", 0)
    assert budget.in_use("a") == 2
    assert not await budget.acquire("a", 0)
    waiter = asyncio.create_task(budget.acquire("a", 30))
    await asyncio.sleep(0)
    budget.release("a")
    assert await waiter
    assert budget.in_use("a") == 2
    budget.release("a")
    budget.release("a")
    assert budget.in_use("a") == 0 and len(budget) == 0
    with pytest.raises(ValueError):
        NamespaceBudget(0)
