"""One lock per app, held (in a pool thread) by a reconcile or a scaling step of that app, so the
two never write the same app at once."""

from __future__ import annotations

import threading

from webscale.api.ref import AppRef


class AppLocks:
    """The app's lock, made on first use; dropped when the app is deleted."""

    def __init__(self) -> None:
        self._locks: dict[AppRef, threading.Lock] = {}

    def __call__(self, ref: AppRef) -> threading.Lock:
        lock = self._locks.get(ref)
        return lock if lock is not None else self._locks.setdefault(ref, threading.Lock())

    def forget(self, ref: AppRef) -> None:
        self._locks.pop(ref, None)

    def __len__(self) -> int:
        return len(self._locks)
