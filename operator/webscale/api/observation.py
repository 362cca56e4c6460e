"""What a metrics source measured for one app in one poll (the Measure -> Decide contract).

Metrics sources only measure; `scaling.decide` only decides. An Observation is
either a measurement (`error is None`) or a failure with a reason: "no series"
is a failure, never zero traffic.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeasonalReading:
    """What the request rate was at the same time `offset` seconds ago (autoscaling.seasonal).

    ahead_rps: the highest rate of the `lookahead` seconds from now - offset on.
    then_rps / now_rps: the mean rate over the `level_window` seconds ending at now - offset / now.
    """

    offset: float
    lookahead: float
    level_window: float
    ahead_rps: float
    then_rps: float
    now_rps: float


@dataclass(frozen=True)
class Observation:
    """One poll's reading for one app.

    requests_per_second: total request rate over all the app's pods (the rate window).
    cpu_cores: total CPU cores in use over all the app's pods (None when unknown).
    pods_reporting: pods whose series contributed (None when unknown).
    at: Unix time of the reading.
    error: None for a good reading, else a short reason such as
        "no series for http_requests_total{namespace="shop",app="web"}" or
        "Prometheus unreachable: connection refused".
    recent_requests_per_second: the request rate over a short window (about two
        scrapes), for burst mode: `decide(..., recent_rps=...)`. None when the
        source has none (a template, a missed scrape); never a failure by itself.
    cpu_error: why cpu_cores is None although CPU was asked for and the request
        rate was read (e.g. "no series for app ..."); None otherwise.
    in_flight_requests: requests in flight at the load balancer, over all the app's
        HAProxy pods (metrics.requestRateSource loadbalancer); None otherwise.
    seasonal: the request rate at the same time yesterday or last week (autoscaling.seasonal.offset);
        None when the prior is off or Prometheus has no data that far back (never a failure).
    """

    at: float
    requests_per_second: float | None = None
    cpu_cores: float | None = None
    pods_reporting: int | None = None
    error: str | None = None
    recent_requests_per_second: float | None = None
    cpu_error: str | None = None
    in_flight_requests: float | None = None
    seasonal: SeasonalReading | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.requests_per_second is not None

    @classmethod
    def failed(cls, at: float, error: str) -> Observation:
        return cls(at=at, error=error)
