"""The pure rules `scaling.decide` combines: signals with their dead band, burst mode, rate limits.

Formulas follow the Kubernetes HPA v2 algorithm
(https://kubernetes.io/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale/#algorithm-details):
desiredReplicas = ceil(currentReplicas x currentMetricValue / desiredMetricValue), skipped while the
ratio is within the tolerance. The request-rate signal is computed from the total rate, so the
recommendation follows load, not the number of pods that happen to exist (kubernetes#72775).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from webscale.api.autoscaling_spec import Autoscaling, Behavior, ScaleDown, ScaleUp
from webscale.api.durations import seconds
from webscale.api.observation import Observation, SeasonalReading
from webscale.autoscaling.history import Reading, ScaleEvent, period_start, scale_down_floor, scale_up_limit

_EPSILON = 1e-9
"""Float slack: 300.0000000001 req/s at 100 req/s per pod still needs 3 pods, and a ratio of
440/400 = 1.1000000000000001 is still within a tolerance of 0.1."""


CEIL_CAP = 1_000_000
"""More pods than any app may have (replicas.max <= 1000): what a need beyond it, infinite included (an
app exporting a counter near the float's limit), counts as, before replicas.max caps it."""


def ceil(value: float) -> int:
    """math.ceil that ignores float noise below _EPSILON, and counts any need beyond `CEIL_CAP` as that."""
    if math.isinf(value) or value >= CEIL_CAP:
        return CEIL_CAP
    return max(0, math.ceil(value - _EPSILON))


@dataclass(frozen=True)
class Signal:
    """One metric's view: how far load is from target and how many pods it needs.

    name: "requestRate", "cpu" or "inFlight". ratio: load / target at the current replica count.
    needed: pods the load needs. tolerance: the dead band for the ratio's direction.
    utilization: CPU percent of request (cpu signal only).
    in_flight: requests in flight at the load balancer (inFlight signal only).
    """

    name: str
    ratio: float
    needed: int
    tolerance: float
    utilization: float | None = None
    in_flight: float | None = None

    @property
    def within(self) -> bool:
        """The ratio is inside the dead band: this signal asks for no change."""
        return abs(self.ratio - 1.0) <= self.tolerance + _EPSILON

    @property
    def label(self) -> str:
        return {"cpu": "CPU", "inFlight": "in-flight"}.get(self.name, "request-rate")

    def recommendation(self, current: int) -> int:
        """Pods this signal asks for: the current count inside the dead band, else what load needs."""
        return current if self.within else self.needed


def tolerance(auto: Autoscaling, ratio: float) -> float:
    """The dead band for the ratio's direction (per-direction override, else autoscaling.tolerance)."""
    rule = auto.behavior.scale_up if ratio > 1.0 else auto.behavior.scale_down
    return auto.tolerance if rule.tolerance is None else rule.tolerance


def rate_signal(
    auto: Autoscaling,
    rps: float,
    replicas: int,
    workers: int,
    dead_band: float | None = None,
    factor: float = 1.0,
) -> Signal:
    """Request rate: pods needed = ceil(rps / (workers x target per worker x factor)).
    dead_band: overrides the tolerance (the trend forecast uses 0, see `trend`).
    factor: headroom.percentOfTarget / 100 when the headroom quantile sizes (else 1)."""
    per_pod = workers * auto.target.requests_per_second_per_worker * factor
    ratio = rps / (replicas * per_pod) if replicas > 0 else (math.inf if rps > 0 else 1.0)
    band = tolerance(auto, ratio) if dead_band is None else dead_band
    return Signal("requestRate", ratio, ceil(rps / per_pod), band)


TREND_READINGS = 4
"""Readings (this poll's included) that must EACH be higher than the one before for load to count
as rising: three rises in a row, 45 s at the default 15 s poll. A step shows as one jump in the
recent rate, and noise rarely rises three times running with a slope that survives the cap."""
TREND_CAP = 0.5
"""The forecast adds at most 50 % to the freshest reading: a steep, short rise cannot explode it."""


@dataclass(frozen=True)
class Trend:
    """A consistently rising load, extrapolated.

    slope: req/s per second (least squares over the last TREND_READINGS readings).
    horizon: seconds ahead of now the forecast is for. forecast: req/s expected then.
    capped: TREND_CAP bounded the forecast.
    """

    slope: float
    horizon: float
    forecast: float
    capped: bool


def trend(readings: tuple[Reading, ...], now: float, horizon: float) -> Trend | None:
    """The load `horizon` seconds from now if the rise of the last readings goes on; None unless
    every one of the last TREND_READINGS readings is higher than the one before.

    Why: a pod asked for now serves only after its start-up, and the one asked for at the next poll
    a polling interval later; on a rising load a decision sized on the present reading is short
    by the rise over that time, every time (what `autoscaling.behavior.scaleUp.leadTime` says).
    The fit is a least-squares line through the readings (robust to one odd reading), read at
    now + horizon, and bounded by TREND_CAP. It only ever raises the scale-up recommendation:
    a falling trend is never extrapolated (scale-down waits for the window, as it always has)."""
    last = readings[-TREND_READINGS:]
    if horizon <= 0 or len(last) < TREND_READINGS:
        return None
    # The recent rate when every reading has it (it lags the load by about one scrape, where the
    # windowed rate lags by half its window and bends a step into a ramp); else the windowed rate.
    fresh = all(o.recent is not None for o in last)
    values = [(o.recent or 0.0) if fresh else o.rps for o in last]
    if any(later <= earlier for earlier, later in itertools.pairwise(values)):
        return None
    times = [o.at for o in last]
    mean_t, mean_v = sum(times) / len(times), sum(values) / len(values)
    spread = sum((t - mean_t) ** 2 for t in times)
    if spread <= 0:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True)) / spread
    if slope <= 0:
        return None
    line = mean_v + slope * (now + horizon - mean_t)
    cap = values[-1] * (1.0 + TREND_CAP)
    return Trend(slope, horizon, min(line, cap), line > cap)


def cpu_signal(
    auto: Autoscaling, observation: Observation, replicas: int, ready: int, request_cores: float | None
) -> Signal | None:
    """CPU, HPA style: ratio = utilisation / target, pods needed = ceil(pods x ratio).

    Utilisation is CPU used over the pods that reported it, as a percent of their request.
    None when target.cpuUtilization is unset, the request or the reading is unknown.
    """
    target = auto.target.cpu_utilization
    if target is None or request_cores is None or request_cores <= 0:
        return None
    if observation.error is not None or observation.cpu_cores is None:
        return None
    pods = observation.pods_reporting or ready
    if pods <= 0:
        return None
    utilization = observation.cpu_cores / (pods * request_cores) * 100.0
    ratio = utilization / target
    return Signal("cpu", ratio, ceil(pods * ratio), tolerance(auto, ratio), utilization)


def in_flight_signal(auto: Autoscaling, observation: Observation, replicas: int, workers: int) -> Signal | None:
    """Requests in flight at the load balancer, Knative's concurrency way: ratio = in flight /
    (replicas x workers x target.inFlightPerWorker), pods needed = ceil(in flight / (workers x target)).

    Why: by Little's law in flight = rate x latency. It grows with the rate, and with the latency that
    rises as the pods near saturation (requests queue), and it is a gauge read at the last scrape,
    not a mean over a rate window: an overload shows one scrape after it starts.
    None when target.inFlightPerWorker is unset or the reading has no in-flight count."""
    target = auto.target.in_flight_per_worker
    flying = observation.in_flight_requests
    if target is None or flying is None or observation.error is not None or workers <= 0:
        return None
    per_pod = workers * target
    ratio = flying / (replicas * per_pod) if replicas > 0 else (math.inf if flying > 0 else 1.0)
    return Signal("inFlight", ratio, ceil(flying / per_pod), tolerance(auto, ratio), in_flight=flying)


@dataclass(frozen=True)
class BurstState:
    """now: load is at least burst.threshold x ready capacity in this reading.
    holding: scale-down is blocked (until `until`). ratio: load / ready capacity."""

    now: bool
    holding: bool
    until: float | None
    ratio: float


def burst_state(
    auto: Autoscaling, rps: float, capacity: float, ready: int, until: float | None, now: float
) -> BurstState:
    """Burst starts when observed load >= threshold x capacity of the ready pods, and blocks
    scale-down until `hold` after load was last that high. With no ready pod there is no capacity
    to compare with, so burst never starts (an app that is starting up is not a burst)."""
    ratio = rps / capacity if capacity > 0 else (math.inf if rps > 0 else 0.0)
    bursting = ready > 0 and capacity > 0 and rps > 0 and ratio >= auto.burst.threshold
    if bursting:
        until = now + seconds(auto.burst.hold)
    holding = until is not None and now < until
    return BurstState(bursting, holding, until if holding else None, ratio)


@dataclass(frozen=True)
class Limit:
    """A rate limit that changed the count: the limiting value and how to say it."""

    replicas: int
    text: str


def rate_limit(
    behavior: Behavior, target: int, current: int, events: tuple[ScaleEvent, ...], now: float
) -> tuple[int, Limit | None]:
    """Apply the per-period rate limit of the move's direction, computed against the replica count
    at the start of the period (as the HPA does). Returns the count and the Limit when it bit."""
    rule: ScaleUp | ScaleDown
    if target > current:
        rule, word = behavior.scale_up, "scaleUp"
        start = period_start(current, events, now, seconds(rule.period))
        limit = scale_up_limit(start, rule.max_pods, rule.max_percent)
        if limit is None or target <= max(limit, current):
            return target, None
        value = max(limit, current)
        by_pods = rule.max_pods is not None and start + rule.max_pods == limit
    elif target < current:
        rule, word = behavior.scale_down, "scaleDown"
        start = period_start(current, events, now, seconds(rule.period))
        floor = scale_down_floor(start, rule.max_pods, rule.max_percent)
        if floor is None or target >= min(floor, current):
            return target, None
        value = min(floor, current)
        by_pods = rule.max_pods is not None and start - rule.max_pods == floor
    else:
        return target, None
    policy = f"maxPods={rule.max_pods}" if by_pods else f"maxPercent={rule.max_percent}%"
    return value, Limit(value, f"{word}.{policy} per {rule.period} ({start} pods at the period start)")


def windows(auto: Autoscaling) -> tuple[float, float, float]:
    """(scale-up window, scale-down window, longest rate-limit period) in seconds."""
    behavior = auto.behavior
    return (
        seconds(behavior.scale_up.stabilization_window),
        seconds(behavior.scale_down.stabilization_window),
        max(seconds(behavior.scale_up.period), seconds(behavior.scale_down.period)),
    )


@dataclass(frozen=True)
class Headroom:
    """The headroom quantile of the recent per-scrape rates.

    rps: the quantile (req/s). quantile / window: as configured. samples: per-scrape rates used.
    factor: percentOfTarget / 100, what the quantile is sized at relative to the target."""

    rps: float
    quantile: float
    window: float
    samples: int
    factor: float


HEADROOM_MIN_SAMPLES = 3
"""Per-scrape rates needed before the quantile sizes anything (else the rate window does)."""


def quantile(values: list[float], q: float) -> float:
    """The q-quantile of `values` with linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("quantile of no values")
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def headroom(auto: Autoscaling, readings: tuple[Reading, ...], now: float) -> Headroom | None:
    """autoscaling.headroom: the quantile of the per-scrape rates (each poll's `recent` reading, else
    its windowed one) of the last headroom.window, or of the last `HEADROOM_MIN_SAMPLES` polls when the
    window holds fewer; None when it is off or has too few samples (the app's first polls).

    Why: a fixed target is one guess of the headroom every app needs. The spread of the rate between
    two scrapes measures it: on smooth load the quantile is close to the mean and the pods run near
    the target; on bursty load it is well above it and buys the headroom the bursts use."""
    rule = auto.headroom
    if rule.quantile is None:
        return None
    # at least the last HEADROOM_MIN_SAMPLES polls, with half an interval to spare: a poll's reading
    # carries the tick it ran at, up to a tick (1 s) after it was due
    polls = (HEADROOM_MIN_SAMPLES - 0.5) * seconds(auto.polling_interval)
    window = max(seconds(rule.window), polls)
    values = [o.recent if o.recent is not None else o.rps for o in readings if o.at > now - window - 1e-9]
    if len(values) < HEADROOM_MIN_SAMPLES:
        return None
    return Headroom(quantile(values, rule.quantile), rule.quantile, window, len(values), rule.percent_of_target / 100)


def lead_time(auto: Autoscaling, startup: float | None) -> tuple[float, bool]:
    """(seconds a new pod takes to serve, learned?): the measured start-up when learnLeadTime is on
    and one was measured, else scaleUp.leadTime. leadTime 0s keeps the forecast off either way."""
    rule = auto.behavior.scale_up
    configured = seconds(rule.lead_time)
    if configured > 0 and rule.learn_lead_time and startup is not None and startup > 0:
        return startup, True
    return configured, False


@dataclass(frozen=True)
class LongRate:
    """The mean of the per-scrape rates over scaleDown.rateWindow. rps: the mean; window: seconds;
    samples: the per-scrape rates it averaged."""

    rps: float
    window: float
    samples: int


def long_rate(auto: Autoscaling, readings: tuple[Reading, ...], now: float) -> LongRate | None:
    """scaleDown.rateWindow: the mean of the per-scrape rates (each poll's `recent`, else its
    windowed reading) of the window, or None when it is 0s or no poll is in it."""
    window = seconds(auto.behavior.scale_down.rate_window)
    if window <= 0:
        return None
    values = [o.recent if o.recent is not None else o.rps for o in readings if o.at > now - window - 1e-9]
    if not values:
        return None
    return LongRate(sum(values) / len(values), window, len(values))


SEASONAL_LEVEL_BOUNDS = (0.25, 4.0)
"""Today's level over then's is taken within these bounds: a day that is 10x busier (or quieter)
than the same time then has a new shape, and the prior does not know it."""


@dataclass(frozen=True)
class Prior:
    """autoscaling.seasonal's prior: rps = the highest rate of the lookahead then x level.
    level: today's mean rate over then's, within SEASONAL_LEVEL_BOUNDS."""

    rps: float
    level: float
    reading: SeasonalReading


def seasonal_prior(auto: Autoscaling, reading: SeasonalReading | None) -> Prior | None:
    """The load to pre-warm for, from the same time `seasonal.offset` ago: the highest rate of the
    lookahead then, scaled by how busy today is against then (the mean rate over the level window
    now and then). None when the prior is off, there is no reading, or then had no traffic to
    compare with.

    Why: a reactive decision sees a daily peak one scrape, one poll and one start-up late; an app
    whose load repeats by the day has already shown when its peak comes."""
    if seconds(auto.seasonal.offset) <= 0 or reading is None or reading.then_rps <= 0:
        return None
    low, high = SEASONAL_LEVEL_BOUNDS
    level = min(max(reading.now_rps / reading.then_rps, low), high)
    return Prior(reading.ahead_rps * level, level, reading)
