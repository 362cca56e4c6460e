"""Failed reconciles retry with the app's own back-off, reset by a success; one app's failures
never hold up another app's reconciles."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes.client.rest import ApiException
from test_registry import URL, swa

from webscale.api.app import App
from webscale.api.ref import AppRef
from webscale.kube.store import Store
from webscale.runtime.backoff import Backoff
from webscale.runtime.locks import AppLocks
from webscale.runtime.reconciling import Reconciling
from webscale.runtime.registry import Registry

A, B = AppRef("default", "a"), AppRef("default", "b")


class FlakyReconciler:
    """Fails `a` a given number of times (an API error, then anything else), `b` never."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[str] = []

    def reconcile(self, app: App) -> list[str]:
        self.calls.append(app.name)
        if app.name == "a" and self.failures > 0:
            self.failures -= 1
            if self.failures % 2:
                raise ApiException(status=500, reason="Internal Server Error")
            raise RuntimeError("boom")
        return []


async def until(condition: Any, what: str) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never: {what}")


async def test_failures_back_off_per_app_and_a_success_resets_the_count(caplog):
    caplog.set_level(logging.INFO, "webscale.runtime.reconciling")
    store = Store()
    store.replace([swa("a", 1), swa("b", 2)])
    reconciler = FlakyReconciler(failures=3)
    pool = ThreadPoolExecutor(2)
    backoff = Backoff(base=0.001, cap=0.004)
    counts: list[int] = []
    real_failed = backoff.failed

    def failed(key: Any) -> float:
        delay = real_failed(key)
        counts.append(backoff.failures(key))
        return delay

    backoff.failed = failed  # type: ignore[method-assign]
    reconciling = Reconciling(reconciler, Registry(store, [URL]), pool, 2, AppLocks(), lambda: True, backoff)
    reconciling.start()
    try:
        reconciling.add(A)
        reconciling.add(B)
        await until(lambda: reconciler.calls.count("a") == 4, "a reconciled after three failures")
        await until(lambda: reconciling.backoff.failures(A) == 0, "a's back-off reset")
        assert counts == [1, 2, 3]  # each failure one more than the last: 1 ms, 2 ms, 4 ms
        assert reconciler.calls.count("b") == 1  # b was reconciled once, without waiting for a
        assert len(reconciling.backoff) == 0
        # boom, a 500 (transient: quiet until it repeats), boom again (the same reason), then it works
        said = [r.getMessage().split(" (logged again")[0] for r in caplog.records]
        assert said == [
            "default/a: reconcile failed: RuntimeError: boom; retry 1 in 0.00s",
            "default/a: reconciles again after 3 failed attempt(s)",
        ]
        assert caplog.records[0].exc_info is not None  # an unexpected failure comes with its traceback
    finally:
        await reconciling.stop()
        pool.shutdown()


async def test_a_forgotten_app_has_no_retry_pending():
    store = Store()
    store.replace([swa("a", 1)])
    reconciler = FlakyReconciler(failures=100)
    pool = ThreadPoolExecutor(1)
    reconciling = Reconciling(
        reconciler, Registry(store, [URL]), pool, 1, AppLocks(), lambda: True, Backoff(base=0.05, cap=60)
    )
    reconciling.start()
    try:
        reconciling.add(A)
        await until(lambda: A in reconciling._retries, "a retry scheduled")
        reconciling.forget(A)
        assert A not in reconciling._retries and reconciling.backoff.failures(A) == 0
        calls = len(reconciler.calls)
        await asyncio.sleep(0.2)  # past the retry it would have had
        assert len(reconciler.calls) == calls
    finally:
        await reconciling.stop()
        pool.shutdown()
