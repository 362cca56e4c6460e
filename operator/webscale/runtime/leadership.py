"""Who may write: this replica, while it holds the Lease (or always, without leader election).

A standby keeps its caches warm and writes nothing; when it takes the Lease, `on_lead` runs in the
event loop (the runtime queues every app for a reconcile). `may_write` is the gate every write
checks (`webscale.kube.client.Kube`); `leading` is what the loops check before they start work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from webscale.kube.client import Kube
from webscale.kube.lease import LeaderElector, Timing
from webscale.runtime.identity import lease_namespace
from webscale.settings import Settings

log = logging.getLogger(__name__)


class Leadership:
    """The Lease (if leader election is on) and what follows from holding it."""

    def __init__(self, settings: Settings, identity: str) -> None:
        self.settings = settings
        self.identity = identity
        self.enabled = settings.leader_election
        self.leading = not self.enabled
        self.elector: LeaderElector | None = None
        self._on_change: Callable[[bool], None] = lambda _leading: None

    def may_write(self) -> bool:
        return not self.enabled or (self.elector is not None and self.elector.is_leader())

    def start(self, kube: Kube, on_change: Callable[[bool], None]) -> None:
        """Campaign for the Lease (or lead at once without election); `on_change(leading)` runs in
        the running event loop whenever leadership is gained or lost."""
        self._on_change = on_change
        if not self.enabled:
            self._changed(True)
            return
        loop = asyncio.get_running_loop()

        def soon(leading: bool) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._changed, leading)

        timing = Timing(
            self.settings.lease_duration_seconds,
            self.settings.lease_renew_deadline_seconds,
            self.settings.lease_retry_seconds,
        )
        self.elector = LeaderElector(
            kube,
            lease_namespace(self.settings),
            self.settings.lease_name,
            self.identity,
            timing,
            on_start=lambda: soon(True),
            on_stop=lambda: soon(False),
        ).start()

    def _changed(self, leading: bool) -> None:
        self.leading = leading
        self._on_change(leading)

    async def stop(self) -> None:
        """Stop leading and hand the Lease back, so a standby takes over at its next try."""
        self.leading = False
        if self.elector is not None:
            await asyncio.to_thread(self.elector.release)
