"""A lever under test: webscale with a fast in-band signal and a panic mode acting on it.

The KPA's edge is that it reads its queue-proxies every 2 s. The same is open to webscale: HAProxy
(its own LB tier) counts every request, so the operator could read the rate straight from the
HAProxy pods every `tick` seconds, Prometheus staying the source of record. This model keeps
webscale's decision (`decide`, every pollingInterval, on Prometheus's lagged rate) and adds, every
tick, a panic rule on the in-band rate of the last `panic_window` seconds (no scrape, no lag):

* panic starts (or is extended) when that rate needs at least `threshold` x the ready pods;
* while panicking the pods are at least the most the panic window has asked for since panic began
  (never fewer: no scale-down while panicking, as the KPA), and panic ends `hold` seconds after its
  condition was last seen;
* otherwise webscale's own decision stands.

`autoscaling.panic.panic_step` is the rule (the operator runs the same one, `runtime.fast_signal`);
`FastSignal` runs it in the simulator around `Webscale`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from webscale.api.durations import seconds
from webscale.api.models import ScaledWebAppSpec
from webscale.autoscaling.panic import Panic, panic_step
from webscale.settings import Settings
from webscale.simulate.engine import Policy, View

FAST_POLL = round(Settings.model_fields["fast_poll_seconds"].default)
"""The operator's fast round (Settings.fast_poll_seconds): the simulated tick."""


class Polls(Policy, Protocol):
    """The polls' policy the fast round runs around: `Webscale`, or a diagnostic wrapping it."""

    @property
    def spec(self) -> ScaledWebAppSpec: ...


@dataclass(frozen=True)
class FastSignal:
    """`Webscale` every pollingInterval, and `panic_step` on the in-band rate every `tick` seconds."""

    inner: Polls
    tick: int = 2
    panic_window: int = 6
    threshold: float = 2.0
    hold: int = 60
    name: str = "webscale, fast signal"
    interval: int = 1

    @property
    def spec(self) -> ScaledWebAppSpec:
        return self.inner.spec

    def start(self, view: View) -> tuple[int, Any]:
        replicas, state = self.inner.start(view)
        return replicas, (state, replicas, Panic())

    def step(self, state: Any, view: View) -> tuple[int, Any]:
        inner, slow, panic = state
        if view.now % self.inner.interval == 0:
            slow, inner = self.inner.step(inner, view)
        if view.now % self.tick != 0:
            return max(slow, panic.most) if panic.since is not None else slow, (inner, slow, panic)
        fast = view.recent_mean(self.panic_window)
        wanted, panic = panic_step(
            slow, view.ready, fast, view.world.target_per_pod, self.threshold, self.hold, view.now, panic
        )
        return wanted, (inner, slow, panic)


def configured(inner: Polls) -> Polls | FastSignal:
    """Webscale as the operator runs it: the polls, and burst mode on the in-band rate when the spec's
    autoscaling.burst.fastSignal is enabled (the default), every `FAST_POLL` seconds with no hold."""
    fast = inner.spec.autoscaling.burst.fast_signal
    if not fast.enabled:
        return inner
    window = max(1, round(seconds(fast.window)))
    return FastSignal(inner, FAST_POLL, window, fast.threshold, 0, inner.name)
