"""Leader election on a coordination.k8s.io Lease (the client-go algorithm, in a thread).

Only the leader writes. `LeaderElector.is_leader()` is true only while the last successful renewal
is younger than the renew deadline, so a leader cut off from the API server stops writing at once —
before the Lease expires for the others (renew deadline < lease duration). A standby takes the Lease
when its record has not changed for a whole lease duration, as observed on its own clock (never by
comparing clocks across machines). Shutdown releases the Lease, so a standby takes over at its next try.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.rest import ApiException

from webscale import telemetry
from webscale.kube.client import Kube, failure_reason
from webscale.lasting import Lasting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timing:
    """Lease duration > renew deadline > retry period (client-go's rule)."""

    lease_duration: float = 8.0
    renew_deadline: float = 5.0
    retry_period: float = 1.0

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError("need leaseDuration > renewDeadline > retryPeriod > 0")


def holder_of(lease: dict[str, Any] | None) -> str:
    return str(((lease or {}).get("spec") or {}).get("holderIdentity") or "")


def may_take(lease: dict[str, Any] | None, identity: str, observed_since: float, now: float, duration: float) -> bool:
    """May `identity` write itself into this Lease now? (pure)

    Yes when there is none, when it is ours, when it was released (no holder), or when its record
    has not changed for `duration` seconds since we first saw that version (`observed_since`)."""
    if lease is None:
        return True
    holder = holder_of(lease)
    return holder in ("", identity) or now - observed_since >= duration


def _micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Campaigns for the Lease in a daemon thread; calls back when leadership starts or ends."""

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        identity: str,
        timing: Timing,
        on_start: Callable[[], None],
        on_stop: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube, self.namespace, self.name, self.identity = kube, namespace, name, identity
        self.timing = timing
        self.on_start, self.on_stop = on_start, on_stop
        self.clock = clock
        self._renewed_at = float("-inf")
        self._leading = False
        self._observed_version = ""
        self._observed_since = clock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._failures = Lasting(log)

    def is_leader(self) -> bool:
        return self._leading and self.clock() - self._renewed_at < self.timing.renew_deadline

    def start(self) -> LeaderElector:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stopped.is_set():
            self.tick()
            self._stopped.wait(self.timing.retry_period)

    def tick(self) -> None:
        """One round: acquire or renew the Lease, and stop leading when the renew deadline passed
        (the campaign thread calls it every retry period; unit tests call it on a fake clock)."""
        started = self.clock()
        try:
            acquired = self._try_acquire_or_renew(started)
        except (ApiException, OSError) as exc:
            self._failures.failed(
                "lease",
                failure_reason(exc),
                "leader election: Lease %s/%s could not be read or written: %s",
                self.namespace,
                self.name,
                failure_reason(exc),
            )
        else:
            self._failures.recovered(
                "lease", "leader election: Lease %s/%s is read and written again", self.namespace, self.name
            )
            if acquired:
                self._renewed_at = started
                self._set_leading(True)
        if self._leading and not self.is_leader():
            self._set_leading(False)  # could not renew within the deadline: stop writing now

    def _set_leading(self, leading: bool) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        telemetry.LEADER.set(1 if leading else 0)
        if leading:
            log.info("leader election: %s now holds Lease %s/%s", self.identity, self.namespace, self.name)
            self.on_start()
        else:
            log.warning(
                "leader election: %s lost Lease %s/%s; writes stopped", self.identity, self.namespace, self.name
            )
            self.on_stop()

    def _try_acquire_or_renew(self, now: float) -> bool:
        lease = self.kube.get_lease(self.namespace, self.name)
        if lease is not None:
            version = str(lease["metadata"].get("resourceVersion"))
            if version != self._observed_version:
                self._observed_version, self._observed_since = version, now
        if not may_take(lease, self.identity, self._observed_since, now, self.timing.lease_duration):
            if self._leading:
                self._set_leading(False)
            return False
        spec = dict((lease or {}).get("spec") or {})
        stamp = _micro_time()
        if holder_of(lease) != self.identity:
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if lease else 0)
            spec["acquireTime"] = stamp
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=int(self.timing.lease_duration), renewTime=stamp)
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": spec,
        }
        try:
            if lease is None:
                self.kube.create_lease(body)
            else:
                body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
                self.kube.replace_lease(body)
        except ApiException as exc:
            if exc.status in (409, 422):
                return False  # another replica wrote first; look again next period
            raise
        return True

    def release(self) -> None:
        """Stop campaigning; if leading, stop writing and hand the Lease back (holder cleared)."""
        self._stopped.set()
        was_leading, self._leading = self._leading, False
        telemetry.LEADER.set(0)
        if not was_leading:
            return
        try:
            lease = self.kube.get_lease(self.namespace, self.name)
            if lease is not None and holder_of(lease) == self.identity:
                lease["spec"] = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1}
                self.kube.replace_lease(lease)
                log.info("leader election: released Lease %s/%s", self.namespace, self.name)
        except (ApiException, OSError) as exc:
            log.warning("leader election: could not release the Lease: %s", getattr(exc, "reason", exc))
