"""The load-balancer tier's status part: address, HAProxy pods, the LoadBalancerReady condition."""

from __future__ import annotations

import pytest

from webscale.api.app import App
from webscale.api.crd import PRINTER_COLUMNS
from webscale.api.status import ScaledWebAppStatus
from webscale.reconcile.lb_status import CONDITION, load_balancer_status, service_address

NOW = "2026-11-29T16:00:00Z"


def app(**lb) -> App:
    body = {
        "metadata": {"name": "shop", "namespace": "default", "generation": 3},
        "spec": {"image": "x", "loadBalancer": lb},
    }
    return App.from_body(body)


def service(kind: str = "ClusterIP", ip: str | None = "10.96.0.7", ingress: list | None = None) -> dict:
    svc: dict = {"spec": {"type": kind, "clusterIP": ip}}
    if ingress is not None:
        svc["status"] = {"loadBalancer": {"ingress": ingress}}
    return svc


def haproxy(ready: int, replicas: int = 2) -> dict:
    return {"status": {"replicas": replicas, "readyReplicas": ready}}


def condition(conditions: list[dict]) -> tuple[str, str]:
    (c,) = [c for c in conditions if c["type"] == CONDITION]
    return c["status"], c["reason"]


@pytest.mark.parametrize(
    ("svc", "dep", "expected", "address"),
    [
        (service(), haproxy(2), ("True", "HAProxyReady"), "10.96.0.7"),
        (service(), haproxy(1), ("True", "HAProxyDegraded"), "10.96.0.7"),
        (service(), haproxy(0), ("False", "HAProxyNotReady"), "10.96.0.7"),
        (service(), None, ("False", "HAProxyMissing"), "10.96.0.7"),
        (None, haproxy(2), ("False", "NoAddress"), None),
        (service("LoadBalancer"), haproxy(2), ("False", "AddressPending"), None),
        (service("LoadBalancer", ingress=[{"ip": "203.0.113.9"}]), haproxy(2), ("True", "HAProxyReady"), "203.0.113.9"),
        (
            service("LoadBalancer", ingress=[{"hostname": "lb.example"}]),
            haproxy(2),
            ("True", "HAProxyReady"),
            "lb.example",
        ),
        (service("NodePort"), haproxy(2), ("True", "HAProxyReady"), "10.96.0.7"),
    ],
)
def test_haproxy_provider(svc, dep, expected, address):
    part, conditions = load_balancer_status(app(), svc, dep, [], NOW)
    assert condition(conditions) == expected
    assert part["address"] == address
    assert part["provider"] == "haproxy" and part["strategy"] == "round-robin"
    if dep is not None:
        assert part["readyReplicas"] == dep["status"]["readyReplicas"]


def test_service_provider_needs_only_an_address():
    part, conditions = load_balancer_status(app(provider="service", strategy="ip-hash"), service(), None, [], NOW)
    assert condition(conditions) == ("True", "ServiceReady")
    assert "readyReplicas" not in part and part["strategy"] == "ip-hash"
    _, pending = load_balancer_status(app(provider="service"), service("LoadBalancer"), None, [], NOW)
    assert condition(pending) == ("False", "AddressPending")


def test_condition_keeps_its_transition_time_and_other_conditions():
    ready = {"type": "Ready", "status": "True"}
    _, first = load_balancer_status(app(), service(), haproxy(2), [ready], NOW)
    _, again = load_balancer_status(app(), service(), haproxy(2), first, "2026-11-29T17:00:00Z")
    assert again[0] == ready
    assert again[1]["lastTransitionTime"] == NOW and again[1]["observedGeneration"] == 3


def test_status_part_fits_the_status_schema():
    part, conditions = load_balancer_status(app(), service(), haproxy(2), [], NOW)
    status = ScaledWebAppStatus.model_validate({"loadBalancer": part, "conditions": conditions})
    assert status.load_balancer is not None and status.load_balancer.ready_replicas == 2


def test_headless_service_has_no_address():
    assert service_address(service(ip="None")) is None


def test_kubectl_get_shows_the_strategy():
    columns = {c["name"]: c["jsonPath"] for c in PRINTER_COLUMNS}
    assert columns["Strategy"] == ".spec.loadBalancer.strategy"
    assert columns["Address"] == ".status.loadBalancer.address"
