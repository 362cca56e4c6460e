"""Scale to zero and back: when an idle app goes to no pods, and when it wakes (pure).

Called by the act step (`autoscaling.act`) every poll, after `decide` has sized the app as if its
replicas.min were 1, and by the fast wake-up loop (`runtime.wake`) every ~0.5 s for apps at zero.

* **To zero:** an app that may scale to zero (`api.scale_to_zero.may_scale_to_zero`) goes to 0 pods
  once no request has been seen for autoscaling.scaleToZero.idleAfter. A request is "seen" when a
  poll's reading has a request rate or requests in flight above zero, or when requests are held at
  the load balancer. Idleness is counted from the last poll that saw one (and, after an operator
  restart, from the first poll: never from before what it measured). A poll without a usable
  reading never sends an app to zero (no reading is not no load).
* **Back:** an app at zero wakes (0 -> 1 pod) as soon as any request waits at the load balancer or
  a reading shows traffic; from one pod on, `decide` sizes it as usual. At zero with nothing waiting
  it stays at zero whatever `decide` said (its floor of one pod is for warm apps).
"""

from __future__ import annotations

from dataclasses import dataclass

from webscale.api.models import ScaledWebAppSpec
from webscale.api.observation import Observation
from webscale.api.scale_to_zero import may_scale_to_zero, settings
from webscale.autoscaling.reasons import plural

SCALED_TO_ZERO = "ScaledToZero"
WAKING = "Waking"
ZERO_REASONS = (SCALED_TO_ZERO, WAKING)


@dataclass(frozen=True)
class ZeroDecision:
    """Replicas the scale-to-zero rules ask for instead of `decide`'s, and why."""

    replicas: int
    reason: str
    message: str


def idle_text(seconds: float) -> str:
    """312.4 -> '5 min 12 s', 45 -> '45 s', 7260 -> '2 h 1 min'."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
        f"{secs} s" if secs and not hours else "",
    ]
    return " ".join(p for p in parts if p) or "0 s"


def warm_spec(spec: ScaledWebAppSpec) -> ScaledWebAppSpec:
    """`spec` with replicas.min at least 1: what `decide` sizes a warm app by (zero is decided here)."""
    if spec.replicas.min >= 1:
        return spec
    return spec.model_copy(update={"replicas": spec.replicas.model_copy(update={"min": 1})})


def busy(observation: Observation, waiting: int) -> bool:
    """Did this poll see a request: held at the load balancer, in the rate window, or in flight?"""
    if waiting > 0:
        return True
    if not observation.ok:
        return False
    return (observation.requests_per_second or 0.0) > 0.0 or (observation.in_flight_requests or 0.0) > 0.0


def last_request(previous: float | None, observation: Observation, waiting: int, now: float) -> float:
    """When a request was last seen: now when this poll saw one (or on the first poll), else `previous`."""
    return now if previous is None or busy(observation, waiting) else previous


def wake(spec: ScaledWebAppSpec, replicas: int, waiting: int) -> ZeroDecision | None:
    """The fast path: an app at zero with requests waiting at the load balancer goes to one pod."""
    if replicas != 0 or waiting <= 0 or settings(spec) is None:
        return None
    return ZeroDecision(
        1, WAKING, f"{plural(waiting, 'request')} waiting at the load balancer; scaling 0 -> 1 to serve them"
    )


def wake_invalid(replicas: int, waiting: int) -> ZeroDecision | None:
    """The fast path for an Invalid app at zero (its running HAProxy pods still hold requests, as its
    last valid spec asked): one pod, which stays until the spec is fixed (the polls skip Invalid apps)."""
    if replicas != 0 or waiting <= 0:
        return None
    return ZeroDecision(
        1,
        WAKING,
        f"{plural(waiting, 'request')} waiting at the load balancer; scaling 0 -> 1 to serve them (the spec "
        "is Invalid: the app keeps this pod until it is fixed)",
    )


def decide_zero(
    spec: ScaledWebAppSpec,
    replicas: int,
    observation: Observation,
    waiting: int,
    last_request_at: float,
    now: float,
) -> ZeroDecision | None:
    """What the scale-to-zero rules ask for this poll, or None to keep `decide`'s decision.

    replicas: the Deployment's spec.replicas; waiting: requests held at the load balancer now (0 when
    unknown); last_request_at: from `last_request` (this poll included)."""
    zero = settings(spec)
    if zero is None or not may_scale_to_zero(spec):
        return wake(spec, replicas, waiting)  # min 1 or mode recommend/off: never to zero, still woken
    idle = max(0.0, now - last_request_at)
    if replicas == 0:
        if busy(observation, waiting):
            woken = wake(spec, 0, waiting)
            if woken is not None:
                return woken
            rate = observation.requests_per_second or 0.0
            return ZeroDecision(1, WAKING, f"requests seen ({rate:g}/s); scaling 0 -> 1")
        return ZeroDecision(0, SCALED_TO_ZERO, f"no request for {idle_text(idle)}; keeping 0 pods")
    if not observation.ok or busy(observation, waiting) or idle < zero.idle_after:
        return None
    return ZeroDecision(
        0,
        SCALED_TO_ZERO,
        f"no request for {idle_text(idle)} (idleAfter {idle_text(zero.idle_after)}); scaling {replicas} -> 0",
    )
