"""An HPA-compatible configuration reproduces the Kubernetes HPA's documented examples.

Source: https://kubernetes.io/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale/
("Algorithm details" and "Configurable scaling behavior"). HPA-compatible means: 1 worker per
pod, the per-worker request-rate target as the HPA's target value, tolerance 0.1, no CPU signal,
burst mode out of the way (threshold 100x), and the HPA's default behavior.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_scaling import make_spec, reading

from webscale.autoscaling.decide import Current, Decision, History, decide

HPA_DEFAULT_BEHAVIOR = {
    # "Default Behavior" in the docs: scale down 100% per 15s after a 300s window; scale up
    # 100% or 4 pods per 15s, whichever is more, with no window.
    "scaleDown": {"stabilizationWindow": "300s", "maxPercent": 100, "period": "15s", "rateWindow": "0s"},
    "scaleUp": {"stabilizationWindow": "0s", "maxPods": 4, "maxPercent": 100, "period": "15s"},
}


def hpa_spec(behavior: dict[str, Any] | None = None, max_replicas: int = 100) -> Any:
    return make_spec(
        {
            "target": {"requestsPerSecondPerWorker": 100, "cpuUtilization": None},
            "tolerance": 0.1,
            "burst": {"threshold": 100},
            "headroom": {"quantile": None},  # the HPA sizes on the metric's value, not a quantile
            "behavior": behavior or HPA_DEFAULT_BEHAVIOR,
        },
        replicas={"min": 1, "max": max_replicas},
        workers={"mode": "fixed", "count": 1},
    )


def per_pod(replicas: int, value: float) -> float:
    """The total request rate when each of `replicas` pods sees `value` (the HPA's per-pod metric)."""
    return replicas * value


def step(spec: Any, value: float, replicas: int, history: History, now: float) -> Decision:
    current = Current(replicas, replicas, 1, None)
    return decide(spec, reading(per_pod(replicas, value), at=now), current, history, now)


@pytest.mark.parametrize(
    ("replicas", "metric", "expected"),
    [
        # "if the current metric value is 200m, and the desired value is 100m, the number of
        # replicas will be doubled, since 200.0 / 100.0 == 2.0"
        (1, 200, 2),
        (4, 200, 8),
        # "The control plane skips any scaling action if the ratio is sufficiently close to 1.0
        # (within a configurable tolerance, 0.1 by default)."
        (4, 105, 4),
        (4, 110, 4),
        (4, 111, 5),
        (10, 95, 10),
    ],
)
def test_algorithm_ratio(replicas, metric, expected):
    assert step(hpa_spec(), metric, replicas, History(), 0.0).replicas == expected


def test_halving_after_the_default_stabilization_window():
    """ "If the current value is instead 50m, you'll halve the number of replicas" - once the
    default scale-down window (300s, highest recommendation wins) has passed."""
    spec, history = hpa_spec(), History()
    for now in range(0, 300, 15):
        decision = step(spec, 50, 4, history, float(now))
        assert (decision.replicas, decision.reason) == (4, "ScaleDownStabilized")
        history = decision.history
    assert step(spec, 50, 4, history, 300.0).replicas == 2


def test_default_scale_up_policy():
    """ "4 pods or a 100% of the currently running replicas may at most be added every 15 seconds":
    1 pod that needs 10 goes to 5 (1 + 4 > 1 x 2), then 10 one period later (5 + 4 < 5 x 2)."""
    spec = hpa_spec()
    first = step(spec, 1000, 1, History(), 0.0)
    assert (first.replicas, first.reason) == (5, "ScaleUpLimited")
    assert "maxPods=4 per 15s" in first.message
    inside = decide(spec, reading(1000, at=10.0), Current(5, 5, 1, None), first.history, 10.0)
    assert (inside.replicas, inside.reason) == (5, "ScaleUpLimited")  # still the same period
    second = decide(spec, reading(1000, at=15.0), Current(5, 5, 1, None), inside.history, 15.0)
    assert (second.replicas, second.reason) == (10, "RequestRateAboveTarget")


def test_scale_down_policies_example():
    """Docs: Pods 4 and Percent 10 per 60s; "if there are 80 replicas and the target has to be
    scaled down to 10 replicas then during the first step 8 replicas will be reduced. In the next
    iteration when the number of replicas is 72, 10% of the pods is 7.2 but the number is rounded
    up to 8." The percent limit applies per period from the period's starting count."""
    spec = hpa_spec({"scaleDown": {"stabilizationWindow": "0s", "maxPods": 4, "maxPercent": 10, "period": "60s"}})
    total = 10 * 100.0  # the load needs 10 pods

    def at(replicas: int, history: History, now: float) -> Decision:
        return decide(spec, reading(total, at=now), Current(replicas, replicas, 1, None), history, now)

    first = at(80, History(), 0.0)
    assert (first.replicas, first.reason) == (72, "ScaleDownLimited")
    assert "maxPercent=10% per 60s" in first.message
    assert at(72, first.history, 30.0).replicas == 72  # the period is not over
    assert at(72, first.history, 60.0).replicas == 64  # 72 - ceil(7.2)
    small = at(30, History(), 0.0)  # at 40 or fewer pods the Pods policy allows more change
    assert (small.replicas, small.reason) == (26, "ScaleDownLimited")
    assert "maxPods=4 per 60s" in small.message


def test_stabilization_window_uses_the_highest_recommendation():
    """ "the highest recommendation from within the window is used" - a dip in load inside the
    window does not remove pods; scale-down follows the window's maximum."""
    spec, history = hpa_spec(), History()
    replicas = 10
    loads = [1000, 600, 300, 300]  # needs 10, 6, 3, 3 pods
    for i, load in enumerate(loads):
        decision = decide(spec, reading(load, at=i * 100.0), Current(replicas, replicas, 1, None), history, i * 100.0)
        history, replicas = decision.history, decision.replicas
    assert replicas == 6  # at t=300 the recommendation 10 (t=0) left the window; 6 (t=100) has not
    final = decide(spec, reading(300, at=401.0), Current(6, 6, 1, None), history, 401.0)
    assert final.replicas == 3


def test_min_and_max_bounds():
    spec = hpa_spec(max_replicas=6)
    assert step(spec, 400, 4, History(), 0.0).replicas == 6  # wants 16, limited to 8, capped at 6
    assert step(spec, 400, 4, History(), 0.0).reason == "AtMaxReplicas"
