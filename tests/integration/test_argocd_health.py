"""Argo CD's view of a ScaledWebApp: manifests/argocd/health.lua, run by real Lua interpreters (lua5.4, and
lua5.1 as Argo CD's gopher-lua implements it) on objects the operator wrote on the local control plane."""

from __future__ import annotations

import pytest
from argocd_health import health
from waiting import eventually
from webscale_local.swa import IMAGE, G, P, V, app_body
from webscale_local.swa import condition_in as condition

pytestmark = pytest.mark.integration

BASE = {"image": IMAGE, "resources": {"cpu": "1", "memory": "128Mi"}, "replicas": {"min": 1}}
LUAS = ("lua5.4", "lua5.1")


def body(name: str, annotations: dict | None = None, **spec: object) -> dict:
    return app_body(name, annotations, base=BASE, **spec)


def captured(swa, ns: str, name: str, what: str, probe) -> dict:
    """The live object once `probe(obj)` holds (as Argo CD would read it from the API server)."""
    return eventually(lambda: (o := swa.get_namespaced_custom_object(G, V, ns, P, name)) and probe(o) and o, 60, what)


def assert_health(obj: dict, status: str, words: str) -> None:
    for lua in LUAS:
        got, message = health(obj, lua)
        assert (got, words in message) == (status, True), (lua, got, message)


def test_health_of_captured_objects(namespace, operator, swa, dead_prometheus_url):
    off = {"mode": "off"}  # no metrics needed: Ready alone decides
    # Progressing: the object as created, before any status
    created = swa.create_namespaced_custom_object(G, V, namespace, P, body("fresh", autoscaling=off))
    assert "status" not in created
    assert_health(created, "Progressing", "waiting for the operator")

    # Healthy: every wanted pod ready (kwok makes the pods Ready)
    healthy = captured(swa, namespace, "fresh", "Ready=True", lambda o: condition(o, "Ready").get("status") == "True")
    assert_health(healthy, "Healthy", "pods ready")

    # Progressing: a new generation the operator has not observed yet (the old status, a newer spec)
    newer = {**healthy, "metadata": {**healthy["metadata"], "generation": healthy["metadata"]["generation"] + 1}}
    assert_health(newer, "Progressing", f"observe generation {newer['metadata']['generation']}")

    # Progressing: pods that cannot be scheduled (64 CPUs per pod; the nodes have 4)
    swa.create_namespaced_custom_object(
        G, V, namespace, P, body("huge", resources={"cpu": "64", "memory": "128Mi"}, autoscaling=off)
    )
    pending = captured(swa, namespace, "huge", "Ready=False", lambda o: condition(o, "Ready").get("status") == "False")
    assert_health(pending, "Progressing", "0/1 pods ready")

    # Degraded: a spec the schema accepts and the operator refuses (a CPU request above its limit)
    swa.create_namespaced_custom_object(
        G, V, namespace, P, body("bad", resources={"cpu": "2", "memory": "128Mi", "limits": {"cpu": "1"}})
    )
    invalid = captured(swa, namespace, "bad", "Invalid=True", lambda o: condition(o, "Invalid").get("status") == "True")
    assert_health(invalid, "Degraded", condition(invalid, "Invalid")["message"])

    # Degraded: Prometheus unreachable (a closed loopback port), replicas held
    spec = {"metrics": {"prometheus": {"url": dead_prometheus_url}}, "autoscaling": {"pollingInterval": "5s"}}
    swa.create_namespaced_custom_object(G, V, namespace, P, body("blind", **spec))

    def blind_probe(o: dict) -> bool:
        ready, metrics = condition(o, "Ready").get("status"), condition(o, "MetricsAvailable").get("status")
        return ready == "True" and metrics == "False"

    blind = captured(swa, namespace, "blind", "Ready=True and MetricsAvailable=False", blind_probe)
    assert_health(blind, "Degraded", "metrics unavailable")

    # Suspended: the paused annotation
    swa.create_namespaced_custom_object(
        G, V, namespace, P, body("held", annotations={"webscale.dev/paused": "true"}, autoscaling=off)
    )
    held = captured(swa, namespace, "held", "a status", lambda o: "status" in o)
    assert_health(held, "Suspended", "paused")
