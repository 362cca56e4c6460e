"""The scaling loop end to end: real load on real app processes, a real Prometheus, the operator.

A ScaledWebApp's Deployment runs kwok pods (Ready, but they run nothing); the app's
traffic is served by two real sample-app processes on 127.0.0.1 that Prometheus scrapes
every second as static targets labelled like the app's pods (see conftest.py). A bounded,
paced load generator drives them, and the operator (tick 0.5 s, 1 s scrape interval) reads
the request rate and scales the Deployment. Small targets make modest load ask for many
pods: 1 worker per pod at 5 req/s per worker, so 17.5 req/s needs 4 pods.
"""

from __future__ import annotations

import re
import time

import pytest
from scenario import (
    APP,
    FALLBACK_AFTER,
    LOAD_RPS,
    MARGIN,
    NEEDED,
    POLL,
    RATE_SEEN,
    WINDOW,
    app_targets,
    audit_mark,
    load_on,
    operator_writes,
    rate_query,
    replicas_over,
    scaling_spec,
    wait_for_series,
)
from waiting import eventually

from webscale.autoscaling.reasons import REASONS

pytestmark = pytest.mark.e2e


# ---- scaling up and down -------------------------------------------------------------------------


def test_load_scales_up_within_two_polls(namespace, sample_apps, running_app, swa_apps):
    prom = running_app
    with load_on(sample_apps):
        eventually(lambda: (prom.value(rate_query(namespace, APP)) or 0) > RATE_SEEN, 20, "Prometheus to see load")
        seen = time.monotonic()
        eventually(lambda: (swa_apps.replicas(APP) or 0) > 1, 2 * POLL + MARGIN, "the Deployment to scale up")
        reacted = time.monotonic() - seen
        eventually(lambda: swa_apps.replicas(APP) == NEEDED, 20, f"{NEEDED} replicas for {LOAD_RPS} req/s")
        status = eventually(lambda: (s := swa_apps.status(APP)).get("lastScale", {}).get("to") == NEEDED and s, 5)

    print(f"scaled up {reacted:.1f}s after Prometheus showed more than {RATE_SEEN:g} req/s")
    assert reacted <= 2 * POLL + MARGIN
    last = status["lastScale"]
    assert last["from"] < last["to"] <= NEEDED, last
    assert last["to"] == NEEDED and last["reason"] in REASONS, last
    # One line with the numbers: "17.6 req/s needs 4 pods of 1 worker at 5 req/s per worker ...; scaling 2 -> 4"
    assert re.search(r"\d+(\.\d)? req/s needs \d+ pods? of 1 worker at 5 req/s per worker", last["message"]), last
    assert f"scaling {last['from']} -> {last['to']}" in last["message"], last
    assert status["desiredReplicas"] == NEEDED
    assert status["observed"]["requestsPerSecond"] > RATE_SEEN
    ups = sorted(swa_apps.events(APP, "ScaledUp"), key=lambda e: e.metadata.creation_timestamp)
    assert ups and all(e.type == "Normal" and "req/s needs" in e.message for e in ups), ups
    assert "scaling 1 -> " in ups[0].message, [e.message for e in ups]


def test_scale_down_waits_for_the_stabilization_window(sample_apps, running_app, swa_apps):
    with load_on(sample_apps):
        eventually(lambda: (swa_apps.replicas(APP) or 0) >= NEEDED, 30, f"{NEEDED} replicas under load")
    stopped = time.monotonic()
    peak = swa_apps.replicas(APP)

    # The highest recommendation of the last WINDOW seconds is still the loaded one.
    held = replicas_over(swa_apps, APP, WINDOW - 2.0)
    assert min(held) == peak, f"scaled down before the {WINDOW:g}s window passed: {held}"

    eventually(lambda: (swa_apps.replicas(APP) or 0) < peak, WINDOW + 15, "a scale-down once the window passed")
    waited = time.monotonic() - stopped
    print(f"first scale-down {waited:.1f}s after the load stopped (window {WINDOW:g}s)")
    assert waited >= WINDOW - 2.0
    eventually(lambda: swa_apps.replicas(APP) == 1, 20, "replicas.min once the load is gone")
    # The Deployment is scaled first, status written right after.
    last = eventually(lambda: (s := swa_apps.status(APP)["lastScale"])["to"] == 1 and s, 5, "lastScale to 1")
    assert last["reason"] in REASONS and "0 req/s needs" in last["message"], last
    downs = swa_apps.events(APP, "ScaledDown")
    assert downs and all("req/s" in e.message for e in downs), downs


# ---- metrics outage -----------------------------------------------------------------------------


def test_prometheus_outage_holds_replicas_and_recovers(
    namespace, sample_apps, prometheus_factory, autoscaling_operator, swa_apps
):
    prom = prometheus_factory(app_targets(sample_apps, namespace, APP))
    wait_for_series(prom, namespace, APP)
    autoscaling_operator(prom.url)
    # Three pods and no load: with metrics the operator would scale down once the window passed.
    swa_apps.create(APP, scaling_spec(prom.url, replicas={"count": 3}))
    swa_apps.wait_running(APP, 3)

    prom.stop()
    stopped = time.monotonic()
    unavailable = eventually(
        lambda: (c := swa_apps.condition(APP, "MetricsAvailable")) and c["status"] == "False" and c,
        2 * POLL + MARGIN,
        "MetricsAvailable=False",
    )
    assert unavailable["reason"] == "MetricsUnavailable", unavailable
    assert prom.url in unavailable["message"] and "connection refused" in unavailable["message"], unavailable
    warnings = swa_apps.events(APP, "MetricsUnavailable")
    assert len(warnings) == 1 and warnings[0].type == "Warning", warnings
    assert "connection refused" in warnings[0].message

    # Held over several polls, past the point where a scale-down would have come with metrics
    # and past the fallback (after autoscaling.fallback.afterFailures = 3 failed polls).
    held = replicas_over(swa_apps, APP, max(WINDOW, FALLBACK_AFTER * POLL) + 2.0 - (time.monotonic() - stopped))
    assert set(held) == {3}, held
    holding = swa_apps.condition(APP, "ScalingActive")
    assert holding["status"] == "False" and holding["reason"] == "MetricsUnavailableHolding", holding
    assert "fallback hold" in holding["message"], holding

    prom.start()  # same port, same config, same storage
    recovered = eventually(
        lambda: (c := swa_apps.condition(APP, "MetricsAvailable")) and c["status"] == "True" and c,
        20,
        "MetricsAvailable=True after Prometheus is back",
    )
    assert recovered["reason"] == "MetricsRead", recovered
    recoveries = eventually(lambda: swa_apps.events(APP, "MetricsRecovered"), 10, "a MetricsRecovered Event")
    assert len(recoveries) == 1, recoveries  # each writer owns its conditions: no flip-flop
    assert all(e.type == "Normal" and e.message.startswith("metrics are back: ") for e in recoveries), recoveries
    assert "req/s" in recoveries[0].message
    # Scaling resumes: no load, so the three pods go down now that the operator can see it.
    eventually(lambda: (swa_apps.replicas(APP) or 3) < 3, 3 * POLL + MARGIN, "scaling to resume")


# ---- recommend mode -----------------------------------------------------------------------------


def test_recommend_mode_never_writes_the_deployment(
    cluster, namespace, sample_apps, prometheus_factory, autoscaling_operator, swa_apps
):
    prom = prometheus_factory(app_targets(sample_apps, namespace, APP))
    wait_for_series(prom, namespace, APP)
    autoscaling_operator(prom.url)
    swa_apps.create(APP, scaling_spec(prom.url, autoscaling={"mode": "recommend"}))
    swa_apps.wait_running(APP, 1)
    mark = audit_mark(cluster)

    with load_on(sample_apps):
        eventually(
            lambda: (swa_apps.status(APP).get("desiredReplicas") or 0) >= NEEDED,
            30,
            f"status.desiredReplicas to recommend {NEEDED}",
        )
        during = replicas_over(swa_apps, APP, 2 * POLL)

    assert set(during) == {1}, during
    assert swa_apps.replicas(APP) == 1
    writes = operator_writes(cluster, mark, namespace, "deployments", APP)
    assert writes == [], [(w["verb"], w["requestURI"], w["userAgent"]) for w in writes]
    # ... while the same audit log shows the operator writing the recommendation to status.
    status_writes = operator_writes(cluster, mark, namespace, "scaledwebapps", APP)
    assert any(w.get("objectRef", {}).get("subresource") == "status" for w in status_writes), status_writes
    active = eventually(
        lambda: (c := swa_apps.condition(APP, "ScalingActive")) and c["reason"] == "RecommendOnly" and c,
        5,
        "ScalingActive reason RecommendOnly",
    )
    assert "Deployment not changed" in active["message"], active
    status = swa_apps.status(APP)
    assert "lastScale" not in status
    assert swa_apps.events(APP, "ScaledUp") == []


# ---- batching: ten apps cost what one costs -------------------------------------------------------


def operator_polls(prom, since: float, gap: float = 0.25) -> list[tuple[float, list[str]]]:
    """The operator's queries since `since`, grouped into polls (queries less than `gap` apart), each
    with the time of its first query."""
    ours = [(ts, q) for ts, q in prom.query_log() if since <= ts and 'managed_by="webscale"' in q]
    polls: list[tuple[float, list[str]]] = []
    last = float("-inf")
    for ts, query in ours:
        if ts - last > gap:
            polls.append((ts, []))
        polls[-1][1].append(query)
        last = ts
    return polls


def complete_polls(prom, count: int, what: str) -> tuple[list[list[str]], float]:
    """The operator's next `count` whole polls from now, and the seconds from the first to the last.
    A poll is whole when the one after it has begun; the first one seen may have begun before now."""
    start = time.time()

    def whole() -> list[tuple[float, list[str]]] | None:
        seen = operator_polls(prom, start)
        return seen[1 : count + 1] if len(seen) >= count + 2 else None

    polls = eventually(whole, (count + 4) * POLL, what, interval=0.5)
    return [queries for _, queries in polls], polls[-1][0] - polls[0][0]


def test_ten_apps_cost_the_same_queries_per_poll_as_one(
    namespace, sample_apps, prometheus_factory, autoscaling_operator, swa_apps
):
    names = [f"web{i}" for i in range(10)]
    # Every app has its own series: one static target each, all on the same real process.
    targets = [t for name in names for t in app_targets(sample_apps[:1], namespace, name)]
    prom = prometheus_factory(targets)
    for name in names:
        wait_for_series(prom, namespace, name)
    autoscaling_operator(prom.url)
    small = {"resources": {"cpu": "100m", "memory": "32Mi"}, "replicas": {"min": 1, "max": 2}}
    swa_apps.create(names[0], scaling_spec(prom.url, **small))
    swa_apps.wait_running(names[0], 1)
    one, one_span = complete_polls(prom, 4, "four polls of one app")

    for name in names[1:]:
        swa_apps.create(name, scaling_spec(prom.url, **small))
    for name in names[1:]:
        swa_apps.wait_running(name, 1)
    ten, ten_span = complete_polls(prom, 4, "four polls of ten apps")

    print(
        f"1 app: 4 polls in {one_span:.1f}s, {sum(map(len, one))} queries; 10 apps: 4 polls in {ten_span:.1f}s, "
        f"{sum(map(len, ten))} queries"
    )
    per_poll = one[0]
    assert len(per_poll) == 2, per_poll  # request rate (with the recent rate) and CPU, batched
    assert all(poll == per_poll for poll in one), one
    assert all(poll == per_poll for poll in ten), ten  # ten apps: still the same two queries per poll
    # Polls fall on a grid shared by all apps: ten apps are polled as often as one (four polls take
    # three polling intervals either way, give or take less than one).
    assert abs(ten_span - one_span) < POLL, (one_span, ten_span)
