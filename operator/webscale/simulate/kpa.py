"""Knative's Pod Autoscaler (KPA), implemented from its documentation.

https://knative.dev/docs/serving/autoscaling/kpa-specific/ and
https://knative.dev/docs/serving/autoscaling/autoscaling-concepts/ (defaults from the
config-autoscaler ConfigMap,
https://github.com/knative/serving/blob/main/config/core/configmaps/autoscaler.yaml):
* the autoscaler ticks every 2 s and reads the metric straight from the pods (the queue-proxy
  sidecars), not through Prometheus: here, the offered load of the last seconds, with no lag;
* stable-window 60 s; panic-window-percentage 10 % (a 6 s panic window);
  desired = ceil(window mean / target per pod) for each window;
* panic-threshold-percentage 200 %: panic starts when the panic window asks for at least
  2 x the ready pods; while panicking the count never goes down, and panic ends one stable
  window after the panic condition was last seen;
* max-scale-up-rate 1000 and max-scale-down-rate 2.0 (per tick, relative to ready pods);
* min-scale / max-scale annotations bound the result.
The per-pod target is set to the same request rate the other policies aim for (the effective
target = target x target-utilization); the comparison is about dynamics, not headroom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from webscale.simulate.engine import View


@dataclass(frozen=True)
class KpaState:
    panic_since: int | None = None
    max_panic_pods: int = 0


@dataclass(frozen=True)
class Kpa:
    target_per_pod: float
    min_replicas: int
    max_replicas: int
    stable_window: int = 60
    panic_window_percentage: float = 10.0
    panic_threshold: float = 2.0
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    name: str = "kpa"
    interval: int = 2

    def start(self, view: View) -> tuple[int, KpaState]:
        return view.world.need(view.load.at(0)), KpaState()

    def step(self, state: KpaState, view: View) -> tuple[int, KpaState]:
        panic_window = max(1, round(self.stable_window * self.panic_window_percentage / 100))
        stable = view.recent_mean(self.stable_window)
        panic = view.recent_mean(panic_window)
        ready = max(1.0, float(view.ready))
        max_up = math.ceil(self.max_scale_up_rate * ready)
        max_down = math.floor(ready / self.max_scale_down_rate)
        dspc = math.ceil(stable / self.target_per_pod - 1e-9)
        dppc = math.ceil(panic / self.target_per_pod - 1e-9)
        desired_stable = int(min(max(dspc, max_down), max_up))
        desired_panic = int(min(max(dppc, max_down), max_up))
        over = dppc / ready >= self.panic_threshold
        panic_since, max_panic = state.panic_since, state.max_panic_pods
        if over:
            panic_since = view.now  # start, or extend, panicking
        elif panic_since is not None and panic_since + self.stable_window < view.now:
            panic_since, max_panic = None, 0  # the surge has made its way into the stable window
        desired = desired_stable
        if panic_since is not None:
            desired = max(desired, desired_panic)
            if desired > max_panic:
                max_panic = desired
            else:
                desired = max_panic  # no scale-down while panicking
        desired = max(self.min_replicas, min(self.max_replicas, desired))
        return desired, KpaState(panic_since, max_panic)
