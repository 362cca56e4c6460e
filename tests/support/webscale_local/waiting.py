"""Waiting for something to happen: poll a predicate with a deadline, never sleep a fixed time and hope.

    pods = wait_for(lambda: ready_pods(ns), timeout=60, what="3 pods Ready")

`wait_for` returns the predicate's first truthy value. A predicate that raises counts as "not yet"
(an API server restarting, a port not open yet) and its exception is kept as the last value seen.
On the deadline it raises `WaitTimeout` (an AssertionError, so pytest shows it as a failed
assertion) saying what did not happen and the last value the predicate returned.

`wait_for_async` is the same inside an event loop (it awaits between calls, so the tasks under
test run).

`give_up` names exceptions that end the wait at once (e.g. a watched process that exited): waiting
on would only hide the cause.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """What a test waited for did not happen before its deadline."""

    def __init__(self, what: str, timeout: float, last: object) -> None:
        super().__init__(f"{what} did not happen within {timeout:g}s; last value seen: {last!r}")
        self.what = what
        self.timeout = timeout
        self.last = last


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30,
    interval: float = 0.2,
    what: str = "the condition",
    give_up: tuple[type[BaseException], ...] = (),
) -> T:
    """Call `predicate` every `interval` seconds until it returns a truthy value (returned) or
    `timeout` seconds have passed (WaitTimeout, with the last value seen)."""
    if timeout <= 0 or interval <= 0:
        raise ValueError(f"wait_for({what!r}): timeout and interval must be positive, got {timeout}, {interval}")
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
        except give_up:
            raise
        except Exception as exc:  # not yet: keep the reason for the message
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise WaitTimeout(what, timeout, last)
        time.sleep(interval)


async def wait_for_async(
    predicate: Callable[[], T], timeout: float = 5, interval: float = 0.001, what: str = "the condition"
) -> T:
    """`wait_for` for a coroutine: the event loop runs other tasks between two calls of `predicate`."""
    if timeout <= 0 or interval <= 0:
        raise ValueError(f"wait_for_async({what!r}): timeout and interval must be positive, got {timeout}, {interval}")
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(what, timeout, value)
        await asyncio.sleep(interval)
