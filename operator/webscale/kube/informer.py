"""Informers: one thread per watched resource keeps a `Store` current with list + watch.

Server-side label selectors keep memory to the operator's own objects (kopf's `labels=` filter
is applied client-side, after the whole cluster's objects were received). A watch that ends is
resumed from the last resourceVersion (bookmarks keep it fresh); a 410 Gone or any error relists,
and the relist reports deletions that happened in the gap. Changes go to `on_change` in the
informer's thread: the runtime hands them to its event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes.client.rest import ApiException

from webscale import telemetry
from webscale.kube.client import Kube, failure_reason, path_of
from webscale.kube.ratelimit import retry_delay
from webscale.kube.store import Change, Store, Trim, trim
from webscale.lasting import Lasting

log = logging.getLogger(__name__)

OnChange = Callable[[str, Change], None]

SHORT_WATCH_SECONDS = 1.0
"""A watch call that ended sooner than this without an event is followed by a pause this long."""


@dataclass(frozen=True)
class Resource:
    """What to watch: a kind, a server-side label selector, and how to trim what arrives."""

    api_version: str
    kind: str
    label_selector: str = ""
    trim: Trim = trim


class Informer:
    """List + watch of one resource in a daemon thread."""

    def __init__(
        self,
        kube: Kube,
        resource: Resource,
        namespace: str | None,
        on_change: OnChange,
        watch_timeout: int = 300,
        wait: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`wait` sleeps between failed attempts (default: until `stop`) and `clock` times watch calls: seams
        for unit tests."""
        self.kube = kube
        self.resource = resource
        self.path = path_of(resource.api_version, resource.kind, namespace)
        self.store = Store(resource.trim)
        self.on_change = on_change
        self.watch_timeout = watch_timeout
        self.synced = threading.Event()
        self._stopped = threading.Event()
        self._wait = wait or self._stopped.wait
        self._clock = clock
        self._thread = threading.Thread(target=self._run, name=f"informer-{resource.kind}", daemon=True)
        self._failures = Lasting(log)
        self._watching = False
        """A watch of the current list + watch round worked (`_watch_works`)."""
        self._attempts = 0
        """Failed rounds since a watch last worked: the back-off's exponent."""

    def start(self) -> Informer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current watch call returns (the thread is a daemon: exit never waits on it)."""
        self._stopped.set()

    def _emit(self, change: Change) -> None:
        try:
            self.on_change(self.resource.kind, change)
        except Exception:
            log.exception("informer %s: handling a change failed", self.resource.kind)

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._watching = False
            try:
                self._watch_from(self._relist())
            except Exception as exc:
                if isinstance(exc, ApiException) and exc.status == 410:
                    continue  # the normal end of a watch whose version is too old: relist at once
                # the backoff starts again only after a watch worked (`_watch_works`): a list that works
                # followed by a watch that fails at once (list allowed, watch not) backs off like a list
                # that fails
                self._attempts += 1
                reason = failure_reason(exc)
                self._failures.failed("watch", reason, "informer %s: %s; relisting", self.resource.kind, reason)
                self._wait(retry_delay(self._attempts, None, base=0.5, cap=30))

    def _watch_works(self) -> None:
        """A watch delivered an event or ended as watches do: the failure, if one was logged, is over."""
        if not self._watching:
            self._watching = True
            self._attempts = 0
            self._failures.recovered("watch", "informer %s: listing and watching work again", self.resource.kind)

    def _relist(self) -> str:
        telemetry.WATCH_RELISTS.labels(self.resource.kind).inc()
        version = ""

        def listed() -> Iterator[dict[str, Any] | None]:
            nonlocal version
            for items, last in self.kube.list_pages(self.path, self.resource.label_selector):
                yield from (self._typed_and_trimmed(item) for item in items)
                version = last or version

        for change in self.store.replace_stream(listed(), trimmed=True):
            self._emit(change)
        self.synced.set()
        return version

    def _typed_and_trimmed(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """A listed object as the store holds it (a list's items carry no apiVersion and kind; watch
        events' objects do)."""
        item.setdefault("apiVersion", self.resource.api_version)
        item.setdefault("kind", self.resource.kind)
        return self.store.trim(item)

    def _watch_from(self, version: str) -> None:
        """Follow the watch until stopped; a normal end of one watch call resumes from `version`."""
        while not self._stopped.is_set():
            started, delivered = self._clock(), False
            for event in self.kube.watch(self.path, self.resource.label_selector, version, self.watch_timeout):
                delivered = True
                obj = event.get("object") or {}
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                self._watch_works()
                if event.get("type") == "BOOKMARK":
                    continue
                telemetry.WATCH_EVENTS.labels(self.resource.kind).inc()
                change = self.store.apply(str(event.get("type")), obj)
                if change is not None:
                    self._emit(change)
                if self._stopped.is_set():
                    return
            if delivered or self._clock() - started >= SHORT_WATCH_SECONDS:
                self._watch_works()  # one watch call ended after its timeout
            elif not self._stopped.is_set():
                # ended at once with nothing (a proxy cutting streams): not a loop of watch calls
                self._wait(SHORT_WATCH_SECONDS)
