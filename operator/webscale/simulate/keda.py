"""KEDA with a Prometheus trigger, implemented from its documentation.

KEDA turns the trigger into an External metric for an HPA it manages, so the replica arithmetic
is the HPA's (see hpa.py; https://keda.sh/docs/latest/concepts/scaling-deployments/).
* The Prometheus scaler is polled every `pollingInterval` (30 s by default) and, with cached
  metrics, the HPA's 15 s syncs read the value of the last poll
  (https://keda.sh/docs/latest/reference/scaledobject-spec/#pollinginterval,
  https://keda.sh/docs/latest/reference/scaledobject-spec/#usecachedmetrics).
* `threshold` is an AverageValue target per pod
  (https://keda.sh/docs/latest/scalers/prometheus/).
* `fallback {failureThreshold, replicas}`: after failureThreshold failed polls the metric reports
  replicas x threshold, so the HPA moves to `replicas`; before that the HPA sees an error and holds
  (https://keda.sh/docs/latest/reference/scaledobject-spec/#fallback).
* `cooldownPeriod` (300 s) only applies to scaling to zero, which min 2 replicas rules out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from webscale.simulate.engine import View
from webscale.simulate.hpa import Hpa, HpaState


@dataclass(frozen=True)
class KedaState:
    hpa: HpaState
    cached: float | None = None
    failures: int = 0
    last_poll: int | None = None


@dataclass(frozen=True)
class Keda:
    """ScaledObject with a Prometheus trigger, pollingInterval 30 s and a fallback."""

    hpa: Hpa
    polling_interval: int = 30
    failure_threshold: int = 3
    fallback_replicas: int = 6
    name: str = "keda"
    interval: int = 15

    def start(self, view: View) -> tuple[int, KedaState]:
        replicas, hpa = self.hpa.start(view)
        return replicas, KedaState(hpa)

    def step(self, state: KedaState, view: View) -> tuple[int, KedaState]:
        if state.last_poll is None or view.now - state.last_poll >= self.polling_interval:
            value = view.prometheus_rate()
            if value is None:
                state = replace(state, failures=state.failures + 1, last_poll=view.now)
            else:
                state = replace(state, cached=value, failures=0, last_poll=view.now)
        if state.failures >= self.failure_threshold:
            usage: float | None = self.fallback_replicas * self.hpa.target_per_pod
        elif state.failures > 0:
            usage = None  # the metrics server returns an error: the HPA holds
        else:
            usage = state.cached
        replicas, hpa = self.hpa.reconcile(state.hpa, view.now, view.replicas, usage)
        return replicas, replace(state, hpa=hpa)
