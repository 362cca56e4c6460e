"""What the scaling decision remembers between polls, and the pure rules that read it.

`History` is an immutable, bounded value: `decide` takes one and returns the next.
The operator keeps one per app in memory; `to_dict` / `from_dict` give a small JSON-able
dict so it can also live in an annotation and survive an operator restart.

The window and rate-limit rules follow the Kubernetes HPA v2 controller
(pkg/controller/podautoscaler/horizontal.go: stabilizeRecommendationWithBehaviors,
calculateScaleUpLimitWithScalingRules, calculateScaleDownLimitWithBehaviors), documented at
https://kubernetes.io/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale/#configurable-scaling-behavior
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from webscale.api.autoscaling_spec import REMEMBERED_POLLS

MAX_RECOMMENDATIONS = 256
"""Hard cap on remembered recommendations (one is added per poll; pruning by age keeps far fewer)."""
MAX_EVENTS = 64
"""Hard cap on remembered scale events."""
MAX_READINGS = REMEMBERED_POLLS
"""Hard cap on remembered load readings (the trend needs a handful, the headroom quantile up to
autoscaling.headroom.window of them; pruning by age keeps fewer). A rate or headroom window that would
need more marks the app Invalid (`api.validation`)."""
MAX_FORECASTS = 8
"""Hard cap on forecasts waiting to be scored."""
ERROR_WEIGHT = 0.2
"""Weight of the newest scored forecast in the running error averages (an EWMA: about the last
ten forecasts count)."""
TRUST_AFTER = 3
"""Scored forecasts needed before the forecast check trusts its averages."""


@dataclass(frozen=True)
class Recommendation:
    """The raw recommendation of one poll (before stabilisation, rate limits and bounds)."""

    at: float
    replicas: int


@dataclass(frozen=True)
class ScaleEvent:
    """A replica change the operator made."""

    at: float
    from_replicas: int
    to_replicas: int


@dataclass(frozen=True)
class Reading:
    """The request rate of one good poll: over the rate window, and over the last two scrapes
    (`recent`, None when the metrics source did not give it). What the load trend is fitted to."""

    at: float
    rps: float
    recent: float | None = None


@dataclass(frozen=True)
class Forecast:
    """A forecast made at `at` for the load at `due`, and the reading it started from (`base`:
    what no forecast would have said)."""

    at: float
    due: float
    value: float
    base: float


@dataclass(frozen=True)
class ForecastScore:
    """Running averages of |forecast - actual| and |base - actual| over scored forecasts."""

    forecast_error: float = 0.0
    naive_error: float = 0.0
    scored: int = 0

    @property
    def trusted(self) -> bool:
        """The forecast has been scored enough and has been closer than no forecast."""
        return self.scored >= TRUST_AFTER and self.forecast_error < self.naive_error

    def with_outcome(self, forecast: float, base: float, actual: float) -> ForecastScore:
        f, n = abs(forecast - actual), abs(base - actual)
        if self.scored == 0:
            return ForecastScore(f, n, 1)
        w = ERROR_WEIGHT
        return ForecastScore((1 - w) * self.forecast_error + w * f, (1 - w) * self.naive_error + w * n, self.scored + 1)


@dataclass(frozen=True)
class History:
    """Everything `decide` needs from earlier polls.

    recommendations: raw recommendations inside the longest stabilisation window (oldest first;
        an older entry equal to a newer one is dropped, as the newer one outlives it in any window).
    events: scale events inside the longest rate-limit period (oldest first).
    failures: consecutive polls without usable metrics.
    last_good: replicas decided from the last good reading (what a hold fallback keeps).
    burst_until: Unix time until which burst mode blocks scale-down.
    readings: request-rate readings of the last polls (oldest first), for the load trend and the
        headroom quantile.
    forecasts: trend forecasts waiting for their due time, to be scored (oldest first).
    score: how the scored forecasts did against no forecast.
    """

    recommendations: tuple[Recommendation, ...] = ()
    events: tuple[ScaleEvent, ...] = ()
    failures: int = 0
    last_good: int | None = None
    burst_until: float | None = None
    readings: tuple[Reading, ...] = ()
    forecasts: tuple[Forecast, ...] = ()
    score: ForecastScore = ForecastScore()

    def with_forecast(self, forecast: Forecast) -> History:
        return replace(self, forecasts=(*self.forecasts, forecast)[-MAX_FORECASTS:])

    def scored(self, now: float, actual: float, slack: float) -> History:
        """Score every forecast due by now + slack against `actual` (this poll's reading); forecasts
        long overdue (a gap in polling) are dropped unscored."""
        score, waiting = self.score, []
        for f in self.forecasts:
            if f.due <= now + slack:
                if f.due > now - 2 * slack - 1e-9:
                    score = score.with_outcome(f.value, f.base, actual)
            else:
                waiting.append(f)
        return replace(self, forecasts=tuple(waiting), score=score)

    def with_reading(self, at: float, rps: float, recent: float | None) -> History:
        return replace(self, readings=(*self.readings, Reading(at, rps, recent))[-MAX_READINGS:])

    def with_recommendation(self, at: float, replicas: int) -> History:
        kept = tuple(r for r in self.recommendations if r.replicas != replicas)
        return replace(self, recommendations=(*kept, Recommendation(at, replicas))[-MAX_RECOMMENDATIONS:])

    def with_event(self, at: float, from_replicas: int, to_replicas: int) -> History:
        event = ScaleEvent(at, from_replicas, to_replicas)
        return replace(self, events=(*self.events, event)[-MAX_EVENTS:])

    def pruned(self, now: float, window: float, period: float, span: float = 0.0) -> History:
        """Drop recommendations older than `window` seconds, events older than `period` and readings
        older than `span` (readings also go when they are from the future: a clock that jumped back)."""
        return replace(
            self,
            recommendations=tuple(r for r in self.recommendations if r.at > now - window),
            events=tuple(e for e in self.events if e.at > now - period),
            readings=tuple(o for o in self.readings if now - span < o.at < now),
            forecasts=tuple(f for f in self.forecasts if f.at < now),
        )

    def to_dict(self) -> dict[str, Any]:
        """A compact JSON-able form: {"r": [[at, n]...], "e": [[at, from, to]...], "f", "g", "b",
        "o": [[at, rps(, recent)]...], "p": [[at, due, value, base]...], "s": [ferr, nerr, n]}."""
        data: dict[str, Any] = {
            "r": [[_num(r.at), r.replicas] for r in self.recommendations],
            "e": [[_num(e.at), e.from_replicas, e.to_replicas] for e in self.events],
            "f": self.failures,
        }
        if self.last_good is not None:
            data["g"] = self.last_good
        if self.burst_until is not None:
            data["b"] = _num(self.burst_until)
        if self.readings:
            data["o"] = [_reading_row(o) for o in self.readings]
        if self.forecasts:
            data["p"] = [[_num(f.at), _num(f.due), _num(f.value), _num(f.base)] for f in self.forecasts]
        if self.score.scored:
            s = self.score
            data["s"] = [_num(s.forecast_error), _num(s.naive_error), s.scored]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """Read `to_dict` output back; raises ValueError on anything malformed."""
        try:
            recs = tuple(Recommendation(float(at), int(n)) for at, n in data.get("r", []))
            events = tuple(ScaleEvent(float(at), int(a), int(b)) for at, a, b in data.get("e", []))
            last_good = data.get("g")
            burst = data.get("b")
            readings = tuple(_reading(*row) for row in data.get("o", []))
            forecasts = tuple(Forecast(*(float(x) for x in row)) for row in data.get("p", []))
            ferr, nerr, scored = data.get("s", [0.0, 0.0, 0])
            return cls(
                recommendations=recs[-MAX_RECOMMENDATIONS:],
                events=events[-MAX_EVENTS:],
                failures=max(0, int(data.get("f", 0))),
                last_good=None if last_good is None else int(last_good),
                burst_until=None if burst is None else float(burst),
                readings=readings[-MAX_READINGS:],
                forecasts=forecasts[-MAX_FORECASTS:],
                score=ForecastScore(float(ferr), float(nerr), max(0, int(scored))),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a scaling history: {exc}") from exc


def _reading_row(o: Reading) -> list[float | int]:
    return [_num(o.at), _num(o.rps), *([] if o.recent is None else [_num(o.recent)])]


def _reading(at: Any, rps: Any, recent: Any = None) -> Reading:
    return Reading(float(at), float(rps), None if recent is None else float(recent))


def _num(value: float) -> float | int:
    """Millisecond precision; whole numbers as ints to keep the dict short."""
    rounded = round(value, 3)
    return int(rounded) if rounded == int(rounded) else rounded


def stabilize(
    raw: int, current: int, recs: tuple[Recommendation, ...], now: float, up_window: float, down_window: float
) -> int:
    """HPA stabilisation: scale up to the LOWEST recommendation of the up window, down to the
    HIGHEST of the down window (both windows include `raw`, the recommendation of this poll)."""
    up = min([raw, *(r.replicas for r in recs if r.at > now - up_window)])
    down = max([raw, *(r.replicas for r in recs if r.at > now - down_window)])
    return min(max(current, up), down)


def period_start(current: int, events: tuple[ScaleEvent, ...], now: float, period: float) -> int:
    """Replicas at the start of the rate-limit period: current minus what was added, plus what was
    removed, by the scale events of the last `period` seconds (as the HPA computes it)."""
    change = sum(e.to_replicas - e.from_replicas for e in events if e.at > now - period)
    return current - change


def scale_up_limit(start: int, max_pods: int | None, max_percent: int | None) -> int | None:
    """Most replicas allowed this period: the larger of the pods and percent limits (selectPolicy Max);
    None when neither is set. The percent limit rounds up so a small count can always grow."""
    limits = []
    if max_pods is not None:
        limits.append(start + max_pods)
    if max_percent is not None:
        limits.append(-(-start * (100 + max_percent) // 100))
    return max(limits) if limits else None


def scale_down_floor(start: int, max_pods: int | None, max_percent: int | None) -> int | None:
    """Fewest replicas allowed this period: the larger of the two allowed removals (selectPolicy Max);
    None when neither is set. The percent limit rounds the remaining count down, as the HPA does."""
    floors = []
    if max_pods is not None:
        floors.append(start - max_pods)
    if max_percent is not None:
        floors.append(start * (100 - max_percent) // 100)
    return max(0, min(floors)) if floors else None
