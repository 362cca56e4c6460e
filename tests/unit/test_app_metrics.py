"""The per-app series of the operator's /metrics (autoscaling.app_metrics): the pure parts (reason
labels from a closed set, the time under capacity), and, through the act step against the fake client,
that each app gets one bounded series set that goes when the app is forgotten or leadership is lost."""

from __future__ import annotations

import dataclasses

import pytest
from orchestration import NS, SETTINGS, World, swa
from test_act import busy, running

from webscale import telemetry
from webscale.api.observation import Observation
from webscale.api.ref import AppRef
from webscale.autoscaling import reasons
from webscale.autoscaling.act import Autoscaler
from webscale.autoscaling.app_metrics import (
    KNOWN_REASONS,
    OTHER,
    AppMetrics,
    AppSample,
    reason_label,
    sample_of,
    under_capacity_seconds,
)
from webscale.autoscaling.zero import ZERO_REASONS

NOW = 1_800_000_000.0
SHOP = AppRef(NS, "shop")


def value(name: str, ref: AppRef = SHOP, **labels: str) -> float | None:
    return telemetry.REGISTRY.get_sample_value(name, {"namespace": ref.namespace, "app": ref.name, **labels})


def app_series(ref: AppRef) -> list[tuple[str, dict[str, str]]]:
    """Every webscale_app_* sample of one app in the registry."""
    out = []
    for family in telemetry.REGISTRY.collect():
        for s in family.samples:
            ours = s.labels.get("namespace") == ref.namespace and s.labels.get("app") == ref.name
            if ours and s.name.startswith("webscale_app_") and not s.name.endswith("_created"):
                out.append((s.name, s.labels))
    return out


def sample(offered: float | None, capacity: float = 100.0, at: float = NOW, interval: float = 15.0) -> AppSample:
    return AppSample(
        desired=2, ready=2, capacity_rps=capacity, offered_rps=offered, reason="X", at=at, interval=interval
    )


@pytest.fixture()
def world() -> World:
    w = World(swa(autoscaling={"target": {"cpuUtilization": None}}))
    running(w)
    return w


@pytest.fixture()
def scaler(world: World):
    s = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    s.forget(SHOP)  # series other tests' act steps left for the same app
    yield s
    s.app_metrics.forget_all()  # the registry is the process's: leave nothing to the next test


def test_reason_labels_are_the_closed_set_and_anything_else_is_other():
    assert set(reasons.REASONS) | set(ZERO_REASONS) == KNOWN_REASONS
    for reason in KNOWN_REASONS:
        assert reason_label(reason) == reason
    assert reason_label('a user\'s text {with} "quotes"') == OTHER
    assert reason_label("") == OTHER


@pytest.mark.parametrize(
    ("previous", "s", "added"),
    [
        (None, sample(400.0, at=NOW), 0.0),  # the first decision: no interval yet
        (NOW - 15, sample(400.0), 15.0),  # above capacity for one interval
        (NOW - 15, sample(100.0), 0.0),  # at capacity is not under it
        (NOW - 15, sample(99.0), 0.0),
        (NOW - 15, sample(None), 0.0),  # no reading: not known to be under capacity
        (NOW - 600, sample(400.0), 15.0),  # a gap (restart, leadership moved) counts one interval at most
        (NOW - 5, sample(400.0), 5.0),  # a spec change polled early: the time since
        (NOW - 15, sample(1.0, capacity=0.0), 15.0),  # at zero with load: under capacity (cold start)
        (NOW - 15, sample(0.0, capacity=0.0), 0.0),  # at zero without load: not
        (NOW + 1, sample(400.0), 0.0),  # a clock step back never subtracts
    ],
)
def test_under_capacity_seconds(previous, s, added):
    assert under_capacity_seconds(previous, s) == added


def test_a_decision_s_sample_reads_its_numbers(world, scaler):
    decision = scaler.act(world.app(), busy(400.0), NOW)
    assert decision is not None
    s = sample_of(decision, 2, NOW, 15.0)
    assert (s.desired, s.ready, s.capacity_rps, s.offered_rps) == (8, 2, 100.0, 400.0)
    assert s.reason == decision.reason == reasons.BURST_MODE  # 4x capacity
    assert s.under_capacity
    assert sample_of(dataclasses.replace(decision, reason="Made up"), 2, NOW, 15.0).reason == OTHER


def test_the_act_step_exports_the_app_s_series(world, scaler):
    scaler.act(world.app(), busy(400.0), NOW)  # 2 ready pods x 1 worker x 50 req/s: 100 req/s of capacity
    assert value("webscale_app_desired_replicas") == 8
    assert value("webscale_app_ready_replicas") == 2
    assert value("webscale_app_capacity_requests_per_second") == 100
    assert value("webscale_app_offered_requests_per_second") == 400
    assert value("webscale_app_decisions_total", reason=reasons.BURST_MODE) == 1
    assert value("webscale_app_under_capacity_seconds_total") == 0  # born at 0: the series exists
    world.sync()
    scaler.act(world.app(), busy(400.0), NOW + 15)  # the pods are not ready yet: still 100 req/s of capacity
    assert value("webscale_app_under_capacity_seconds_total") == 15
    failed = Observation.failed(NOW + 30, "Prometheus unreachable")
    decision = scaler.act(world.app(), failed, NOW + 30)
    assert decision is not None and decision.reason == reasons.METRICS_UNAVAILABLE
    assert value("webscale_app_offered_requests_per_second") is None  # no reading: no offered load
    assert value("webscale_app_under_capacity_seconds_total") == 15
    assert value("webscale_app_decisions_total", reason=reasons.METRICS_UNAVAILABLE) == 1


def test_forgetting_an_app_removes_every_series_and_only_its_own(world, scaler):
    other = AppRef("other-ns", "cart")
    scaler.app_metrics.record(other, sample(10.0))
    scaler.act(world.app(), busy(400.0), NOW)
    scaler.act(world.app(), Observation.failed(NOW + 15, "down"), NOW + 15)
    names = {name for name, _ in app_series(SHOP)}
    assert names == {
        "webscale_app_desired_replicas",
        "webscale_app_ready_replicas",
        "webscale_app_capacity_requests_per_second",
        "webscale_app_decisions_total",
        "webscale_app_decision_reason",
        "webscale_app_under_capacity_seconds_total",
    }
    assert len([1 for name, _ in app_series(SHOP) if name == "webscale_app_decisions_total"]) == 2
    scaler.forget(SHOP)
    assert app_series(SHOP) == []
    assert scaler.app_metrics.apps() == {other}
    assert value("webscale_app_offered_requests_per_second", other) == 10
    scaler.app_metrics.forget_all()  # leadership lost: the new leader exports them
    assert app_series(other) == []
    assert scaler.app_metrics.apps() == set()


def test_an_app_s_series_stay_bounded_whatever_its_reasons():
    """Many decisions with every reason and arbitrary text: at most one series per metric and one
    decisions series per known reason (+ Other)."""
    metrics = AppMetrics()
    ref = AppRef(NS, "bounded")
    try:
        for i in range(200):
            reason = [*sorted(KNOWN_REASONS), f"free text {i}"][i % (len(KNOWN_REASONS) + 1)]
            metrics.record(ref, dataclasses.replace(sample(float(i % 300)), reason=reason_label(reason), at=NOW + i))
        series = app_series(ref)
        decisions = [labels["reason"] for name, labels in series if name == "webscale_app_decisions_total"]
        assert sorted(decisions) == sorted({*KNOWN_REASONS, OTHER})
        assert len(series) == 6 + len(KNOWN_REASONS) + 1  # one reason series: the last one
    finally:
        metrics.forget(ref)
    assert app_series(ref) == []


def test_the_reason_series_follows_the_last_decision():
    metrics = AppMetrics()
    ref = AppRef(NS, "reasoned")

    def current() -> list[str]:
        return [labels["reason"] for name, labels in app_series(ref) if name == "webscale_app_decision_reason"]

    try:
        metrics.record(ref, dataclasses.replace(sample(400.0), reason=reasons.BURST_MODE))
        assert current() == [reasons.BURST_MODE]
        metrics.record(ref, dataclasses.replace(sample(80.0, at=NOW + 15), reason=reasons.WITHIN_TOLERANCE))
        assert current() == [reasons.WITHIN_TOLERANCE]
        assert value("webscale_app_decision_reason", ref, reason=reasons.WITHIN_TOLERANCE) == 1
        metrics.woken(ref, 1, "Waking")
        assert current() == ["Waking"]
        assert value("webscale_app_decisions_total", ref, reason=reasons.BURST_MODE) == 1  # the counts stay
    finally:
        metrics.forget(ref)
    assert app_series(ref) == []


def test_a_wake_counts_as_a_decision():
    metrics = AppMetrics()
    ref = AppRef(NS, "sleepy")
    try:
        metrics.woken(ref, 1, "Waking")
        assert value("webscale_app_desired_replicas", ref) == 1
        assert value("webscale_app_decisions_total", ref, reason="Waking") == 1
        assert metrics.apps() == {ref}
    finally:
        metrics.forget(ref)
    assert app_series(ref) == []
