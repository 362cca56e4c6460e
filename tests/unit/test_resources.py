"""Pure builders against golden YAML in tests/data/ (UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from webscale.api.app import App
from webscale.api.models import parse_spec
from webscale.reconcile.builders import (
    build_children,
    build_deployment,
    build_service,
    initial_replicas,
    template_workers,
)

DATA = Path(__file__).resolve().parents[1] / "data"

SHOP = {
    "image": "registry.example/shop:1.4.2",
    "env": [
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ],
    "resources": {"cpu": "2", "memory": "512Mi", "limits": {"memory": "1Gi"}},
    "state": {"redisURL": "redis://redis.shop:6379/0"},
    "serviceAccountName": "shop-reader",
}
MINIMAL = {"image": "registry.example/tiny:1"}


def parent(spec: dict) -> App:
    body = {
        "metadata": {
            "name": "shop",
            "namespace": "default",
            "uid": "0b4f5a8e-1111-2222-3333-444455556666",
            "generation": 1,
        },
        "spec": spec,
    }
    return App.from_body(body)


@pytest.mark.parametrize(("case", "spec"), [("shop", SHOP), ("minimal", MINIMAL)])
def test_children_match_golden(case, spec):
    got = yaml.safe_dump_all(build_children(parent(spec)), sort_keys=True)
    golden = DATA / f"children-{case}.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(got)
    assert got == golden.read_text(), f"{golden} differs; rerun with UPDATE_GOLDEN=1 if the change is intended"


def test_deployment_essentials():
    dep = build_deployment(parent(SHOP))
    assert "replicas" not in dep["spec"], "after creation spec.replicas belongs to the scaler"
    ref = dep["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"]) == ("ScaledWebApp", "shop", True)
    pod = dep["spec"]["template"]
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["WEB_CONCURRENCY"] == "2" and env["REDIS_URL"] == "redis://redis.shop:6379/0"
    assert pod["metadata"]["annotations"]["webscale.dev/workers"] == "2"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert dep["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_no_redis_url_without_state():
    env = build_deployment(parent(MINIMAL))["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "REDIS_URL" not in {e["name"] for e in env}


def test_service_affinity_for_ip_hash_on_kube_proxy():
    svc = build_service(parent({**MINIMAL, "loadBalancer": {"provider": "service", "strategy": "ip-hash"}}))
    assert svc["spec"]["sessionAffinity"] == "ClientIP"
    # written as None otherwise, so that switching back from ip-hash clears ClientIP
    assert (
        build_service(parent({**MINIMAL, "loadBalancer": {"provider": "service"}}))["spec"]["sessionAffinity"] == "None"
    )


@pytest.mark.parametrize(("replicas", "expected"), [({}, 2), ({"min": 3}, 3), ({"min": 1, "count": 5}, 5)])
def test_initial_replicas(replicas, expected):
    assert initial_replicas(parse_spec({**MINIMAL, "replicas": replicas})) == expected


ZERO = {"replicas": {"min": 0, "max": 5}, "autoscaling": {"scaleToZero": {}}}


@pytest.mark.parametrize(("mode", "expected"), [("auto", 0), ("recommend", 1), ("off", 1)])
def test_an_app_starts_at_zero_only_when_the_operator_will_wake_it(mode, expected):
    spec = parse_spec({**MINIMAL, **ZERO, "autoscaling": {**ZERO["autoscaling"], "mode": mode}})
    assert initial_replicas(spec) == expected


def _live(workers: str, cpu: str) -> dict:
    return {
        "spec": {
            "template": {
                "metadata": {"annotations": {"webscale.dev/workers": workers}},
                "spec": {"containers": [{"resources": {"requests": {"cpu": cpu, "memory": "256Mi"}}}]},
            }
        }
    }


def test_template_keeps_running_workers_when_they_change_live():
    spec = parse_spec({**MINIMAL, "resources": {"cpu": "4"}, "workers": {"max": 2}})
    assert template_workers(spec, _live("4", "4")) == 4  # resized in place, no rollout
    assert template_workers(spec, _live("4", "4000m")) == 4  # same CPU written differently
    assert template_workers(spec, _live("4", "2")) is None  # the CPU changed: the pods roll anyway
    assert template_workers(spec, None) is None
    off = parse_spec({**MINIMAL, "resources": {"cpu": "4"}, "workers": {"live": False}})
    assert template_workers(off, _live("4", "4")) is None


def test_a_stopping_pod_serves_until_haproxy_has_dropped_it_from_dns_and_keeps_its_grace():
    from webscale.reconcile.builders import CLUSTER_DNS_TTL_SECONDS, GRACE_AFTER_SIGTERM_SECONDS
    from webscale.reconcile.haproxy_config import HOLD_VALID

    pod = build_deployment(parent(SHOP))["spec"]["template"]["spec"]
    sleep = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    # HAProxy asks DNS again every HOLD_VALID, and DNS may answer with the leaving pod for its TTL
    assert sleep > int(HOLD_VALID.removesuffix("s")) + CLUSTER_DNS_TTL_SECONDS
    # the sleep comes out of the grace period: the app still gets its whole time after SIGTERM
    assert pod["terminationGracePeriodSeconds"] - sleep == GRACE_AFTER_SIGTERM_SECONDS
