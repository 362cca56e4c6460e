"""The Kubernetes HPA v2 algorithm with its default behaviour, implemented from its documentation.

https://kubernetes.io/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale/
* "Algorithm details": desiredReplicas = ceil[currentReplicas x (currentMetricValue /
  desiredMetricValue)], skipped while the ratio is within the tolerance (0.1 by default). Here the
  metric is an External metric (the app's request rate from Prometheus through an adapter) with
  an AverageValue target, for which the HPA computes ceil(total / target) against status.replicas.
* The control loop runs every 15 s (`--horizontal-pod-autoscaler-sync-period`,
  https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/).
* "Default Behavior": scale-up window 0 s, policies +100 % or +4 pods per 15 s (selectPolicy Max);
  scale-down window 300 s taking the highest recommendation, policy -100 % per 15 s.
* Rate limits count the replicas added/removed in the policy's period before now (the replica
  count at the period's start); "Stabilization window": the HPA remembers recommendations and,
  on (re)start, seeds the scale-down window with the current count.
* When the metric cannot be read the HPA sets ScalingActive=False and does not change the scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from webscale.simulate.engine import View

Policy = tuple[str, int, int]
"""(type "Pods" | "Percent", value, periodSeconds)."""


@dataclass(frozen=True)
class HpaState:
    """Recommendations (time, replicas) and scale events (time, signed change) the controller keeps."""

    recommendations: tuple[tuple[int, int], ...] = ()
    events: tuple[tuple[int, int], ...] = ()
    started: bool = False


@dataclass(frozen=True)
class Hpa:
    """autoscaling/v2 HorizontalPodAutoscaler with default behaviour and an AverageValue target."""

    target_per_pod: float
    min_replicas: int
    max_replicas: int
    tolerance: float = 0.1
    scale_up_window: int = 0
    scale_up_policies: tuple[Policy, ...] = (("Percent", 100, 15), ("Pods", 4, 15))
    scale_down_window: int = 300
    scale_down_policies: tuple[Policy, ...] = (("Percent", 100, 15),)
    name: str = "hpa"
    interval: int = 15

    def start(self, view: View) -> tuple[int, HpaState]:
        return view.world.need(view.load.at(0)), HpaState()

    def step(self, state: HpaState, view: View) -> tuple[int, HpaState]:
        return self.reconcile(state, view.now, view.replicas, view.prometheus_rate())

    def reconcile(self, state: HpaState, now: int, current: int, usage: float | None) -> tuple[int, HpaState]:
        """One sync: the metric's proposal, stabilised, rate-limited and bounded."""
        if not state.started and self.scale_down_window > 0:
            # maybeInitScaleDownStabilizationWindow: a new controller does not scale down at once.
            state = HpaState(((now, current),), state.events, True)
        if usage is None:
            return current, state  # ScalingActive=False: the scale is left alone
        ratio = usage / (self.target_per_pod * current) if current else math.inf
        proposal = current
        if abs(1.0 - ratio) > self.tolerance + 1e-9:
            proposal = math.ceil(usage / self.target_per_pod - 1e-9)
        longest = max(self.scale_up_window, self.scale_down_window)
        recs = tuple(r for r in state.recommendations if r[0] > now - longest)
        up = min([proposal, *(n for t, n in recs if t > now - self.scale_up_window)])
        down = max([proposal, *(n for t, n in recs if t > now - self.scale_down_window)])
        stabilized = min(max(current, up), down)
        desired = self._rate_limited(stabilized, current, state.events, now)
        period = max(p[2] for p in (*self.scale_up_policies, *self.scale_down_policies))
        events = tuple(e for e in state.events if e[0] > now - period)
        if desired != current:
            events += ((now, desired - current),)
        return desired, HpaState((*recs, (now, proposal)), events, True)

    def _rate_limited(self, desired: int, current: int, events: tuple[tuple[int, int], ...], now: int) -> int:
        def start(period: int) -> int:
            return current - sum(change for t, change in events if t > now - period)

        if desired > current:
            limit = max(
                start(p) + v if kind == "Pods" else math.ceil(start(p) * (1 + v / 100))
                for kind, v, p in self.scale_up_policies
            )
            return min(desired, max(limit, current), self.max_replicas)
        if desired < current:
            floor = min(
                start(p) - v if kind == "Pods" else int(start(p) * (1 - v / 100))
                for kind, v, p in self.scale_down_policies
            )
            return max(desired, min(floor, current), self.min_replicas)
        return max(self.min_replicas, min(self.max_replicas, desired))
