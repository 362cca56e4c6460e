"""decide(): the rules around the reasons - status fields, workers, rolling updates, modes,
restarts, failures and recovery, per-direction tolerance, burst hold and the recent rate."""

from __future__ import annotations

import pytest
from test_scaling import HPA_DOWN_WINDOW, NO_DOWN_WINDOW, NOW, decide_now, make_spec, reading, recommended, running

from webscale.autoscaling.decide import History, decide


def test_decision_carries_what_status_needs():
    decision = decide_now(make_spec(), reading(1310.5, cpu=3.0, pods=2), running(2), History())
    assert decision.workers_per_pod == 2
    assert decision.capacity_rps == 200
    assert decision.recommended_replicas == 14
    assert decision.observed_rps == 1310.5
    assert decision.cpu_utilization == 75
    assert decision.signal == "requestRate"
    assert decision.metrics_available and decision.burst and decision.scaled
    assert not decision.limited
    assert decision.history.burst_until == NOW + 60


def test_workers_follow_the_spec():
    spec = make_spec(cpu="4", workers={"max": 3})
    decision = decide_now(spec, reading(600), running(2, workers=2), History())
    assert decision.workers_per_pod == 3
    assert decision.recommended_replicas == 4  # 600 / (3 x 50)
    assert decision.capacity_rps == 200  # the running pods still have 2 workers


def test_rolling_update_surge_does_not_inflate_replicas():
    """kubernetes#72775: during a rolling update the surge pod (maxSurge 1) exists next to the 4
    old ones. The recommendation follows load, not current x ratio over every pod that exists."""
    spec = make_spec()
    # 400 req/s is exactly 4 pods' target; a 5th (surge) pod is starting and not ready.
    starting = decide_now(spec, reading(400, cpu=5.6, pods=4), running(4, ready=4), History())
    # The surge pod became ready before an old one went away: 5 ready pods share the same load.
    overlapping = decide_now(spec, reading(400, cpu=5.6, pods=5), running(4, ready=5), History())
    for decision in (starting, overlapping):
        assert decision.replicas == 4
        assert decision.recommended_replicas == 4


def test_starting_pods_are_not_capacity():
    decision = decide_now(make_spec(), reading(390), running(4, ready=2), History())
    assert decision.capacity_rps == 200
    assert decision.replicas == 4  # the 2 starting pods will carry the load: no extra pods


def test_recommend_mode_records_no_scale_event():
    spec = make_spec({"mode": "recommend"})
    decision = decide_now(spec, reading(310.5), running(2), History())
    assert decision.replicas == 4
    assert decision.history.events == ()
    auto = decide_now(make_spec(), reading(310.5), running(2), History())
    assert [(e.from_replicas, e.to_replicas) for e in auto.history.events] == [(2, 4)]


def test_a_fresh_history_does_not_scale_down_at_once():
    """After an operator restart the current size counts as a recommendation (as the HPA does)."""
    spec = make_spec(HPA_DOWN_WINDOW)
    first = decide_now(spec, reading(150), running(6), History())
    assert (first.replicas, first.reason) == (6, "ScaleDownStabilized")
    still = decide(spec, reading(150, at=NOW + 299), running(6), first.history, NOW + 299)
    assert (still.replicas, still.reason) == (6, "ScaleDownStabilized")
    # After the 300s window the HPA's default rate (-100 % per 15s) removes the surplus at once.
    later = decide(spec, reading(150, at=NOW + 301), running(6), still.history, NOW + 301)
    assert (later.replicas, later.reason) == (2, "RequestRateBelowTarget")


def test_recovery_after_failures_is_automatic():
    spec = make_spec()
    history = History()
    for i in range(5):
        history = decide(spec, reading(error="down"), running(4), history, NOW + 15 * i).history
    assert history.failures == 5
    back = decide(spec, reading(610), running(4), history, NOW + 90)
    assert (back.replicas, back.reason, back.history.failures) == (7, "RequestRateAboveTarget", 0)
    assert back.metrics_available


def test_fallback_never_lowers_replicas():
    spec = make_spec({"fallback": {"action": "replicas", "replicas": 3}})
    decision = decide_now(spec, reading(error="no series"), running(9), History(failures=7))
    assert (decision.replicas, decision.reason) == (9, "FallbackReplicas")


def test_fallback_does_not_fight_a_higher_cpu_need():
    """keda#6659: the request rate is gone but CPU still reads high: CPU wins over the fallback."""
    spec = make_spec({"fallback": {"action": "replicas", "replicas": 3}})
    decision = decide_now(spec, reading(cpu=11.2, pods=4), running(4), History(failures=2))
    assert (decision.replicas, decision.reason) == (8, "CPUAboveTarget")
    assert not decision.metrics_available
    assert decision.message == (
        "metrics unavailable (the reading has no request rate): 3+ failed polls, fallback.replicas=3 "
        "(never below the current); CPU at 140% of request needs 8 pods; scaling 4 -> 8"
    )


def test_cpu_signal_is_skipped_without_target_request_or_reading():
    no_target = make_spec({"target": {"cpuUtilization": None}})
    assert decide_now(no_target, reading(100, cpu=9.0, pods=2), running(2), History()).signal == "requestRate"
    no_request = decide_now(make_spec(), reading(100, cpu=9.0, pods=2), running(2, cpu=None), History())
    assert no_request.cpu_utilization is None
    no_reading = decide_now(make_spec(), reading(100), running(2), History())
    assert no_reading.cpu_utilization is None


def test_per_direction_tolerance():
    spec = make_spec({"behavior": {"scaleUp": {"tolerance": 0.02}, "scaleDown": {"tolerance": 0.3}}})
    assert decide_now(spec, reading(420), running(4), History()).replicas == 5
    down = decide_now(spec, reading(290), running(4), recommended((400, 9)))
    assert (down.replicas, down.reason) == (4, "WithinTolerance")


def test_burst_blocks_scale_down_until_hold_expires():
    spec = make_spec({**NO_DOWN_WINDOW, "headroom": {"quantile": None}})  # the burst's 900 req/s is in any quantile
    burst = decide_now(spec, reading(900), running(2), History())
    assert (burst.replicas, burst.reason) == (9, "BurstMode")
    held = decide(spec, reading(200, at=NOW + 45), running(9), burst.history, NOW + 45)
    assert (held.replicas, held.reason) == (9, "BurstMode")
    free = decide(spec, reading(200, at=NOW + 75), running(9), held.history, NOW + 75)
    assert (free.replicas, free.reason) == (2, "RequestRateBelowTarget")  # -100 % per 15s by default
    assert free.history.burst_until is None


def test_recent_rate_starts_and_sizes_a_burst():
    """The rate-window reading still shows 300 req/s; the last two scrapes already show 900."""
    decision = decide(make_spec(), reading(300), running(2), History(), NOW, recent_rps=900)
    assert (decision.replicas, decision.reason) == (9, "BurstMode")
    assert decision.observed_rps == 300
    assert decision.message == (
        "900 req/s recently (300 req/s over the rate window) needs 9 pods of 2 workers at 50 req/s per worker "
        "(capacity now 200 req/s on 2 ready pods); scaling 2 -> 9, burst: load is 4.5x capacity (threshold 2x), "
        "scaling at once; no scale-down for 60s"
    )


@pytest.mark.parametrize("recent", [None, 100.0, 350.0, 399.0])
def test_recent_rate_below_the_burst_threshold_changes_nothing(recent):
    """Below the burst threshold the recent rate sizes nothing (only the trend and burst mode read it)."""
    with_recent = decide(make_spec(), reading(300), running(2), History(), NOW, recent_rps=recent)
    without = decide_now(make_spec(), reading(300), running(2), History())
    assert (with_recent.replicas, with_recent.reason, with_recent.message) == (
        without.replicas,
        without.reason,
        without.message,
    )
    assert with_recent.recommended_replicas == without.recommended_replicas == 3
    assert with_recent.sized_by == without.sized_by == "window"
    assert with_recent.recent_rps == recent
