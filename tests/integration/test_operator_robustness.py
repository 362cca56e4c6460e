"""Step 2: bad input changes nothing that runs; a resync writes nothing; a crash loses nothing."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from waiting import eventually
from webscale_local.audit import Quiet, mark, operator_writes
from webscale_local.operator_process import OperatorProcess
from webscale_local.swa import G, P, V, app_body, condition, is_ready, replace_spec

from webscale.kube.client import USER_AGENT

pytestmark = pytest.mark.integration
AGENTS = (USER_AGENT, "kopf")

# (patch to spec, where the problem is reported, words the message must contain)
REJECTED_AT_ADMISSION = [
    ({"replicas": {"min": 5, "max": 2}}, "replicas.min must be <= replicas.max"),
    ({"workers": {"mode": "fixed"}}, "workers.count is required when workers.mode is fixed"),
    ({"workers": {"min": 4, "max": 2}}, "workers.min must be <= workers.max"),
    ({"workers": {"mode": "fixed", "count": 20, "max": 8}}, "workers.count must lie within"),
    ({"loadBalancer": {"provider": "service", "strategy": "least-connections"}}, "least-connections needs provider"),
    ({"autoscaling": {"fallback": {"action": "replicas"}}}, "fallback.replicas is required"),
    (
        {"autoscaling": {"target": {"inFlightPerWorker": 3}}},
        "autoscaling.target.inFlightPerWorker needs metrics.requestRateSource loadbalancer",
    ),
    ({"autoscaling": {"target": {"inFlightPerWorker": 0}}}, "spec.autoscaling.target.inFlightPerWorker"),
    # an integer 0 passes the schema's `minimum: 0.001` (cut to an integer for an integer): CEL refuses it
    ({"autoscaling": {"target": {"requestsPerSecondPerWorker": 0}}}, "spec.autoscaling.target.requestsPerSecond"),
    (
        {"autoscaling": {"target": {"requestsPerSecondPerWorker": 0.0009}}},
        "spec.autoscaling.target.requestsPerSecondPerWorker",
    ),
    ({"autoscaling": {"seasonal": {"offset": "30m"}}}, "autoscaling.seasonal.offset must be 0s or between 1h and 168h"),
    (
        {"autoscaling": {"seasonal": {"offset": "1h", "lookahead": "1h"}}},
        "autoscaling.seasonal.lookahead must be shorter than autoscaling.seasonal.offset",
    ),
    (
        {"autoscaling": {"seasonal": {"offset": "24h"}}, "metrics": {"requestRate": "sum(rate(x[{window}]))"}},
        "autoscaling.seasonal.offset needs no metrics.requestRate",
    ),
    (  # 64 polls of 5s are 320s: one millisecond more is refused (CEL compares whole milliseconds)
        {"autoscaling": {"pollingInterval": "5s", "behavior": {"scaleDown": {"rateWindow": "320001ms"}}}},
        "autoscaling.behavior.scaleDown.rateWindow may reach back at most 64 times autoscaling.pollingInterval",
    ),
    (
        {"autoscaling": {"headroom": {"window": "17m"}}},
        "autoscaling.headroom.window may reach back at most 64 times autoscaling.pollingInterval",
    ),
    ({"workers": {"count": 4}}, "workers.count is read only when workers.mode is fixed"),
    ({"autoscaling": {"fallback": {"replicas": 3}}}, "autoscaling.fallback.replicas is read only when action is"),
    (
        {"metrics": {"requestRateSource": "loadbalancer", "requestRate": "sum(rate(x[{window}]))"}},
        "metrics.requestRateSource loadbalancer is not read when metrics.requestRate is set",
    ),
    ({"port": 0}, "spec.port"),
    ({"image": ""}, "spec.image"),
    ({"loadBalancer": {"strategy": "random"}}, "spec.loadBalancer.strategy"),
    ({"autoscaling": {"pollingInterval": "soon"}}, "spec.autoscaling.pollingInterval"),
    ({"autoscaling": {"tolerance": 2}}, "spec.autoscaling.tolerance"),
    ({"resources": {"cpu": "lots"}}, "spec.resources.cpu"),
    ({"state": {"redisURL": "http://not-redis"}}, "spec.state.redisURL"),
]
MARKED_INVALID = [
    ({"resources": {"cpu": "2", "limits": {"cpu": "1"}}}, "spec.resources.cpu: request 2 is above"),
    ({"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}, "spec.env[1] (A): duplicate variable"),
    ({"env": [{"name": "WEB_CONCURRENCY", "value": "64"}]}, "spec.env[0] (WEB_CONCURRENCY): set by the operator"),
    (
        {"env": [{"name": "B", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]},
        "give value or valueFrom, not both",
    ),
]


@pytest.fixture()
def running_app(api_client, namespace, operator, swa):
    apps = client.AppsV1Api(api_client)
    # autoscaling off: this Prometheus-less cluster would otherwise report its outage in status,
    # which is a real change (see tests/e2e); here only the reconciler is under test
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body(autoscaling={"mode": "off"}))
    eventually(lambda: is_ready(swa, namespace, "shop"), 60, "Ready")
    return apps.read_namespaced_deployment("shop", namespace)


def _replace_spec(swa, namespace: str, spec: dict) -> None:
    replace_spec(swa, namespace, "shop", spec)


def test_invalid_specs_are_refused_and_leave_the_deployment_alone(api_client, namespace, swa, running_app):
    apps = client.AppsV1Api(api_client)
    good = app_body(autoscaling={"mode": "off"})["spec"]
    before = running_app.metadata.resource_version
    for bad, message in REJECTED_AT_ADMISSION:
        with pytest.raises(ApiException) as refused:
            _replace_spec(swa, namespace, {**good, **bad})
        assert refused.value.status == 422, bad
        assert message in json.loads(refused.value.body)["message"], (bad, refused.value.body)
    for bad, message in MARKED_INVALID:
        _replace_spec(swa, namespace, {**good, **bad})
        invalid = eventually(
            lambda m=message: (
                (c := condition(swa, namespace, "shop", "Invalid"))
                and c["status"] == "True"
                and m in c["message"]
                and c
            ),
            30,
            f"Invalid=True saying {message!r}",
        )
        assert invalid["reason"] == "InvalidSpec"
        _replace_spec(swa, namespace, good)
        eventually(lambda: condition(swa, namespace, "shop", "Invalid")["status"] == "False", 30, "Invalid=False")
    assert apps.read_namespaced_deployment("shop", namespace).metadata.resource_version == before
    events = client.CoreV1Api(api_client).list_namespaced_event(namespace).items
    warnings = [e for e in events if e.reason == "InvalidSpec" and e.type == "Warning"]
    assert len(warnings) >= len(MARKED_INVALID)


def test_noop_resync_makes_no_write(cluster, namespace, running_app, operator):
    # the rollout's last status write has landed: no write for two resync periods (of 2 s)
    quiet = Quiet(cluster.audit_log, seconds=4.0, agents=AGENTS)
    eventually(quiet.reached, 60, "the operator's writes after the rollout to stop", interval=0.5)
    since = mark(cluster.audit_log)
    checked_before = operator.metric("webscale_reconciles_total", outcome="unchanged")
    eventually(
        lambda: operator.metric("webscale_reconciles_total", outcome="unchanged") - checked_before >= 3,
        30,
        "three resyncs of the app (unchanged reconciles)",
    )
    writes = operator_writes(cluster.audit_log, since, agents=AGENTS, namespace=namespace)
    assert writes == [], [(w["verb"], w["requestURI"]) for w in writes]


def test_operator_killed_mid_way_converges_without_duplicates(
    cluster, api_client, namespace, swa, crd_installed, tmp_path
):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    first = OperatorProcess(cluster, tmp_path / "first.log").start()
    try:
        for i in range(4):
            # 8 pods fit the 3 nodes; provider service: the app's own children only
            small = app_body(
                f"app{i}", resources={"cpu": "250m", "memory": "64Mi"}, loadBalancer={"provider": "service"}
            )
            swa.create_namespaced_custom_object(G, V, namespace, P, small)
        eventually(lambda: apps.list_namespaced_deployment(namespace).items, 30, "a first Deployment")
        first.kill()
    finally:
        first.stop()
    second = OperatorProcess(cluster, tmp_path / "second.log").start()
    try:
        for i in range(4):
            eventually(
                lambda n=f"app{i}": is_ready(swa, namespace, n),
                60,
                f"app{i} Ready",
            )
        deployments = sorted(d.metadata.name for d in apps.list_namespaced_deployment(namespace).items)
        services = sorted(s.metadata.name for s in core.list_namespaced_service(namespace).items)
        assert deployments == [f"app{i}" for i in range(4)]
        assert services == sorted([f"app{i}" for i in range(4)] + [f"app{i}-pods" for i in range(4)])
        assert len(apps.list_namespaced_replica_set(namespace).items) == 4
        assert len(core.list_namespaced_pod(namespace).items) == 8
    finally:
        second.stop()


def test_complete_scaling_lever_settings_are_admitted(namespace, swa, running_app):
    """The admission rules of the in-flight signal, the seasonal prior and the windows over the remembered
    polls refuse only what is incomplete or out of reach."""
    good = app_body(autoscaling={"mode": "off"})["spec"]
    levers = {
        "autoscaling": {
            "mode": "off",
            "target": {"inFlightPerWorker": 4},
            "seasonal": {"offset": "24h", "lookahead": "10m", "levelWindow": "2h"},
        },
        "metrics": {"requestRateSource": "loadbalancer"},
    }
    _replace_spec(swa, namespace, {**good, **levers})
    stored = swa.get_namespaced_custom_object(G, V, namespace, P, "shop")["spec"]["autoscaling"]
    assert stored["target"]["inFlightPerWorker"] == 4
    assert stored["seasonal"] == {"offset": "24h", "lookahead": "10m", "levelWindow": "2h"}
    # windows of exactly the 64 remembered polls; a long headroom window is not read while headroom is off
    windows = {
        "mode": "off",
        "pollingInterval": "5s",
        "behavior": {"scaleDown": {"rateWindow": "320000ms"}},
        "headroom": {"quantile": None, "window": "1h"},
    }
    _replace_spec(swa, namespace, {**good, "autoscaling": windows})
    stored = swa.get_namespaced_custom_object(G, V, namespace, P, "shop")["spec"]["autoscaling"]
    assert stored["behavior"]["scaleDown"]["rateWindow"] == "320000ms"
    assert stored["headroom"].get("quantile") is None and stored["headroom"]["window"] == "1h"
