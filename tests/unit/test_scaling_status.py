"""Decision -> status and Events: explained, and written only when a reader learns something."""

from __future__ import annotations

from webscale.api.conditions import get_condition
from webscale.api.models import parse_spec
from webscale.api.observation import Observation
from webscale.autoscaling.decide import Current, History, decide
from webscale.autoscaling.status import decision_status, meaningful, paused_status

SPEC = parse_spec({"image": "a", "resources": {"cpu": "2"}, "replicas": {"min": 2, "max": 10}})
NOW = 1_000_000.0


def _decide(obs: Observation, replicas: int = 2):
    return decide(SPEC, obs, Current(replicas, replicas, 2, 2.0), History(), NOW)


def test_scale_up_sets_last_scale_and_a_normal_event():
    obs = Observation(at=NOW, requests_per_second=500.0, cpu_cores=1.0, pods_reporting=2)
    decision = _decide(obs)
    assert decision.scaled and decision.replicas > 2
    status, events = decision_status({}, decision, obs, "auto", True, NOW, 3)
    assert status["lastScale"]["from"] == 2 and status["lastScale"]["to"] == decision.replicas
    assert status["lastScale"]["reason"] == decision.reason
    assert status["observed"]["requestsPerSecond"] == 500.0
    assert [e.reason for e in events] == ["ScaledUp"]
    assert "500" in events[0].message
    assert get_condition(status["conditions"], "ScalingActive")["status"] == "True"
    assert get_condition(status["conditions"], "MetricsAvailable")["status"] == "True"


def test_outage_warns_once_and_recovery_says_so():
    bad = Observation.failed(NOW, "Prometheus unreachable at http://p:9090: connection refused")
    decision = _decide(bad)
    assert decision.replicas == 2  # a failure never lowers replicas
    status, events = decision_status({}, decision, bad, "auto", False, NOW, 1)
    assert [(e.type, e.reason) for e in events] == [("Warning", "MetricsUnavailable")]
    assert "connection refused" in events[0].message
    assert "observed" not in status  # the last good reading stays in status
    again, events2 = decision_status(status, decision, bad, "auto", False, NOW + 15, 1)
    assert events2 == [] and not meaningful(status, again)
    good = Observation(at=NOW, requests_per_second=200.0, cpu_cores=1.0, pods_reporting=2)
    _, events3 = decision_status(again, _decide(good), good, "auto", False, NOW + 30, 1)
    assert [e.reason for e in events3] == ["MetricsRecovered"]


def test_recommend_mode_says_the_deployment_was_not_changed():
    obs = Observation(at=NOW, requests_per_second=900.0)
    status, events = decision_status({}, _decide(obs), obs, "recommend", False, NOW, 1)
    active = get_condition(status["conditions"], "ScalingActive")
    assert active["reason"] == "RecommendOnly" and "Deployment not changed" in active["message"]
    assert status["desiredReplicas"] > 2 and "lastScale" not in status and events == []


def test_observed_time_alone_is_not_worth_a_write():
    obs = Observation(at=NOW, requests_per_second=200.0)
    status, _ = decision_status({}, _decide(obs), obs, "auto", False, NOW, 1)
    later, _ = decision_status(status, _decide(obs), obs, "auto", False, NOW + 15, 1)
    assert later["observed"]["at"] != status["observed"]["at"]
    assert not meaningful(status, later)
    busier = Observation(at=NOW, requests_per_second=230.0)
    assert meaningful(status, decision_status(status, _decide(busier), busier, "auto", False, NOW + 30, 1)[0])


def test_paused():
    cond = get_condition(paused_status({}, NOW, 1)["conditions"], "ScalingActive")
    assert (cond["status"], cond["reason"]) == ("False", "Paused")


def test_polls_fall_on_a_shared_grid():
    from webscale.autoscaling.act import due_now

    assert due_now(float("-inf"), 100.0, 15)  # never polled: now
    assert not due_now(91.0, 100.0, 15)  # 91 and 100 are in the same 15 s slot (90..105)
    assert due_now(91.0, 105.0, 15)  # next slot: due, whenever the app was created
    assert due_now(104.9, 105.0, 15)  # an app polled just before the boundary joins the batch
