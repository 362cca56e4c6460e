"""Words for scaling decisions: the reasons (machine words) and one line a person on call
understands, with the numbers in it."""

from __future__ import annotations

from webscale.api.autoscaling_spec import Autoscaling
from webscale.api.models import ScaledWebAppSpec
from webscale.autoscaling.history import ForecastScore
from webscale.autoscaling.rules import TREND_CAP, TREND_READINGS, Headroom, Limit, LongRate, Prior, Signal, Trend

AUTOSCALING_OFF = "AutoscalingOff"
METRICS_UNAVAILABLE = "MetricsUnavailable"
METRICS_UNAVAILABLE_HOLDING = "MetricsUnavailableHolding"
FALLBACK_REPLICAS = "FallbackReplicas"
WITHIN_TOLERANCE = "WithinTolerance"
REPLICAS_MATCH_LOAD = "ReplicasMatchLoad"
REQUEST_RATE_ABOVE_TARGET = "RequestRateAboveTarget"
REQUEST_RATE_BELOW_TARGET = "RequestRateBelowTarget"
CPU_ABOVE_TARGET = "CPUAboveTarget"
CPU_BELOW_TARGET = "CPUBelowTarget"
IN_FLIGHT_ABOVE_TARGET = "InFlightAboveTarget"
IN_FLIGHT_BELOW_TARGET = "InFlightBelowTarget"
SCALE_UP_STABILIZED = "ScaleUpStabilized"
SCALE_DOWN_STABILIZED = "ScaleDownStabilized"
SCALE_UP_LIMITED = "ScaleUpLimited"
SCALE_DOWN_LIMITED = "ScaleDownLimited"
BURST_MODE = "BurstMode"
AT_MAX_REPLICAS = "AtMaxReplicas"
AT_MIN_REPLICAS = "AtMinReplicas"

REASONS = (
    AUTOSCALING_OFF,
    METRICS_UNAVAILABLE,
    METRICS_UNAVAILABLE_HOLDING,
    FALLBACK_REPLICAS,
    WITHIN_TOLERANCE,
    REPLICAS_MATCH_LOAD,
    REQUEST_RATE_ABOVE_TARGET,
    REQUEST_RATE_BELOW_TARGET,
    CPU_ABOVE_TARGET,
    CPU_BELOW_TARGET,
    IN_FLIGHT_ABOVE_TARGET,
    IN_FLIGHT_BELOW_TARGET,
    SCALE_UP_STABILIZED,
    SCALE_DOWN_STABILIZED,
    SCALE_UP_LIMITED,
    SCALE_DOWN_LIMITED,
    BURST_MODE,
    AT_MAX_REPLICAS,
    AT_MIN_REPLICAS,
)
"""Every reason `decide` can give (machine words for status conditions and Events)."""

LIMITED_REASONS = frozenset({SCALE_UP_LIMITED, SCALE_DOWN_LIMITED, AT_MAX_REPLICAS, AT_MIN_REPLICAS})


def fmt(value: float) -> str:
    """A number as people write it: 200, 310.5, 0.1 (one decimal at most, no trailing .0)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def plural(count: int, word: str) -> str:
    """'1 pod', '2 pods'."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def recently(windowed: float) -> str:
    """Says the recent rate (the last two scrapes) sized the recommendation, above the windowed one."""
    return f" recently ({fmt(windowed)} req/s over the rate window)"


def forecast_text(
    rising: Trend,
    peak: float,
    windowed: float,
    recent: float | None,
    lead: str = "",
    score: ForecastScore | None = None,
) -> str:
    """Says the trend forecast sized the recommendation, from what, and how right it has been."""
    now = f"{fmt(windowed)} req/s over the rate window"
    if recent is not None and recent > windowed:
        now = f"{fmt(peak)} req/s recently, {now}"
    cap = f", capped at +{fmt(TREND_CAP * 100)} %" if rising.capped else ""
    record = ""
    if score is not None and score.scored:
        record = (
            f"; its last forecasts were off by {fmt(score.forecast_error)} req/s on average, "
            f"no forecast by {fmt(score.naive_error)}"
        )
    return (
        f" expected in {fmt(rising.horizon)}s{lead} (load rose at each of the last {TREND_READINGS} polls, "
        f"+{fmt(rising.slope * 60)} req/s per minute{cap}; {now}{record})"
    )


def lead_text(lead: float, learned: bool) -> str:
    """Where the forecast's lead time came from, when it was measured on the app's pods."""
    return f" (pods measured to start in {fmt(lead)}s)" if learned else ""


def duration_text(window: float) -> str:
    """120 -> '2 min', 90 -> '90 s', 7200 -> '2 h'."""
    if window >= 3600 and window % 3600 == 0:
        return f"{fmt(window / 3600)} h"
    return f"{fmt(window / 60)} min" if window >= 60 and window % 60 == 0 else f"{fmt(window)} s"


def long_text(slow: LongRate, windowed: float) -> str:
    """Says scaleDown.rateWindow held a scale-down back: " (the mean of the last 5 min, 20 scrapes;
    800 req/s over the rate window)"."""
    return (
        f" (the mean of the last {duration_text(slow.window)}, {slow.samples} scrapes, holds the scale-down; "
        f"{fmt(windowed)} req/s over the rate window)"
    )


def clock(at: float) -> str:
    """Unix seconds as a UTC time of day: "09:05"."""
    minutes = int(at // 60) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def seasonal_text(prior: Prior, now: float, windowed: float) -> str:
    """Says the seasonal prior sized the recommendation: " (pre-warmed for yesterday's 09:00-09:05 UTC
    peak: 1200 req/s then, x0.9 for today's level over the last 1 h; 800 req/s over the rate window)"."""
    r = prior.reading
    when = {86400.0: "yesterday's", 604800.0: "last week's"}.get(r.offset, f"{duration_text(r.offset)} ago, the")
    start = now - r.offset
    return (
        f" (pre-warmed for {when} {clock(start)}-{clock(start + r.lookahead)} UTC peak: {fmt(r.ahead_rps)} req/s "
        f"then, x{prior.level:.2f} for today's level over the last {duration_text(r.level_window)}; "
        f"{fmt(windowed)} req/s over the rate window)"
    )


def headroom_text(room: Headroom, windowed: float) -> str:
    """Says the headroom quantile sized the recommendation: " (the p90 of the per-scrape rates of the
    last 2 min, sized at 130 % of target; 1,100 req/s over the rate window)"."""
    label = f"p{fmt(room.quantile * 100)}"
    return (
        f" (the {label} of the per-scrape rates of the last {duration_text(room.window)}, "
        f"{room.samples} scrapes, sized at {fmt(room.factor * 100)} % of target; "
        f"{fmt(windowed)} req/s over the rate window)"
    )


def describe(
    rps: float,
    rate: Signal,
    cpu: Signal | None,
    workers: int,
    auto: Autoscaling,
    capacity: float,
    ready: int,
    basis: str | None = None,
    factor: float = 1.0,
    flight: Signal | None = None,
) -> str:
    """What load needs and what is there now, e.g. "310.5 req/s needs 4 pods of 2 workers at 50 req/s
    per worker (capacity now 200 req/s on 2 ready pods); CPU at 85% of request (target 70%) needs 5 pods;
    42 requests in flight at the load balancer (target 4 per worker) needs 6 pods".
    `basis`: what `rps` is when it is not the rate-window reading (`recently`, `forecast_text`).
    """
    per_worker = fmt(auto.target.requests_per_second_per_worker * factor)
    text = (
        f"{fmt(rps)} req/s{basis or ''} needs {plural(rate.needed, 'pod')} of {plural(workers, 'worker')} "
        f"at {per_worker} req/s per worker (capacity now {fmt(capacity)} req/s on {ready} ready "
        f"{'pod' if ready == 1 else 'pods'})"
    )
    if cpu is not None:
        text += (
            f"; CPU at {fmt(cpu.utilization or 0.0)}% of request (target {auto.target.cpu_utilization}%) "
            f"needs {plural(cpu.needed, 'pod')}"
        )
    if flight is not None:
        text += (
            f"; {fmt(flight.in_flight or 0.0)} requests in flight at the load balancer "
            f"(target {fmt(auto.target.in_flight_per_worker or 0.0)} per worker) needs {plural(flight.needed, 'pod')}"
        )
    return text


def detail(
    spec: ScaledWebAppSpec,
    reason: str,
    winner: Signal,
    raw: int,
    stab: int,
    limit: Limit | None,
    burst_ratio: float,
    burst_until: float | None,
    now: float,
) -> str:
    """The clause that says why, appended to the action ("; scaling 2 -> 6, limited by ...")."""
    auto = spec.autoscaling
    behavior = auto.behavior
    if reason == AT_MAX_REPLICAS:
        return f", capped at replicas.max={spec.replicas.max}"
    if reason == AT_MIN_REPLICAS:
        return f", held at replicas.min={spec.replicas.min}"
    if reason == BURST_MODE and burst_until is not None and burst_ratio >= auto.burst.threshold:
        return (
            f", burst: load is {burst_ratio:.1f}x capacity (threshold {fmt(auto.burst.threshold)}x), "
            f"scaling at once; no scale-down for {fmt(burst_until - now)}s"
        )
    if reason == BURST_MODE:
        left = fmt((burst_until or now) - now)
        return f", burst hold: no scale-down for {left}s more (hold {auto.burst.hold} after load was high)"
    if limit is not None:
        return f", limited by {limit.text}"
    if reason == SCALE_DOWN_STABILIZED:
        window = behavior.scale_down.stabilization_window
        return f", scale-down stabilised: the highest recommendation in the last {window} is {stab}"
    if reason == SCALE_UP_STABILIZED:
        window = behavior.scale_up.stabilization_window
        return f", scale-up stabilised: the lowest recommendation in the last {window} is {stab}"
    if reason == WITHIN_TOLERANCE:
        tolerance = winner.tolerance
        return f", load/target ratio {winner.ratio:.2f} is within tolerance {fmt(tolerance)}"
    if reason == REPLICAS_MATCH_LOAD:
        return f", the {winner.label} recommendation {raw} is the current count"
    return ""
