"""webscale itself in the simulator: the operator's own `scaling.decide`, unchanged.

Every autoscaling.pollingInterval it reads two rates from Prometheus (both lagged, see
engine.World): rate over the world's rate window for the decision, and rate over the last two
scrapes as `recent_rps` (it starts and sizes burst mode, the trend forecast is fitted to it, and the
headroom quantile is taken over it), and passes the pods' start-up time as the operator measures it
(`startup_seconds`); with metrics.requestRateSource loadbalancer, also the requests in flight at
the load balancer (`View.in_flight`), and with autoscaling.seasonal.offset the load of the same time
then (`View.seasonal`).
The spec has its defaults; only what must match the simulated world is set: CPU per pod (so
workers_per_pod gives the world's workers), the per-worker target and the replica bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webscale.api.durations import seconds
from webscale.api.models import ScaledWebAppSpec, parse_spec
from webscale.api.observation import Observation, SeasonalReading
from webscale.api.workers import workers_per_pod
from webscale.autoscaling.decide import Current, History, decide
from webscale.simulate.engine import View, World


def default_spec(
    world: World, autoscaling: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None
) -> ScaledWebAppSpec:
    """The default ScaledWebApp for the simulated world (plus optional autoscaling and metrics overrides)."""
    auto = dict(autoscaling or {})
    target = {"requestsPerSecondPerWorker": world.rps_per_worker * world.target_utilization, **auto.pop("target", {})}
    return parse_spec(
        {
            "image": "simulated",
            "resources": {"cpu": str(world.workers_per_pod)},
            "replicas": {"min": world.min_replicas, "max": world.max_replicas},
            "autoscaling": {"target": target, **auto},
            "metrics": metrics or {},
        }
    )


def in_flight_at(world: World, utilization: float) -> float:
    """Requests in flight per worker in the simulated world when the pods run at `utilization`
    (u / (1 - u), see engine.World): what a user who measured their app would set as
    target.inFlightPerWorker to aim at that utilisation."""
    return utilization / (1.0 - min(utilization, world.saturation_cap))


@dataclass(frozen=True)
class Webscale:
    """scaling.decide on the Prometheus request rate; its History is the policy state."""

    spec: ScaledWebAppSpec
    name: str = "webscale"

    @property
    def interval(self) -> int:
        return max(1, round(seconds(self.spec.autoscaling.polling_interval)))

    def start(self, view: View) -> tuple[int, History]:
        return view.world.need(view.load.at(0)), History()

    def step(self, state: History, view: View) -> tuple[int, History]:
        rate = view.prometheus_rate()
        if rate is None:
            observation = Observation.failed(view.now, "Prometheus unreachable (simulated outage)")
        else:
            # At the load balancer (metrics.requestRateSource loadbalancer) the same query also gives
            # the requests in flight there (webscale.promql.queries.lb_request_rate_query).
            at_lb = self.spec.metrics.request_rate_source == "loadbalancer"
            flying = view.in_flight() if at_lb else None
            observation = Observation(
                at=view.now,
                requests_per_second=rate,
                pods_reporting=view.ready,
                in_flight_requests=flying,
                seasonal=self._seasonal(view),
            )
        recent = view.prometheus_rate(2 * view.world.scrape_interval)  # the last two scrapes
        workers = workers_per_pod(self.spec)
        current = Current(view.replicas, view.ready, workers, float(view.world.workers_per_pod))
        startup = float(view.world.startup_delay)  # what the operator measures on its pods (creation to Ready)
        decision = decide(
            self.spec, observation, current, state, float(view.now), recent_rps=recent, startup_seconds=startup
        )
        return decision.replicas, decision.history

    def _seasonal(self, view: View) -> SeasonalReading | None:
        """autoscaling.seasonal's reading (the operator's seasonal query), when the prior is on."""
        rule = self.spec.autoscaling.seasonal
        offset = round(seconds(rule.offset))
        if offset <= 0:
            return None
        lookahead, level = round(seconds(rule.lookahead)), round(seconds(rule.level_window))
        read = view.seasonal(offset, lookahead, level)
        return None if read is None else SeasonalReading(offset, lookahead, level, *read)
