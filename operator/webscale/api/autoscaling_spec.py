"""spec.autoscaling of the ScaledWebApp resource: the target, scale-up and scale-down behaviour, burst
mode, headroom, the seasonal prior, the fallback when metrics fail, and scale to zero."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, JsonValue

from webscale.api.durations import Duration, duration_within
from webscale.api.model_base import Model

MIN_POLLING_INTERVAL = "5s"
"""The shortest autoscaling.pollingInterval: a tenant cannot make the operator poll its Prometheus faster."""
MIN_PERIOD = "1s"
"""The shortest period a scaling rate limit applies to."""
MAX_WINDOW = "1h"
"""The longest stabilization window, lead time and burst hold (the HPA's own bound on its windows)."""
REMEMBERED_POLLS = 64
"""Readings the operator remembers per app, one per poll: scaleDown.rateWindow and headroom.window may
reach back this many polls at most."""
REMEMBERED_WORDS = (
    "{} may reach back at most " + str(REMEMBERED_POLLS) + " times autoscaling.pollingInterval "
    "(the polls the operator remembers)"
)
"""The words of the CRD's rule (and of the operator's check, `api.validation.window_errors`) for a window
over the remembered polls; `{}` is the field."""


def _remembered_window_rule(present: str, window: str, field: str) -> JsonValue:
    """The CRD's rule that `window` (a CEL path, unless `present` says it is absent or unused) reaches
    back at most `REMEMBERED_POLLS` polls."""
    return {
        "rule": f"!has(self.pollingInterval) || {present} || {within_polls(window)}",
        "message": REMEMBERED_WORDS.format(field),
    }


def within_polls(window: str) -> str:
    """CEL: the duration at `window` reaches back at most `REMEMBERED_POLLS` polls (in milliseconds: the
    durations are whole numbers of ms, s, m or h)."""
    return (
        f"duration({window}).getMilliseconds() <= {REMEMBERED_POLLS} * duration(self.pollingInterval).getMilliseconds()"
    )


REMEMBERED_WINDOW_RULES: list[JsonValue] = [
    _remembered_window_rule(
        "!has(self.behavior) || !has(self.behavior.scaleDown) || !has(self.behavior.scaleDown.rateWindow)",
        "self.behavior.scaleDown.rateWindow",
        "autoscaling.behavior.scaleDown.rateWindow",
    ),
    _remembered_window_rule(  # a null quantile (headroom off) is absent to CEL: its window is not read then
        "!has(self.headroom) || !has(self.headroom.quantile) || !has(self.headroom.window)",
        "self.headroom.window",
        "autoscaling.headroom.window",
    ),
]
"""The CRD's rules on the windows over the remembered polls (on `Autoscaling`)."""


PollingInterval = Annotated[str, *duration_within(MIN_POLLING_INTERVAL, MAX_WINDOW, "autoscaling.pollingInterval")]
ScaleUpWindow = Annotated[str, *duration_within("0s", MAX_WINDOW, "autoscaling.behavior.scaleUp.stabilizationWindow")]
ScaleDownWindow = Annotated[
    str, *duration_within("0s", MAX_WINDOW, "autoscaling.behavior.scaleDown.stabilizationWindow")
]
LeadTime = Annotated[str, *duration_within("0s", MAX_WINDOW, "autoscaling.behavior.scaleUp.leadTime")]
BurstHold = Annotated[str, *duration_within("0s", MAX_WINDOW, "autoscaling.burst.hold")]
ScaleUpPeriod = Annotated[str, *duration_within(MIN_PERIOD, MAX_WINDOW, "autoscaling.behavior.scaleUp.period")]
ScaleDownPeriod = Annotated[str, *duration_within(MIN_PERIOD, MAX_WINDOW, "autoscaling.behavior.scaleDown.period")]
SeasonalOffset = Annotated[str, *duration_within("1h", "168h", "autoscaling.seasonal.offset", off=True)]
SeasonalLookahead = Annotated[str, *duration_within("15s", "1h", "autoscaling.seasonal.lookahead")]
SeasonalLevelWindow = Annotated[str, *duration_within("1m", "24h", "autoscaling.seasonal.levelWindow")]
IdleAfter = Annotated[str, *duration_within("30s", "168h", "autoscaling.scaleToZero.idleAfter")]
HoldRequestsFor = Annotated[str, *duration_within("1s", "5m", "autoscaling.scaleToZero.holdRequestsFor")]
FAST_WINDOW_MAX = "1m"
FastWindow = Annotated[str, *duration_within("2s", FAST_WINDOW_MAX, "autoscaling.burst.fastSignal.window")]


MIN_TARGET = 0.001
"""The smallest per-worker target: a smaller one makes a need too large to count."""


def at_least_min_target(field: str) -> dict[str, JsonValue]:
    """The API server's check of `MIN_TARGET`, in CEL: its `minimum` of a number is cut to an integer when
    the value is one (0 passed `minimum: 0.001`)."""
    rule: JsonValue = {"rule": f"self >= {MIN_TARGET}", "message": f"must be at least {MIN_TARGET}"}
    return {"x-kubernetes-validations": [rule]}


class Target(Model):
    """What one unit of capacity should carry. The larger need of the two signals wins."""

    requests_per_second_per_worker: float = Field(
        default=50.0, ge=MIN_TARGET, le=1_000_000, json_schema_extra=at_least_min_target("requestsPerSecondPerWorker")
    )
    """Requests per second one worker process should serve (at least 0.001: one request in ~17 minutes)."""
    cpu_utilization: int | None = Field(default=70, ge=1, le=100)
    """Percent of the pod's requested CPU to aim for; null scales on request rate alone."""
    in_flight_per_worker: float | None = Field(
        default=None, ge=MIN_TARGET, le=100_000, json_schema_extra=at_least_min_target("inFlightPerWorker")
    )
    """Requests in flight at the load balancer per worker to aim for (HAProxy's current sessions to
    the app's pods, summed over its HAProxy pods): a third signal, pods needed = ceil(in flight /
    (workers per pod x this)), and the largest need of the signals wins. By Little's law in flight =
    rate x latency, so it grows with the rate and also with the latency that rises as the pods near
    saturation: an overload shows at the next scrape, not a rate window later. Needs
    metrics.requestRateSource loadbalancer (and no metrics.requestRate). null (the default): off; on
    the simulated real traces of bench/results/scaling.md it did not win (see there)."""


class ScaleUp(Model):
    """How fast replicas may rise."""

    stabilization_window: ScaleUpWindow = "0s"
    """Use the lowest recommendation seen in this window (0s: react at once; at most 1h)."""
    max_pods: int | None = Field(default=4, ge=1)
    """Add at most this many pods per period."""
    max_percent: int | None = Field(default=100, ge=1)
    """Add at most this percent of current pods per period (the larger of the two limits applies)."""
    period: ScaleUpPeriod = "15s"
    """The period the limits apply to."""
    tolerance: float | None = Field(default=None, ge=0, le=1)
    """Dead band for scaling up; defaults to autoscaling.tolerance."""
    lead_time: LeadTime = "30s"
    """How long a new pod takes to serve (start-up plus readiness; at most 1h). While load rises steadily,
    scale-up sizes for the load expected leadTime + pollingInterval ahead; 0s turns the forecast off."""
    learn_lead_time: bool = True
    """Use the start-up time measured on the app's own pods (creation to Ready) instead of leadTime
    once the operator has measured it; leadTime stays the value until then (and 0s still turns the
    forecast off)."""
    checked_forecast: bool = True
    """The trend forecast acts only while it has been right: every forecast is compared with the
    reading when its time comes, and it sizes scale-up only while its average error is smaller than
    that of no forecast (the reading it started from). On real traces an unchecked forecast fires on
    noise and adds pod-seconds for no less time under capacity (bench/results/scaling.md)."""
    recent_rate: bool = False
    """Also scale up on the rate over the last two scrapes (a surge answered in one poll); the
    scale-down side reads only the rate window (or the headroom quantile), so noise never sheds
    pods. Off by default: on the real traces of bench/results/scaling.md it added pod-seconds (each
    noisy scrape asks for pods the scale-down window then keeps) for little less time under capacity."""


class ScaleDown(Model):
    """How fast replicas may fall."""

    stabilization_window: ScaleDownWindow = "300s"
    """Use the highest recommendation seen in this window before scaling down (the Kubernetes HPA's
    default, 300s; at most 1h). Chosen on the cost / service frontier of the real traces of
    bench/results/scaling.md (every policy swept over its target; chosen on two traces, checked on
    three held out): this scale-down (300s, no rateWindow, maxPercent 100) with the headroom p90 over
    1 minute needs 0.92x the pod-seconds of the earlier defaults (60s, a 10m rateWindow, maxPercent
    25, the p90 over 3 minutes) for the same time under capacity on the tuning traces, and 1.00x on
    the held-out ones."""
    rate_window: Duration = "0s"
    """Scale down only as far as the mean request rate over this longer window allows (the mean
    of the per-scrape rates of the last polls; at most 64 polls back: the API server refuses a longer
    window, and an app stored with one is marked Invalid): scale up on the short window, down on the
    long one, so a lull between two bursts does not shed pods. 0s (the default):
    the rate window and the stabilizationWindow alone decide; the 300s window of highest
    recommendations already keeps pods through such lulls."""
    max_pods: int | None = Field(default=None, ge=1)
    """Remove at most this many pods per period."""
    max_percent: int | None = Field(default=100, ge=1, le=100)
    """Remove at most this percent of current pods per period (the larger of the two limits applies).
    100, the HPA's: the stabilizationWindow already waits five minutes before anything goes."""
    period: ScaleDownPeriod = "15s"
    """The period the limits apply to."""
    tolerance: float | None = Field(default=None, ge=0, le=1)
    """Dead band for scaling down; defaults to autoscaling.tolerance."""


class Behavior(Model):
    """Stabilisation windows and rate limits, per direction."""

    scale_up: ScaleUp = Field(default_factory=ScaleUp)
    """Scale-up policy."""
    scale_down: ScaleDown = Field(default_factory=ScaleDown)
    """Scale-down policy."""


class FastSignal(Model):
    """Burst mode on the in-band signal: the operator reads the request rate straight from the app's
    HAProxy pods (their exporter's haproxy_backend_http_requests_total) every few seconds (the operator
    setting fast_poll_seconds, 2s), without waiting for Prometheus's scrape and rate window. When that
    rate needs at least `threshold` x the ready pods, the Deployment is scaled to the pods it needs at
    once (within replicas.max, no rate limit), and no poll scales below that while the condition lasts;
    the polls decide everything else, Prometheus staying the source of record and the fallback.
    Applies with loadBalancer.provider haproxy, autoscaling.mode auto and no metrics.requestRate (the
    target is then requests per second, the unit HAProxy counts); otherwise burst mode reads Prometheus
    alone. On the simulated real traces of bench/results/scaling.md, 3x with no hold lowered webscale's
    cost/time-under-capacity curve on the tuning and the held-out traces (2x with a 60s hold did not)."""

    enabled: bool = True
    """false: burst mode reads Prometheus alone."""
    threshold: float = Field(default=3.0, gt=1, le=100)
    """Scales up at once when the pods the in-band rate needs, rounded up as the KPA counts them, are at
    least threshold x the ready pods (with 1 ready pod and threshold 3: at a rate above 2 pods' worth)."""
    window: FastWindow = "6s"
    """The in-band rate is the requests of about this long (2s..1m) over its length."""


class Burst(Model):
    """Panic mode: load far above capacity scales up at once and blocks scale-down for a while."""

    threshold: float = Field(default=2.0, gt=1, le=100)
    """Load at or above threshold x capacity starts burst mode."""
    hold: BurstHold = "60s"
    """How long burst mode blocks scale-down after load was last that high (at most 1h)."""
    fast_signal: FastSignal = Field(default_factory=FastSignal)
    """Burst mode on the request rate read straight from the app's HAProxy pods every few seconds."""


class Headroom(Model):
    """Headroom that follows the app's measured burstiness instead of a fixed target.

    With `quantile` set, replicas are sized so that the given quantile of the recent per-scrape
    request rates (the rate between two consecutive scrapes, one per poll, over `window`) runs at
    `percentOfTarget` % of target.requestsPerSecondPerWorker, instead of sizing the rate window's
    mean at the target. Smooth load then runs nearer the target, bursty load gets the headroom its
    bursts need. The same factor applies to the recent rate and the forecast. null: the mean over
    the rate window at the target (the HPA's way)."""

    quantile: float | None = Field(default=0.9, gt=0, le=1)
    """Quantile of the per-scrape rates to size for (0.9, the default: the p90); null turns this off
    and sizes on the rate window's mean."""
    window: Duration = "1m"
    """How far back the per-scrape rates reach: at least the last three polls (a longer pollingInterval
    stretches it), at most 64 polls back (the API server refuses a longer window; an app stored with one
    is marked Invalid). 1m: the p90 of the
    last four scrapes follows a burst's spread while it lasts; the scale-down's 300s window keeps the
    pods it sized for."""
    percent_of_target: int = Field(default=100, ge=50, le=500)
    """The quantile may reach this percent of the target (the target itself stays what the mean of
    steady load runs at)."""


class Seasonal(Model):
    """A seasonal prior: pre-warm for the load the app had at the same time a day (or a week) ago.

    With `offset` set (24h: yesterday; 168h: last week), each poll also reads, in one batched query
    per setting (PromQL `offset`), the highest rate of the `lookahead` that starts at now - offset,
    and the mean rate over `levelWindow` then and now. Scale-up then sizes for at least that highest
    rate scaled by today's level over then's (the same shape, at today's size), so pods are started
    before a peak that comes at the same time every day, not one start-up after it. It only ever
    raises a scale-up (scale-down never reads it); with no data at now - offset (a new app) it does
    nothing. Needs no metrics.requestRate (it reads the same series as the request rate)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.offset) || duration(self.offset) == duration('0s') || "
                    "!has(self.lookahead) || duration(self.lookahead) < duration(self.offset)",
                    "message": "autoscaling.seasonal.lookahead must be shorter than autoscaling.seasonal.offset",
                }
            ]
        }
    )

    offset: SeasonalOffset = "0s"
    """How far back the same time is: 24h (yesterday) or 168h (last week); 0s (the default) turns the
    prior off. Off by default: the real traces of bench/results/scaling.md are a day or less, and on
    the one three-day trace there it did not win (see there)."""
    lookahead: SeasonalLookahead = "5m"
    """How much of the load that followed the same time then is read: the highest rate of the
    lookahead from now - offset on. Set it to at least the pods' start-up plus a polling interval,
    so the pods asked for now are ready when that load comes."""
    level_window: SeasonalLevelWindow = "1h"
    """The window whose mean rate today over then scales the prior (today is busier or quieter)."""


FALLBACK_UNREAD = (
    "autoscaling.fallback.replicas is read only when action is replicas (action hold keeps the last good count)"
)


class Fallback(Model):
    """What to do when metrics cannot be read."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.action != 'replicas' || has(self.replicas)",
                    "message": "autoscaling.fallback.replicas is required when action is replicas",
                },
                {"rule": "self.action == 'replicas' || !has(self.replicas)", "message": FALLBACK_UNREAD},
            ]
        }
    )

    after_failures: int = Field(default=3, ge=1, le=1000)
    """Consecutive failed polls before the fallback applies."""
    action: Literal["hold", "replicas"] = "hold"
    """hold: keep the last good replica count; replicas: go to fallback.replicas."""
    replicas: int | None = Field(default=None, ge=1, le=1000)
    """Replica count for action replicas (and only then: with action hold it is refused): the app goes
    up to it, never down (never below the current count)."""


class ScaleToZero(Model):
    """No pods while the app is idle; the load balancer holds the first requests while a pod starts.

    Needs replicas.min 0 to act and loadBalancer.provider haproxy (the HAProxy tier holds the
    requests; a kube-proxy Service has nowhere to hold them). After idleAfter without a request the
    app goes to 0 pods; a request that comes then waits in HAProxy until a pod is ready and is
    served, or after holdRequestsFor gets 503 with Retry-After. The operator wakes the app within
    about a second of the first held request (it asks the HAProxy pods of apps at zero only)."""

    idle_after: IdleAfter = "5m"
    """No request for this long: scale to 0 pods (at least the pollingInterval, 30s..168h)."""
    hold_requests_for: HoldRequestsFor = "30s"
    """How long the load balancer holds a request while the app has no ready pod (1s..5m); then 503
    with Retry-After."""


class Autoscaling(Model):
    """Horizontal scaling from request rate and CPU read from Prometheus."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.scaleToZero) || !has(self.scaleToZero.idleAfter) || "
                    "!has(self.pollingInterval) || "
                    "duration(self.scaleToZero.idleAfter) >= duration(self.pollingInterval)",
                    "message": "autoscaling.scaleToZero.idleAfter must be at least autoscaling.pollingInterval "
                    "(idleness is measured once per poll)",
                },
                *REMEMBERED_WINDOW_RULES,
            ]
        }
    )

    mode: Literal["auto", "recommend", "off"] = "auto"
    """auto: scale the Deployment; recommend: write the decision to status only; off: replicas.count."""
    polling_interval: PollingInterval = "15s"
    """How often metrics are read and a decision is made (5s..1h)."""
    target: Target = Field(default_factory=Target)
    """Per-worker request rate and CPU utilisation to aim for."""
    tolerance: float = Field(default=0.1, ge=0, le=1)
    """Dead band: no change while the load/capacity ratio is within 1 +- tolerance."""
    behavior: Behavior = Field(default_factory=Behavior)
    """Stabilisation and rate limits."""
    burst: Burst = Field(default_factory=Burst)
    """Burst (panic) mode."""
    headroom: Headroom = Field(default_factory=Headroom)
    """Size for a quantile of the recent per-scrape rates instead of the windowed mean."""
    seasonal: Seasonal = Field(default_factory=Seasonal)
    """Pre-warm for the load of the same time yesterday or last week (off by default)."""
    fallback: Fallback = Field(default_factory=Fallback)
    """Behaviour while metrics are unavailable."""
    scale_to_zero: ScaleToZero | None = Field(default=None, json_schema_extra={"x-webscale-no-default": True})
    """Scale to no pods while idle (with replicas.min 0 and loadBalancer.provider haproxy); unset (the
    default): replicas.min stays at least 1."""
