"""Watch events to work: from an informer's thread to the event loop, then to the app's work.

`changes.route` decides in the informer's thread what an event asks for (pure); only that small
answer crosses to the event loop, where a deleted app is forgotten everywhere and an app that
needs work is queued for a reconcile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from webscale.api.ref import AppRef
from webscale.kube.store import Change
from webscale.runtime.changes import route


class Routing:
    """Hands each watch event's work to `reconcile(ref)` or `forget(ref)` in the event loop."""

    def __init__(
        self,
        app_kind: str,
        child_kinds: tuple[str, ...],
        reconcile: Callable[[AppRef], None],
        forget: Callable[[AppRef], None],
    ) -> None:
        self.app_kind = app_kind
        self.child_kinds = child_kinds
        self.reconcile = reconcile
        self.forget = forget
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop events are handed to (events before this are dropped: the first sync covers them)."""
        self._loop = loop

    def from_thread(self, kind: str, change: Change) -> None:
        """An informer's callback (its thread)."""
        work = route(kind, change, self.app_kind, self.child_kinds)
        loop = self._loop
        if work is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.on_change, *work)

    def on_change(self, what: str, ref: AppRef) -> None:
        """In the event loop: ("forget", ref) or ("reconcile", ref)."""
        if what == "forget":
            self.forget(ref)
        else:
            self.reconcile(ref)
