"""webscale_local.waiting: a wait returns what it waited for, or says what did not happen and what it saw."""

from __future__ import annotations

import asyncio

import pytest
from webscale_local.waiting import WaitTimeout, wait_for, wait_for_async


def test_wait_for_returns_the_first_truthy_value_and_treats_errors_as_not_yet():
    calls = iter([ConnectionRefusedError("not listening"), 0, [], ["ready"]])

    def probe() -> object:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert wait_for(probe, timeout=5, interval=0.001, what="ready") == ["ready"]


def test_wait_for_says_what_did_not_happen_and_the_last_value_seen():
    seen = iter(range(1000))
    with pytest.raises(WaitTimeout) as failed:
        wait_for(lambda: next(seen) > 10**6, timeout=0.05, interval=0.001, what="a million polls")
    assert str(failed.value).startswith("a million polls did not happen within 0.05s; last value seen: False")
    assert isinstance(failed.value, AssertionError)


def test_wait_for_keeps_the_last_exception_as_the_last_value():
    def probe() -> bool:
        raise ConnectionRefusedError("port 1 closed")

    with pytest.raises(WaitTimeout, match=r"last value seen: ConnectionRefusedError\('port 1 closed'\)"):
        wait_for(probe, timeout=0.02, interval=0.001, what="the server")


def test_give_up_ends_the_wait_at_once():
    class Died(Exception):
        pass

    def probe() -> bool:
        raise Died("the process exited")

    with pytest.raises(Died):
        wait_for(probe, timeout=60, interval=0.001, give_up=(Died,))


@pytest.mark.parametrize(("timeout", "interval"), [(0, 1), (1, 0), (-1, 1)])
def test_a_wait_without_a_positive_bound_is_refused(timeout: float, interval: float):
    with pytest.raises(ValueError, match="must be positive"):
        wait_for(lambda: True, timeout=timeout, interval=interval, what="x")


async def test_wait_for_async_lets_other_tasks_run_between_calls():
    flag: list[bool] = []

    async def later() -> None:
        flag.append(True)

    task = asyncio.create_task(later())
    assert await wait_for_async(lambda: flag, what="the task to run") == [True]
    await task
    with pytest.raises(WaitTimeout, match=r"a nonzero value did not happen within 0\.01s; last value seen: 0$"):
        await wait_for_async(lambda: 0, timeout=0.01, what="a nonzero value")
