"""Failures that last: logged when one starts or its reason changes, and once when it ends, never on
every retry, poll or round in between (the app's conditions, /healthz and the operator's metrics say
it meanwhile). One `Lasting` per kind of failure; its keys tell apart what fails (an app, a Lease, a
watched kind). Safe to share between threads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Hashable

AGAIN = " (logged again only when the reason changes, and once when it works again)"


class Lasting:
    """Which keys are failing, and why, as last logged to `log`."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._reasons: dict[Hashable, str] = {}

    def failed(self, key: Hashable, reason: str, message: str, *args: object, traceback: bool = False) -> bool:
        """Log the warning `message % args` (with the exception being handled, when `traceback`) if `key`
        was not failing or failed for another reason; True when it was logged."""
        with self._lock:
            if self._reasons.get(key) == reason:
                return False
            self._reasons[key] = reason
        self._log.warning(message + AGAIN, *args, exc_info=traceback, stacklevel=2)
        return True

    def recovered(self, key: Hashable, message: str, *args: object) -> bool:
        """Log `message % args` if `key` was failing (and forget it); True when it was logged."""
        with self._lock:
            was = self._reasons.pop(key, None)
        if was is None:
            return False
        self._log.info(message, *args, stacklevel=2)
        return True

    def forget(self, key: Hashable) -> None:
        """Drop `key` without a word (a deleted app)."""
        with self._lock:
            self._reasons.pop(key, None)

    def keep_only(self, live: Collection[Hashable]) -> None:
        """Drop, without a word, every key not in `live` (apps gone, or no longer looked at)."""
        with self._lock:
            for key in [k for k in self._reasons if k not in live]:
                del self._reasons[key]

    def reason(self, key: Hashable) -> str | None:
        with self._lock:
            return self._reasons.get(key)
