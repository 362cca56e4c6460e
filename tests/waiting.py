"""`eventually`: webscale_local.waiting.wait_for with the argument order older tests use
(`eventually(probe, timeout, what, interval=...)`). New code calls `wait_for` directly."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from webscale_local.waiting import WaitTimeout, wait_for

T = TypeVar("T")

__all__ = ["WaitTimeout", "eventually", "wait_for"]


def eventually(probe: Callable[[], T], timeout: float = 30, what: str = "condition", interval: float = 0.2) -> T:
    """Call `probe` until it returns a truthy value (returned) or the deadline passes (WaitTimeout)."""
    return wait_for(probe, timeout=timeout, interval=interval, what=what)
