"""decide(): every reason with its message, table-driven, plus the rules around them.

The builders at the top are shared by the other test_scaling_* modules.
"""

from __future__ import annotations

from typing import Any

import pytest

from webscale.api.models import ScaledWebAppSpec, parse_spec
from webscale.api.observation import Observation
from webscale.autoscaling.decide import REASONS, Current, Decision, History, decide
from webscale.autoscaling.history import Recommendation, ScaleEvent

NOW = 1000.0


def make_spec(
    autoscaling: dict[str, Any] | None = None,
    replicas: dict[str, Any] | None = None,
    cpu: str = "2",
    workers: dict[str, Any] | None = None,
) -> ScaledWebAppSpec:
    """A spec with 2 workers per pod (cpu "2"): 100 req/s per pod at the default target."""
    data: dict[str, Any] = {"image": "app", "resources": {"cpu": cpu}}
    if autoscaling is not None:
        data["autoscaling"] = autoscaling
    if replicas is not None:
        data["replicas"] = replicas
    if workers is not None:
        data["workers"] = workers
    return parse_spec(data)


def reading(
    rps: float | None = None,
    cpu: float | None = None,
    pods: int | None = None,
    error: str | None = None,
    at: float = NOW,
) -> Observation:
    return Observation(at=at, requests_per_second=rps, cpu_cores=cpu, pods_reporting=pods, error=error)


def running(replicas: int, ready: int | None = None, workers: int = 2, cpu: float | None = 2.0) -> Current:
    return Current(replicas, replicas if ready is None else ready, workers, cpu)


def recommended(*ago_and_replicas: tuple[float, int]) -> History:
    """A History whose recommendations were made `ago` seconds before NOW."""
    return History(recommendations=tuple(Recommendation(NOW - ago, n) for ago, n in ago_and_replicas))


NO_DOWN_WINDOW = {"behavior": {"scaleDown": {"stabilizationWindow": "0s", "rateWindow": "0s", "maxPercent": 100}}}
HPA_DOWN_WINDOW = {"behavior": {"scaleDown": {"stabilizationWindow": "300s", "rateWindow": "0s", "maxPercent": 100}}}
"""The HPA's scale-down: a 300s window of maxima, -100 % per 15s, no long-window mean."""


def decide_now(spec: ScaledWebAppSpec, obs: Observation, current: Current, history: History) -> Decision:
    return decide(spec, obs, current, history, NOW)


NEED = "req/s needs {} of 2 workers at 50 req/s per worker (capacity now {} req/s on {} ready pods)"

CASES = [
    pytest.param(
        make_spec({"mode": "off"}, {"count": 5}),
        reading(300),
        running(3),
        History(),
        5,
        "AutoscalingOff",
        "autoscaling is off: replicas.count asks for 5 pods; scaling 3 -> 5",
        id="AutoscalingOff",
    ),
    pytest.param(
        make_spec(),
        reading(310.5),
        running(2),
        History(),
        4,
        "RequestRateAboveTarget",
        "310.5 " + NEED.format("4 pods", 200, 2) + "; scaling 2 -> 4",
        id="RequestRateAboveTarget",
    ),
    pytest.param(
        make_spec(NO_DOWN_WINDOW),
        reading(290),
        running(4),
        History(),
        3,
        "RequestRateBelowTarget",
        "290 " + NEED.format("3 pods", 400, 4) + "; scaling 4 -> 3",
        id="RequestRateBelowTarget",
    ),
    pytest.param(
        make_spec(),
        reading(100, cpu=3.5, pods=2),
        running(2),
        History(),
        3,
        "CPUAboveTarget",
        "100 " + NEED.format("1 pod", 200, 2) + "; CPU at 87.5% of request (target 70%) needs 3 pods; scaling 2 -> 3",
        id="CPUAboveTarget",
    ),
    pytest.param(
        make_spec(NO_DOWN_WINDOW),
        reading(150, cpu=3.36, pods=4),
        running(4),
        History(),
        3,
        "CPUBelowTarget",
        "150 " + NEED.format("2 pods", 400, 4) + "; CPU at 42% of request (target 70%) needs 3 pods; scaling 4 -> 3",
        id="CPUBelowTarget",
    ),
    pytest.param(
        make_spec({"target": {"cpuUtilization": None, "inFlightPerWorker": 4}}),
        Observation(at=NOW, requests_per_second=300, in_flight_requests=40),
        running(4),
        History(),
        5,
        "InFlightAboveTarget",
        "300 " + NEED.format("3 pods", 400, 4) + "; 40 requests in flight at the load balancer "
        "(target 4 per worker) needs 5 pods; scaling 4 -> 5",
        id="InFlightAboveTarget",
    ),
    pytest.param(
        make_spec({**NO_DOWN_WINDOW, "target": {"cpuUtilization": None, "inFlightPerWorker": 4}}),
        Observation(at=NOW, requests_per_second=150, in_flight_requests=20),
        running(4),
        History(),
        3,
        "InFlightBelowTarget",
        "150 " + NEED.format("2 pods", 400, 4) + "; 20 requests in flight at the load balancer "
        "(target 4 per worker) needs 3 pods; scaling 4 -> 3",
        id="InFlightBelowTarget",
    ),
    pytest.param(
        make_spec(),
        reading(420),
        running(4),
        History(),
        4,
        "WithinTolerance",
        "420 " + NEED.format("5 pods", 400, 4) + "; keeping 4, load/target ratio 1.05 is within tolerance 0.1",
        id="WithinTolerance",
    ),
    pytest.param(
        make_spec(),
        reading(420, cpu=1.6, pods=4),
        running(4),
        History(),
        4,
        "WithinTolerance",
        "420 " + NEED.format("5 pods", 400, 4) + "; CPU at 20% of request (target 70%) needs 2 pods; "
        "keeping 4, load/target ratio 1.05 is within tolerance 0.1",
        id="WithinToleranceWithCPUBelowTarget",
    ),
    pytest.param(
        make_spec(),
        reading(350),
        running(4),
        History(),
        4,
        "ReplicasMatchLoad",
        "350 " + NEED.format("4 pods", 400, 4) + "; keeping 4, the request-rate recommendation 4 is the current count",
        id="ReplicasMatchLoad",
    ),
    pytest.param(
        make_spec(HPA_DOWN_WINDOW),
        reading(150),
        running(6),
        recommended((200, 5), (100, 4)),
        5,
        "ScaleDownStabilized",
        "150 "
        + NEED.format("2 pods", 600, 6)
        + "; scaling 6 -> 5, scale-down stabilised: the highest recommendation in the last 300s is 5",
        id="ScaleDownStabilized",
    ),
    pytest.param(
        make_spec({"behavior": {"scaleUp": {"stabilizationWindow": "60s"}}}),
        reading(700),
        running(4),
        recommended((30, 5)),
        5,
        "ScaleUpStabilized",
        "700 "
        + NEED.format("7 pods", 400, 4)
        + "; scaling 4 -> 5, scale-up stabilised: the lowest recommendation in the last 60s is 5",
        id="ScaleUpStabilized",
    ),
    pytest.param(
        make_spec(),
        reading(1100),
        running(6),
        History(events=(ScaleEvent(NOW - 10, 2, 6),)),
        6,
        "ScaleUpLimited",
        "1100 "
        + NEED.format("11 pods", 600, 6)
        + "; keeping 6, limited by scaleUp.maxPods=4 per 15s (2 pods at the period start)",
        id="ScaleUpLimited",
    ),
    pytest.param(
        make_spec({"behavior": {"scaleDown": {"stabilizationWindow": "0s", "maxPercent": 50, "period": "60s"}}}),
        reading(100),
        running(10),
        History(),
        5,
        "ScaleDownLimited",
        "100 "
        + NEED.format("1 pod", 1000, 10)
        + "; scaling 10 -> 5, limited by scaleDown.maxPercent=50% per 60s (10 pods at the period start)",
        id="ScaleDownLimited",
    ),
    pytest.param(
        make_spec(),
        reading(1310.5),
        running(2),
        History(),
        14,
        "BurstMode",
        "1310.5 "
        + NEED.format("14 pods", 200, 2)
        + "; scaling 2 -> 14, burst: load is 6.6x capacity (threshold 2x), scaling at once; no scale-down for 60s",
        id="BurstMode-up",
    ),
    pytest.param(
        make_spec(NO_DOWN_WINDOW),
        reading(200),
        running(8),
        History(burst_until=NOW + 30),
        8,
        "BurstMode",
        "200 "
        + NEED.format("2 pods", 800, 8)
        + "; keeping 8, burst hold: no scale-down for 30s more (hold 60s after load was high)",
        id="BurstMode-hold",
    ),
    pytest.param(
        make_spec(),
        reading(2500),
        running(18),
        History(),
        20,
        "AtMaxReplicas",
        "2500 " + NEED.format("25 pods", 1800, 18) + "; scaling 18 -> 20, capped at replicas.max=20",
        id="AtMaxReplicas",
    ),
    pytest.param(
        make_spec(),
        reading(10),
        running(2),
        History(),
        2,
        "AtMinReplicas",
        "10 " + NEED.format("1 pod", 200, 2) + "; keeping 2, held at replicas.min=2",
        id="AtMinReplicas",
    ),
    pytest.param(
        make_spec(),
        reading(error="Prometheus unreachable: connection refused"),
        running(5),
        History(),
        5,
        "MetricsUnavailable",
        "metrics unavailable (Prometheus unreachable: connection refused): "
        "failed poll 1 of 3 before the fallback; keeping 5",
        id="MetricsUnavailable",
    ),
    pytest.param(
        make_spec(),
        reading(error="no series"),
        running(5),
        History(failures=2, last_good=6),
        6,
        "MetricsUnavailableHolding",
        "metrics unavailable (no series): 3+ failed polls, fallback hold: the last good count is 6 "
        "(never lower); scaling 5 -> 6",
        id="MetricsUnavailableHolding",
    ),
    pytest.param(
        make_spec({"fallback": {"action": "replicas", "replicas": 8}}),
        reading(error="no series"),
        running(5),
        History(failures=2),
        8,
        "FallbackReplicas",
        "metrics unavailable (no series): 3+ failed polls, fallback.replicas=8 (never below the current); "
        "scaling 5 -> 8",
        id="FallbackReplicas",
    ),
]


@pytest.mark.parametrize(("spec", "obs", "current", "history", "replicas", "reason", "message"), CASES)
def test_reason_and_message(spec, obs, current, history, replicas, reason, message):
    decision = decide_now(spec, obs, current, history)
    assert (decision.replicas, decision.reason) == (replicas, reason)
    assert decision.message == message
    assert decision.reason in REASONS


def test_every_reason_has_a_case():
    covered = {p.values[5] for p in CASES}
    assert covered == set(REASONS)
