"""The scaling loop: batched apps are acted for without waiting for a slow template; one app's
failing act step never reaches another app or the loop; failed ticks are counted for /healthz."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes.client.rest import ApiException
from test_registry import URL, swa

from webscale.api.app import App
from webscale.api.observation import Observation
from webscale.api.ref import AppRef
from webscale.kube.store import Store
from webscale.metrics.prometheus import AppQuery
from webscale.runtime.health import TickHealth
from webscale.runtime.locks import AppLocks
from webscale.runtime.measure import Measurer
from webscale.runtime.polling import Polling
from webscale.runtime.registry import Registry


def app_body(name: str, version: int, template: str | None = None) -> dict[str, Any]:
    body = swa(name, version)
    body["spec"]["metrics"] = {"prometheus": {"url": URL}, **({"requestRate": template} if template else {})}
    return body


class FakeAutoscaler:
    """Every app is due; act records the app (and raises for "broken")."""

    def __init__(self) -> None:
        self.acted: list[tuple[str, Observation]] = []
        self.reported: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def due(self, apps: list[App], now: float) -> list[App]:
        return [a for a in apps if a.valid]

    def mark_polled(self, app: App, now: float) -> None:
        pass

    def act(self, app: App, observation: Observation, now: float) -> None:
        if app.name == "broken":
            raise ZeroDivisionError("one app's bug")
        if app.name == "throttled":
            raise ApiException(status=503, reason="Service Unavailable")
        with self.lock:
            self.acted.append((app.name, observation))

    def report_failure(self, app: App, why: str, now: float) -> None:
        with self.lock:
            self.reported.append((app.name, why))

    def names(self) -> list[str]:
        with self.lock:
            return sorted(name for name, _ in self.acted)


class SlowTemplates:
    def __init__(self) -> None:
        self.release = threading.Event()

    def observe(self, apps: Sequence[AppQuery], now: float) -> dict[AppRef, Observation]:
        if any(a.request_rate_template for a in apps):
            assert self.release.wait(30)
        return {a.key: Observation(at=now, requests_per_second=1.0) for a in apps}


def one_worker_polling(
    store: Store, autoscaler: Any, pool: ThreadPoolExecutor, templates: ThreadPoolExecutor, leading: Any
) -> Polling:
    """A scaling loop over the apps of `store` with one act worker and `autoscaler` in place of the real one."""
    return Polling(
        Registry(store, [URL]),
        autoscaler,
        Measurer(SlowTemplates(), templates, deadline_seconds=30),
        pool,
        1,
        AppLocks(),
        leading,
        TickHealth(1.0, 30, 3),
    )


async def until(condition: Any, what: str) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never: {what}")


async def test_batched_apps_act_while_a_template_is_slow_and_a_broken_app_stays_alone(caplog):
    caplog.set_level(logging.INFO, "webscale.runtime.polling")
    store = Store()
    store.replace(
        [
            app_body("a", 1),
            app_body("broken", 2),
            app_body("slow", 3, "sum(rate(x{app={app}}[{window}]))"),
            app_body("c", 4),
        ]
    )
    pool, templates = ThreadPoolExecutor(2), ThreadPoolExecutor(2)
    source, autoscaler = SlowTemplates(), FakeAutoscaler()
    health = TickHealth(1.0, 30, 3)
    polling = Polling(
        Registry(store, [URL]),
        autoscaler,  # type: ignore[arg-type]
        Measurer(source, templates, deadline_seconds=30),
        pool,
        2,
        AppLocks(),
        lambda: True,
        health,
    )
    try:
        await polling.poll(1000.0)
        await until(lambda: autoscaler.names() == ["a", "c"], "the batched apps acted")
        assert AppRef("default", "slow") in polling._acting  # still measuring: skipped by the next tick
        await polling.poll(1001.0)
        source.release.set()
        await until(lambda: autoscaler.names() == ["a", "a", "c", "c", "slow"], "the template app acted")
        await until(lambda: not polling._acting, "every act step finished")
        assert all(o.ok for _, o in autoscaler.acted)
        # broken failed at both polls: said once, with its traceback
        said = [(r.getMessage().split(" (logged again")[0], r.exc_info is not None) for r in caplog.records]
        assert said == [
            ("default/broken: a scaling step failed: ZeroDivisionError: one app's bug; next poll retries", True)
        ]
    finally:
        source.release.set()
        await polling.stop()
        pool.shutdown()
        templates.shutdown()


async def test_a_tick_that_fails_is_counted_and_the_loop_goes_on(caplog):
    caplog.set_level(logging.INFO, "webscale.runtime.polling")

    class BrokenRegistry:
        calls = 0

        def all(self) -> list[App]:
            BrokenRegistry.calls += 1
            raise RecursionError("maximum recursion depth exceeded")

    health = TickHealth(0.001, 10_000, 3)
    pool = ThreadPoolExecutor(1)
    polling = Polling(
        BrokenRegistry(),  # type: ignore[arg-type]
        FakeAutoscaler(),  # type: ignore[arg-type]
        Measurer(SlowTemplates(), pool, 1.0),
        pool,
        1,
        AppLocks(),
        lambda: True,
        health,
    )
    loop = asyncio.create_task(polling.run(0.001))
    try:
        await until(lambda: BrokenRegistry.calls >= 3, "three ticks")
        assert not loop.done()
        problem = health.problem()
        assert problem is not None and "scaling-loop ticks failed: RecursionError" in problem
        said = [r.getMessage().split(" (logged again")[0] for r in caplog.records]
        assert said == ["scaling loop: a tick failed: RecursionError: maximum recursion depth exceeded"]
    finally:
        loop.cancel()
        pool.shutdown()


async def test_an_app_whose_query_cannot_be_built_is_acted_for_with_the_reason(monkeypatch):
    import webscale.runtime.polling as polling_module

    real = polling_module.query_of

    def query_of(app: App) -> AppQuery:
        if app.name == "odd":
            raise RecursionError("maximum recursion depth exceeded")
        return real(app)

    monkeypatch.setattr(polling_module, "query_of", query_of)
    store = Store()
    store.replace([app_body("a", 1), app_body("odd", 2)])
    pool = ThreadPoolExecutor(2)
    autoscaler = FakeAutoscaler()
    polling = Polling(
        Registry(store, [URL]),
        autoscaler,  # type: ignore[arg-type]
        Measurer(SlowTemplates(), pool, 5.0),
        pool,
        2,
        AppLocks(),
        lambda: True,
        TickHealth(1.0, 30, 3),
    )
    try:
        await polling.poll(1000.0)
        await until(lambda: autoscaler.names() == ["a", "odd"], "both apps acted")
        observed = dict(autoscaler.acted)
        assert observed["a"].ok
        assert observed["odd"].error == "not measured: RecursionError: maximum recursion depth exceeded"
    finally:
        await polling.stop()
        pool.shutdown()


class ForgetfulMetrics:
    def __init__(self) -> None:
        self.forgotten: list[AppRef] = []

    def forget(self, ref: AppRef) -> None:
        self.forgotten.append(ref)


async def test_an_app_deleted_or_leadership_lost_while_acting_has_its_series_removed():
    """The deletion's (or the leadership loss's) forget can run while the act step is still recording
    the app's per-app series: the step removes them itself when it ends."""
    store = Store()
    store.replace([app_body("kept", 1), app_body("gone", 2)])
    leading = {"now": True}

    class DeletingAutoscaler(FakeAutoscaler):
        app_metrics = ForgetfulMetrics()

        def act(self, app: App, observation: Observation, now: float) -> None:
            super().act(app, observation, now)
            if app.name == "gone":
                store.replace([app_body("kept", 1)])  # deleted while its step runs
            if now > 1000.0:
                leading["now"] = False  # the Lease lost while this step runs

    autoscaler = DeletingAutoscaler()
    pool, templates = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
    polling = one_worker_polling(store, autoscaler, pool, templates, lambda: leading["now"])
    try:
        await polling.poll(1000.0)
        await until(lambda: not polling._acting and len(autoscaler.acted) == 2, "both apps acted")
        assert autoscaler.app_metrics.forgotten == [AppRef("default", "gone")]
        await polling.poll(1001.0)
        await until(lambda: not polling._acting and len(autoscaler.acted) == 3, "kept acted again")
        assert autoscaler.app_metrics.forgotten == [AppRef("default", "gone"), AppRef("default", "kept")]
    finally:
        await polling.stop()
        pool.shutdown()
        templates.shutdown()


async def test_a_failure_of_the_api_server_is_logged_but_not_written_to_the_app(caplog):
    """An unreachable or overloaded API server is not the app's problem: no status write is added to
    its trouble (the log says it once; the app's conditions keep what the last step wrote)."""
    caplog.set_level(logging.INFO, "webscale.runtime.polling")
    store = Store()
    store.replace([app_body("throttled", 1)])
    pool, templates = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
    autoscaler = FakeAutoscaler()
    polling = one_worker_polling(store, autoscaler, pool, templates, lambda: True)
    try:
        for now in (1000.0, 1001.0):
            await polling.poll(now)
            await until(lambda: not polling._acting, "the act step finished")
        assert autoscaler.reported == []
        said = [r.getMessage().split(" (logged again")[0] for r in caplog.records]
        assert said == ["default/throttled: a scaling step failed: 503 Service Unavailable; next poll retries"]
    finally:
        await polling.stop()
        pool.shutdown()
        templates.shutdown()
