"""webscale_local.histogram and webscale_local.audit: what bench/scale.py reports is computed right."""

from __future__ import annotations

import json
import math

import pytest
from webscale_local import audit
from webscale_local.audit import AuditReader
from webscale_local.histogram import quantile, quantiles

LAG = "webscale_decision_lag_seconds"


def scrape(counts: dict[str, float]) -> dict:
    return {(f"{LAG}_bucket", (("le", le),)): value for le, value in counts.items()}


def test_quantile_interpolates_inside_the_bucket_like_histogram_quantile():
    # 100 observations: 50 up to 0.5 s, 40 more up to 1 s, 10 more up to 2 s
    cumulative = [(0.5, 50.0), (1.0, 90.0), (2.0, 100.0), (math.inf, 100.0)]
    assert quantile(cumulative, 0.5) == pytest.approx(0.5)
    assert quantile(cumulative, 0.7) == pytest.approx(0.75)
    assert quantile(cumulative, 0.99) == pytest.approx(1.9)


def test_quantile_beyond_the_last_bound_reports_that_bound_and_empty_is_nan():
    assert quantile([(1.0, 0.0), (60.0, 1.0), (math.inf, 10.0)], 0.99) == 60.0
    assert math.isnan(quantile([(1.0, 0.0), (math.inf, 0.0)], 0.5))


def test_quantiles_count_only_what_was_observed_between_the_scrapes():
    before = scrape({"1.0": 1000.0, "5.0": 1000.0, "+Inf": 1000.0})  # slow start, before the window
    after = scrape({"1.0": 1100.0, "5.0": 1100.0, "+Inf": 1100.0})
    lag = quantiles(before, after, LAG)
    assert lag[0.5] == pytest.approx(0.5) and lag[0.99] == pytest.approx(0.99)


def entry(stage: str, verb: str, agent: str, resource: str, uri: str = "/x") -> str:
    return json.dumps(
        {
            "stage": stage,
            "verb": verb,
            "userAgent": agent,
            "requestURI": uri,
            "objectRef": {"resource": resource, "namespace": "bench", "name": "a"},
            "responseStatus": {"code": 200},
            "requestReceivedTimestamp": "2026-11-29T16:00:00.000000Z",
        },
        separators=(",", ":"),  # as kube-apiserver writes it
    )


def test_audit_reader_keeps_one_agent_once_per_request_in_the_window(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text(entry("ResponseComplete", "get", "webscale-operator/0.1 (a)", "pods") + "\n")
    reader = AuditReader(log)
    mark = reader.offset()
    lines = [
        entry("ResponseStarted", "patch", "webscale-operator/0.1 (a)", "services"),
        entry(
            "ResponseComplete", "patch", "webscale-operator/0.1 (a)", "services", "/s?fieldManager=webscale&force=true"
        ),
        entry("ResponseComplete", "patch", "kube-controller-manager/v1.33", "services"),
        entry("ResponseStarted", "watch", "webscale-operator/0.1 (a)", "pods"),
        entry("ResponseComplete", "watch", "webscale-operator/0.1 (a)", "pods"),
    ]
    with open(log, "a") as f:
        f.write("\n".join(lines) + "\n")
    got = reader.requests(mark, agents=("webscale-operator/",))
    assert [(r.verb, r.resource, r.manager, r.write) for r in got] == [
        ("patch", "services", "webscale", True),
        ("watch", "pods", "", False),
    ]


def test_operator_writes_are_the_operators_completed_writes_since_the_mark(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text(entry("ResponseComplete", "patch", "webscale-operator/0.1 (a)", "deployments") + "\n")
    since = audit.mark(log)
    lines = [
        entry("ResponseComplete", "patch", "webscale-operator/0.1 (a)", "deployments"),
        entry("ResponseStarted", "patch", "webscale-operator/0.1 (a)", "deployments"),  # counted once
        entry("ResponseComplete", "get", "webscale-operator/0.1 (a)", "deployments"),  # a read
        entry("ResponseComplete", "update", "kopf/1.37", "leases"),
        entry("ResponseComplete", "patch", "kube-controller-manager/v1.33", "deployments"),
    ]
    with open(log, "a") as f:
        f.write("\n".join(lines) + "\n")
    assert len(audit.entries(log, since)) == 5
    assert [e["verb"] for e in audit.operator_writes(log, since)] == ["patch", "update"]
    assert [e["verb"] for e in audit.operator_writes(log, since, leases=False)] == ["patch"]
    assert audit.operator_writes(log, since, agents=("kopf",), resource="deployments") == []
    assert audit.operator_writes(log, since, namespace="elsewhere") == []


def test_quiet_restarts_its_clock_at_each_new_write(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text("")
    quiet = audit.Quiet(log, seconds=60)
    assert not quiet.reached()
    quiet.since -= 61  # as if a minute had passed without a write
    assert quiet.reached()
    with open(log, "a") as f:
        f.write(entry("ResponseComplete", "patch", "webscale-operator/0.1 (a)", "deployments") + "\n")
    assert not quiet.reached()
