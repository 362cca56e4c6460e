"""Per-app series of the operator's /metrics (`webscale_app_*` in `telemetry`): what each decision
asked for, read and why (a counter per reason, and the last reason as its own series, so a change of
reason is a new series), and how long the app ran under capacity.

Called by the act step (`autoscaling.act.Autoscaler`) after each decision and wake, and by the runtime
when an app is forgotten or this replica stops leading. The arithmetic is in pure functions
(`sample_of`, `under_capacity_seconds`, `reason_label`); `AppMetrics` only writes their results to the
registry and removes an app's series. Cardinality: one series set per app the loop decides for, labelled
with the ScaledWebApp's namespace and name and, for decisions, a reason from a closed set
(`KNOWN_REASONS`); nothing else a spec holds ever becomes a label value.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from webscale import telemetry
from webscale.api.ref import AppRef
from webscale.autoscaling.decide import Decision
from webscale.autoscaling.reasons import REASONS
from webscale.autoscaling.zero import ZERO_REASONS

KNOWN_REASONS = frozenset((*REASONS, *ZERO_REASONS))
"""Every reason a decision or a wake can give: the only values of the `reason` label but OTHER."""
OTHER = "Other"


def reason_label(reason: str) -> str:
    """The `reason` label for a decision's reason: itself when it is one of the closed set, else OTHER."""
    return reason if reason in KNOWN_REASONS else OTHER


@dataclass(frozen=True)
class AppSample:
    """What one decision puts in the per-app series.

    desired: the replicas it asked for; ready: the ready pods it counted; capacity_rps: their capacity
    at the target; offered_rps: the request rate it read (None without a usable reading); reason: its
    reason label; at: when it was made (Unix seconds); interval: the app's polling interval (s).
    """

    desired: int
    ready: int
    capacity_rps: float
    offered_rps: float | None
    reason: str
    at: float
    interval: float

    @property
    def under_capacity(self) -> bool:
        """The reading is above the ready capacity (no reading: not known to be, so False)."""
        return self.offered_rps is not None and self.offered_rps > self.capacity_rps


def sample_of(decision: Decision, ready: int, at: float, interval: float) -> AppSample:
    """The per-app sample of one decision (pure)."""
    return AppSample(
        desired=decision.replicas,
        ready=ready,
        capacity_rps=decision.capacity_rps,
        offered_rps=decision.observed_rps,
        reason=reason_label(decision.reason),
        at=at,
        interval=interval,
    )


def under_capacity_seconds(previous_at: float | None, sample: AppSample) -> float:
    """Seconds to add to the app's time under capacity at this decision (pure): when its reading is above
    the ready capacity, the time since the app's previous decision (`previous_at`), at most one polling
    interval (a gap — the operator restarting, leadership moving — is not counted as known time); 0 for
    the first decision and whenever the reading is at or below capacity, or missing."""
    if previous_at is None or not sample.under_capacity:
        return 0.0
    return max(0.0, min(sample.at - previous_at, sample.interval))


class AppMetrics:
    """Writes AppSamples to the per-app series and removes an app's series (thread-safe: act steps run
    on the runtime's pool)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[AppRef, float] = {}
        """When each app's last decision was recorded (for the time under capacity)."""
        self._apps: set[AppRef] = set()
        """The apps with series now."""
        self._reason: dict[AppRef, str] = {}
        """The reason label of each app's last decision (its webscale_app_decision_reason series)."""

    def record(self, ref: AppRef, sample: AppSample) -> None:
        labels = (ref.namespace, ref.name)
        with self._lock:
            added = under_capacity_seconds(self._last.get(ref), sample)
            self._last[ref] = sample.at
            self._apps.add(ref)
            self._set_reason(ref, reason_label(sample.reason))
            telemetry.APP_DESIRED.labels(*labels).set(sample.desired)
            telemetry.APP_READY.labels(*labels).set(sample.ready)
            telemetry.APP_CAPACITY.labels(*labels).set(sample.capacity_rps)
            if sample.offered_rps is None:
                _remove(telemetry.APP_OFFERED, labels)
            else:
                telemetry.APP_OFFERED.labels(*labels).set(sample.offered_rps)
            telemetry.APP_DECISIONS.labels(*labels, self._reason[ref]).inc()
            telemetry.APP_UNDER_CAPACITY.labels(*labels).inc(added)  # inc(0) creates the series at 0

    def woken(self, ref: AppRef, desired: int, reason: str) -> None:
        """The fast path scaled an app at zero up (`Autoscaler.wake`): a decision outside the polls."""
        labels = (ref.namespace, ref.name)
        label = reason_label(reason)
        with self._lock:
            self._apps.add(ref)
            self._set_reason(ref, label)
            telemetry.APP_DESIRED.labels(*labels).set(desired)
            telemetry.APP_DECISIONS.labels(*labels, label).inc()

    def forget(self, ref: AppRef) -> None:
        """Remove every series of the app (deleted, or no longer decided for by this replica)."""
        labels = (ref.namespace, ref.name)
        with self._lock:
            self._last.pop(ref, None)
            self._apps.discard(ref)
            self._reason.pop(ref, None)
            for reason in (*KNOWN_REASONS, OTHER):  # the closed set: whichever were set
                _remove(telemetry.APP_DECISIONS, (*labels, reason))
                _remove(telemetry.APP_REASON, (*labels, reason))
            for metric in (
                telemetry.APP_DESIRED,
                telemetry.APP_READY,
                telemetry.APP_CAPACITY,
                telemetry.APP_OFFERED,
                telemetry.APP_UNDER_CAPACITY,
            ):
                _remove(metric, labels)

    def _set_reason(self, ref: AppRef, label: str) -> None:
        """The app's reason series says `label` (under the lock)."""
        previous = self._reason.get(ref)
        if previous is not None and previous != label:
            _remove(telemetry.APP_REASON, (ref.namespace, ref.name, previous))
        self._reason[ref] = label
        telemetry.APP_REASON.labels(ref.namespace, ref.name, label).set(1)

    def forget_all(self) -> None:
        """Remove every app's series (this replica stopped leading: the new leader exports them)."""
        with self._lock:
            refs = set(self._apps)
        for ref in refs:
            self.forget(ref)

    def apps(self) -> set[AppRef]:
        """The apps that have series now."""
        with self._lock:
            return set(self._apps)


def _remove(metric: Gauge | Counter, labels: tuple[str, ...]) -> None:
    with contextlib.suppress(KeyError):  # never set (an app without a reading)
        metric.remove(*labels)
