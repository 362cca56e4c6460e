"""Scale to zero in the simulator: webscale's own rules (`autoscaling.zero`) and Knative's, as
policies that wrap a warm policy (replicas.min 1) and may go to zero pods.

The world (`engine.Wake`) holds requests at the load balancer while no pod is ready and wakes the
app `wake_delay` seconds after the first held request (webscale: the wake loop reads HAProxy every
0.5 s, so within 1 s; Knative: the activator, which buffers the requests, pokes the autoscaler at
once, also taken as 1 s). A cold start is that plus the world's start-up delay: a pod is used as soon
as it is ready (webscale: the held requests ask the operator for it, `reconcile.hold`, measured on the
real node 0.01 s after its EndpointSlice; before that, the cluster DNS's cache added up to ~10 s,
which the world never modelled). Held requests time
out after `hold` seconds: webscale's holdRequestsFor (30 s by default), Knative's revision timeout
(300 s by default, the activator holds a request that long).

* webscale: `decide_zero` on what the operator reads each poll (the Prometheus rate, lagged by the
  rate window, and requests held at the LB): 0 pods after idleAfter without a request.
* Knative (KPA, https://knative.dev/docs/serving/autoscaling/scale-to-zero/): the KPA asks for 0
  pods when the stable window (60 s) holds no request; the activator is put in the path and the pods
  go after scale-to-zero-grace-period (30 s): about 90 s after the last request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webscale.api.durations import seconds
from webscale.api.models import ScaledWebAppSpec
from webscale.api.observation import Observation
from webscale.autoscaling.zero import decide_zero, last_request
from webscale.simulate.engine import View
from webscale.simulate.fast_signal import FastSignal, Polls
from webscale.simulate.kpa import Kpa

WAKE_DELAY = 1
"""Seconds from the first held request to a pod asked for (both: see the module)."""


@dataclass(frozen=True)
class WebscaleToZero:
    """webscale with autoscaling.scaleToZero: `warm` sizes the app as usual (replicas.min 1; its
    polls, and the fast round when `warm` is `configured`), `decide_zero` on `spec` (replicas.min 0
    and the section) takes it to zero and back at each poll, as the operator's poll does; between
    polls an app at zero stays there until the load balancer wakes it."""

    warm: Polls | FastSignal
    spec: ScaledWebAppSpec
    name: str = "webscale, scale to zero"
    wake_delay: int = WAKE_DELAY
    hold: int = 30

    @property
    def interval(self) -> int:
        return self.warm.interval

    @property
    def poll(self) -> int:
        return max(1, round(seconds(self.spec.autoscaling.polling_interval)))

    def start(self, view: View) -> tuple[int, Any]:
        replicas, state = self.warm.start(view)
        return replicas, (state, None, False)

    def step(self, state: Any, view: View) -> tuple[int, Any]:
        inner, last, asleep = state
        replicas, inner = self.warm.step(inner, view)
        asleep = asleep and view.replicas == 0
        if view.now % self.poll != 0:
            return (0 if asleep else replicas), (inner, last, asleep)
        rate = view.prometheus_rate()
        observation = (
            Observation.failed(view.now, "simulated outage")
            if rate is None
            else Observation(at=view.now, requests_per_second=rate, pods_reporting=view.ready)
        )
        waiting = 1 if view.ready == 0 and view.load.at(view.now) > 0 else 0  # held at the LB now
        last = last_request(last, observation, waiting, float(view.now))
        zero = decide_zero(self.spec, view.replicas, observation, waiting, last, float(view.now))
        wanted = zero.replicas if zero is not None else replicas
        return wanted, (inner, last, wanted == 0)


@dataclass(frozen=True)
class KpaToZero:
    """Knative's KPA with scale to zero enabled (its default): 0 pods once the stable window has
    held no request for the grace period."""

    warm: Kpa
    grace: int = 30
    name: str = "kpa, scale to zero"
    wake_delay: int = WAKE_DELAY
    hold: int = 300

    @property
    def interval(self) -> int:
        return self.warm.interval

    def start(self, view: View) -> tuple[int, Any]:
        replicas, state = self.warm.start(view)
        return replicas, (state, None)

    def step(self, state: Any, view: View) -> tuple[int, Any]:
        inner, quiet_since = state
        replicas, inner = self.warm.step(inner, view)
        quiet = view.recent_mean(self.warm.stable_window) <= 0 and view.load.at(view.now) <= 0
        if not quiet:
            return replicas, (inner, None)
        quiet_since = view.now if quiet_since is None else quiet_since
        if view.replicas == 0 or view.now - quiet_since >= self.grace:
            return 0, (inner, quiet_since)
        return replicas, (inner, quiet_since)
