"""The scaling decision: how many pods, how many workers per pod, and why.

`decide` is pure: no I/O and no clock (`now` is a parameter). It reads one Observation
(measured by a metrics source), the app's current state and the History of earlier polls,
and returns a Decision that carries the replica count, a machine reason, one human line
with the numbers, and the next History.

The order of the rules is the Kubernetes HPA v2 controller's
(https://kubernetes.io/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale/):
recommendation per signal (with a tolerance dead band), the larger wins, stabilisation
windows, rate limits per period, then replicas.min/max. On top of it: burst mode (react at
once to load far above capacity), headroom sized from the measured burstiness (a quantile of the
per-scrape rates), a trend forecast for scale-up that only acts while it has been right (size for
the load expected when new pods will serve, while load rises steadily), the pods' measured start-up
time, a seasonal prior (pre-warm for the load of the same time yesterday or last week), the
requests in flight at the load balancer as a third signal (target.inFlightPerWorker,
Little's law), capacity counted on ready pods only, and metric failures that never lower replicas.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from webscale.api.durations import seconds
from webscale.api.models import ScaledWebAppSpec
from webscale.api.observation import Observation
from webscale.api.workers import workers_per_pod
from webscale.autoscaling.history import Forecast, History, stabilize
from webscale.autoscaling.reasons import (
    AT_MAX_REPLICAS,
    AT_MIN_REPLICAS,
    AUTOSCALING_OFF,
    BURST_MODE,
    CPU_ABOVE_TARGET,
    CPU_BELOW_TARGET,
    FALLBACK_REPLICAS,
    IN_FLIGHT_ABOVE_TARGET,
    IN_FLIGHT_BELOW_TARGET,
    LIMITED_REASONS,
    METRICS_UNAVAILABLE,
    METRICS_UNAVAILABLE_HOLDING,
    REASONS,
    REPLICAS_MATCH_LOAD,
    REQUEST_RATE_ABOVE_TARGET,
    REQUEST_RATE_BELOW_TARGET,
    SCALE_DOWN_LIMITED,
    SCALE_DOWN_STABILIZED,
    SCALE_UP_LIMITED,
    SCALE_UP_STABILIZED,
    WITHIN_TOLERANCE,
    describe,
    detail,
    fmt,
    forecast_text,
    headroom_text,
    lead_text,
    long_text,
    recently,
    seasonal_text,
)
from webscale.autoscaling.rules import (
    TREND_READINGS,
    Limit,
    Signal,
    burst_state,
    cpu_signal,
    headroom,
    in_flight_signal,
    lead_time,
    long_rate,
    rate_limit,
    rate_signal,
    seasonal_prior,
    trend,
    windows,
)

__all__ = ["REASONS", "Current", "Decision", "History", "decide"]

WINDOWED, RECENT, TREND, HEADROOM, LONG, SEASONAL = "window", "recent", "trend", "headroom", "long", "seasonal"
"""Decision.sized_by: the reading that sized the request-rate recommendation."""


@dataclass(frozen=True)
class Current:
    """The app as it runs now.

    replicas: the Deployment's spec.replicas (what was last asked for; surge pods are not in it).
    ready_replicas: pods that are ready and so carry load (starting pods are not capacity).
    workers_per_pod: workers the running pods have now.
    cpu_request_cores: CPU request per pod in cores; None when unknown (skips the CPU signal).
    """

    replicas: int
    ready_replicas: int
    workers_per_pod: int
    cpu_request_cores: float | None = None


@dataclass(frozen=True)
class Decision:
    """What to do and why, with what status needs.

    replicas / workers_per_pod: the Deployment's new replica count and workers per pod.
    reason: one of REASONS; message: one line with the numbers.
    from_replicas: Current.replicas the decision started from.
    recommended_replicas: what load asks for, before stabilisation, rate limits and bounds
        (None without a usable reading).
    capacity_rps: requests/s the ready pods can carry at the target (ready x workers x target).
    observed_rps / cpu_utilization: the reading (cpu_utilization in percent of the CPU request).
    signal: "requestRate", "cpu" or "inFlight": the signal that asked for the most pods (None without one).
    limited: a rate limit or replicas.min/max changed the count (ScalingLimited).
    metrics_available: the reading was usable. burst: burst mode is on.
    history: the History to pass to the next call.
    recent_rps: the rate over the last two scrapes, as given (None when not).
    forecast_rps: the rising trend's forecast for leadTime + pollingInterval ahead (None when the
        load is not rising at every one of the last polls).
    sized_by: which reading sized the request-rate recommendation when it won: "window" (the rate
        window), "headroom" (the quantile of the per-scrape rates), "long" (scaleDown.rateWindow's
        mean, holding a scale-down back), "recent" (the last two scrapes,
        scale-up only), "trend" (the forecast, scale-up only) or "seasonal" (the load of the same
        time yesterday or last week, scale-up only); None when CPU won or there was no reading.
    headroom_rps: the headroom quantile of the per-scrape rates (None when off or too few samples).
    forecast_trusted: whether a forecast made this poll was allowed to act (None without one).
    """

    replicas: int
    workers_per_pod: int
    reason: str
    message: str
    from_replicas: int
    recommended_replicas: int | None
    capacity_rps: float
    observed_rps: float | None
    cpu_utilization: float | None
    signal: str | None
    limited: bool
    metrics_available: bool
    burst: bool
    history: History
    recent_rps: float | None = None
    forecast_rps: float | None = None
    sized_by: str | None = None
    headroom_rps: float | None = None
    forecast_trusted: bool | None = None
    seasonal_rps: float | None = None
    """The seasonal prior's load to pre-warm for (None when off or without data then)."""

    @property
    def scaled(self) -> bool:
        """True when the replica count changes."""
        return self.replicas != self.from_replicas


def decide(
    spec: ScaledWebAppSpec,
    observation: Observation,
    current: Current,
    history: History,
    now: float,
    *,
    recent_rps: float | None = None,
    startup_seconds: float | None = None,
) -> Decision:
    """Decide replicas and workers per pod for one app at time `now` (Unix seconds).

    recent_rps: optionally, the request rate over the shortest window the metrics source offers
    (a rate over the last two scrapes: the per-scrape rate). It starts and sizes burst mode (a surge
    is exactly what a long rate window hides for most of a minute; Knative's KPA keeps a panic
    window of 10 % of its stable window for the same reason), the load trend is fitted to it, the
    headroom quantile is taken over its recent values, and with scaleUp.recentRate it sizes
    scale-up. It never lowers anything by itself; None ignores it.

    startup_seconds: optionally, how long the app's own pods took from creation to Ready (e.g. the
    median of the last ones); with scaleUp.learnLeadTime it replaces scaleUp.leadTime.

    Scale-up also looks ahead: while the load rose at every one of the last polls, the
    recommendation is sized for the load expected lead time + pollingInterval from now (see
    `rules.trend`), and with scaleUp.checkedForecast only while such forecasts have been closer to
    what came than no forecast. Scale-down never looks ahead.

    The returned History assumes the decision is applied when autoscaling.mode is auto; if
    applying fails, keep passing the previous History (one lost sample is harmless).
    """
    auto = spec.autoscaling
    wpp = workers_per_pod(spec)
    capacity = current.ready_replicas * current.workers_per_pod * auto.target.requests_per_second_per_worker
    up_window, down_window, longest_period = windows(auto)
    poll = seconds(auto.polling_interval)
    span = max(
        TREND_READINGS * poll,
        seconds(auto.headroom.window) if auto.headroom.quantile else 0.0,
        seconds(auto.behavior.scale_down.rate_window),
    )
    history = history.pruned(now, max(up_window, down_window), longest_period, span)
    cpu = cpu_signal(auto, observation, current.replicas, current.ready_replicas, current.cpu_request_cores)
    base = Decision(
        replicas=current.replicas,
        workers_per_pod=wpp,
        reason=AUTOSCALING_OFF,
        message="",
        from_replicas=current.replicas,
        recommended_replicas=None,
        capacity_rps=capacity,
        observed_rps=observation.requests_per_second if observation.ok else None,
        cpu_utilization=cpu.utilization if cpu else None,
        signal=None,
        limited=False,
        metrics_available=observation.ok,
        burst=False,
        history=history,
    )
    if auto.mode == "off":
        count = _bounded(spec, spec.replicas.count or spec.replicas.min)
        source = "replicas.count" if spec.replicas.count else "replicas.min"
        message = f"autoscaling is off: {source} asks for {count} pods"
        return replace(base, replicas=count, message=message + _action(current.replicas, count))
    if not observation.ok:
        return _without_metrics(spec, observation, current, history, now, cpu, base)
    return _with_metrics(spec, observation, current, history, now, cpu, base, recent_rps, startup_seconds)


def _with_metrics(
    spec: ScaledWebAppSpec,
    observation: Observation,
    current: Current,
    history: History,
    now: float,
    cpu: Signal | None,
    base: Decision,
    recent_rps: float | None,
    startup_seconds: float | None,
) -> Decision:
    auto = spec.autoscaling
    rule = auto.behavior.scale_up
    windowed = observation.requests_per_second or 0.0
    # The readings of the request rate, each for its own purpose:
    # * windowed: the rate over the metrics source's rate window. Smooth, but a change needs most
    #   of the window to show. It sizes every decision unless the headroom quantile does, and only
    #   it (or the quantile) may LOWER the count.
    # * headroom (autoscaling.headroom): a quantile of the per-scrape rates of the last minutes,
    #   sized at percentOfTarget of the target: headroom that follows the measured burstiness.
    # * recent (recent_rps): the rate over the last two scrapes. Sees a surge a window earlier, so it
    #   starts and sizes burst mode, and with scaleUp.recentRate sizes any scale-up.
    # * forecast: while the load rose at EVERY one of the last TREND_READINGS polls, the fitted trend
    #   read lead time + pollingInterval ahead (`trend`): pods asked for now serve only after their
    #   start-up, so on a rising load a decision sized on the present reading is short every time.
    #   Scale-up only, bounded, and with checkedForecast only while it has been right.
    peak = max(windowed, recent_rps or 0.0)
    fresh = recent_rps if recent_rps is not None else windowed
    poll = seconds(auto.polling_interval)
    history = history.with_reading(now, windowed, recent_rps).scored(now, fresh, poll / 2)
    lead, learned = lead_time(auto, startup_seconds)
    steady = tuple(o for o in history.readings if o.at > now - TREND_READINGS * poll)
    rising = trend(steady, now, lead + poll) if lead > 0 else None
    if rising is not None:
        history = history.with_forecast(Forecast(now, now + rising.horizon, rising.forecast, fresh))
    trusted = rising is not None and (not rule.checked_forecast or history.score.trusted)
    room = headroom(auto, history.readings, now)
    factor = room.factor if room is not None else 1.0
    burst = burst_state(auto, peak, base.capacity_rps, current.ready_replicas, history.burst_until, now)
    workers = base.workers_per_pod
    if room is not None:
        rate, basis, rps = rate_signal(auto, room.rps, current.replicas, workers, factor=factor), HEADROOM, room.rps
    else:
        rate, basis, rps = rate_signal(auto, windowed, current.replicas, workers), WINDOWED, windowed
    if (burst.now or rule.recent_rate) and peak > rps:
        quick = rate_signal(auto, peak, current.replicas, workers, factor=factor)
        if burst.now or quick.recommendation(current.replicas) > max(
            current.replicas, rate.recommendation(current.replicas)
        ):
            rate, basis, rps = quick, RECENT, peak
    if trusted and rising is not None and rising.forecast > rps:
        # A rise seen at every poll is not noise, so the dead band (a noise filter) does not apply
        # to it: at 1000 req/s a 10 % band would otherwise let 100 req/s of a ramp run over capacity.
        ahead = rate_signal(auto, rising.forecast, current.replicas, workers, dead_band=0.0, factor=factor)
        if ahead.recommendation(current.replicas) > rate.recommendation(current.replicas):
            rate, basis, rps = ahead, TREND, rising.forecast
    prior = seasonal_prior(auto, observation.seasonal)
    if prior is not None and prior.rps > rps:
        # Pre-warm for the load that followed the same time yesterday (or last week), at today's level.
        warm = rate_signal(auto, prior.rps, current.replicas, workers, factor=factor)
        if warm.recommendation(current.replicas) > max(current.replicas, rate.recommendation(current.replicas)):
            rate, basis, rps = warm, SEASONAL, prior.rps
    slow = long_rate(auto, history.readings, now)
    if slow is not None and rate.recommendation(current.replicas) < current.replicas:
        # Scale-down reads the long window: pods go only as far as its mean allows.
        held_by = rate_signal(auto, slow.rps, current.replicas, workers, factor=factor)
        if held_by.recommendation(current.replicas) > rate.recommendation(current.replicas):
            rate, basis, rps = held_by, LONG, slow.rps
    flight = in_flight_signal(auto, observation, current.replicas, workers)
    signals = [s for s in (rate, cpu, flight) if s is not None]
    winner = max(signals, key=lambda s: s.recommendation(current.replicas))
    raw = winner.recommendation(current.replicas)
    up_window, down_window, _ = windows(auto)
    if not history.recommendations and history.last_good is None and down_window > 0:
        # A fresh History (operator restart): count the current size as a recommendation so the
        # restart itself never triggers a scale-down (the HPA's maybeInitScaleDownStabilizationWindow).
        history = history.with_recommendation(now, current.replicas)
    stab = stabilize(raw, current.replicas, history.recommendations, now, up_window, down_window)
    limit: Limit | None = None
    burst_up = burst.now and raw > current.replicas
    held = False
    if burst_up:
        target = raw
    else:
        target = stab
        if burst.holding and target < current.replicas:
            target, held = current.replicas, True
        target, limit = rate_limit(auto.behavior, target, current.replicas, history.events, now)
    final = _bounded(spec, target)
    if final == spec.replicas.max and max(raw, target) > final:
        reason = AT_MAX_REPLICAS
    elif final == spec.replicas.min and min(raw, target) < final:
        reason = AT_MIN_REPLICAS
    elif burst_up or held:
        reason = BURST_MODE
    elif limit is not None:
        reason = SCALE_UP_LIMITED if stab > current.replicas else SCALE_DOWN_LIMITED
    elif stab != raw:
        reason = SCALE_UP_STABILIZED if stab < raw else SCALE_DOWN_STABILIZED
    elif all(s.within for s in signals) or (winner.within and final == current.replicas):
        reason = WITHIN_TOLERANCE
    elif final == current.replicas:
        reason = REPLICAS_MATCH_LOAD
    else:
        reason = _signal_reason(winner, final > current.replicas)
    history = history.with_recommendation(now, raw)
    history = replace(history, failures=0, last_good=final, burst_until=burst.until)
    if final != current.replicas and auto.mode == "auto":
        history = history.with_event(now, current.replicas, final)
    basis_text = None
    if basis == RECENT and rps > windowed:
        basis_text = recently(windowed)
    elif basis == TREND and rising is not None:
        basis_text = forecast_text(rising, peak, windowed, recent_rps, lead_text(lead, learned), history.score)
    elif basis == HEADROOM and room is not None:
        basis_text = headroom_text(room, windowed)
    elif basis == LONG and slow is not None:
        basis_text = long_text(slow, windowed)
    elif basis == SEASONAL and prior is not None:
        basis_text = seasonal_text(prior, now, windowed)
    need = describe(
        rps, rate, cpu, workers, auto, base.capacity_rps, current.ready_replicas, basis_text, factor, flight
    )
    why = detail(spec, reason, winner, raw, stab, limit, burst.ratio, burst.until, now)
    return replace(
        base,
        replicas=final,
        reason=reason,
        message=f"{need}; {_action(current.replicas, final).lstrip('; ')}{why}",
        recommended_replicas=raw,
        signal=winner.name,
        limited=reason in LIMITED_REASONS,
        burst=burst.now or burst.holding,
        history=history,
        recent_rps=recent_rps,
        forecast_rps=rising.forecast if rising is not None else None,
        sized_by=basis if winner is rate else None,
        headroom_rps=room.rps if room is not None else None,
        forecast_trusted=trusted if rising is not None else None,
        seasonal_rps=prior.rps if prior is not None else None,
    )


def _without_metrics(
    spec: ScaledWebAppSpec,
    observation: Observation,
    current: Current,
    history: History,
    now: float,
    cpu: Signal | None,
    base: Decision,
) -> Decision:
    """A failed poll never lowers replicas; a working CPU signal may still raise them."""
    auto = spec.autoscaling
    fallback = auto.fallback
    failures = history.failures + 1
    error = observation.error or "the reading has no request rate"
    if failures < fallback.after_failures:
        floor, reason = current.replicas, METRICS_UNAVAILABLE
        what = f"failed poll {failures} of {fallback.after_failures} before the fallback"
    elif fallback.action == "hold":
        floor, reason = max(current.replicas, history.last_good or 0), METRICS_UNAVAILABLE_HOLDING
        good = history.last_good or current.replicas
        what = f"{fallback.after_failures}+ failed polls, fallback hold: the last good count is {good} (never lower)"
    else:
        floor, reason = max(current.replicas, fallback.replicas or 0), FALLBACK_REPLICAS
        what = (
            f"{fallback.after_failures}+ failed polls, fallback.replicas={fallback.replicas} (never below the current)"
        )
    target, limit, signal = floor, None, None
    if cpu is not None and not cpu.within and cpu.needed > floor:
        # Never fight a higher CPU need with the fallback (kedacore/keda#6659, #6887).
        target, limit = rate_limit(auto.behavior, cpu.needed, current.replicas, history.events, now)
        target, signal = max(floor, target), cpu.name
        reason = SCALE_UP_LIMITED if limit is not None and target > floor else CPU_ABOVE_TARGET
        what += f"; CPU at {fmt(cpu.utilization or 0)}% of request needs {cpu.needed} pods"
    final = _bounded(spec, target)
    history = replace(history, failures=failures)
    if final != current.replicas and auto.mode == "auto":
        history = history.with_event(now, current.replicas, final)
    limit_text = f", limited by {limit.text}" if limit is not None and reason == SCALE_UP_LIMITED else ""
    return replace(
        base,
        replicas=final,
        reason=reason,
        message=f"metrics unavailable ({error}): {what}{_action(current.replicas, final)}{limit_text}",
        recommended_replicas=cpu.needed if cpu is not None and signal else None,
        signal=signal,
        limited=reason == SCALE_UP_LIMITED,
        history=history,
    )


def _signal_reason(winner: Signal, up: bool) -> str:
    if winner.name == "cpu":
        return CPU_ABOVE_TARGET if up else CPU_BELOW_TARGET
    if winner.name == "inFlight":
        return IN_FLIGHT_ABOVE_TARGET if up else IN_FLIGHT_BELOW_TARGET
    return REQUEST_RATE_ABOVE_TARGET if up else REQUEST_RATE_BELOW_TARGET


def _bounded(spec: ScaledWebAppSpec, replicas: int) -> int:
    return max(spec.replicas.min, min(spec.replicas.max, replicas))


def _action(before: int, after: int) -> str:
    return f"; scaling {before} -> {after}" if after != before else f"; keeping {after}"
