"""The real API server refuses an over-long or over-many value in a ScaledWebApp, naming the field, and
a ResourceQuota (examples/quota.yaml) caps how many ScaledWebApps a namespace holds.

The bounds come from webscale.api.bounds through the generated CRD (tests/unit/test_crd_bounds.py checks
that every string and list of the spec has one); here the API server applies them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from test_operator import G, P, V, app_body
from waiting import eventually

from webscale.api import bounds

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
QUOTA = ROOT / "examples" / "quota.yaml"


def env(count: int, value: str = "x") -> list[dict]:
    return [{"name": f"V{i}", "value": value} for i in range(count)]


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"env": env(1, "x" * (bounds.ENV_VALUE_MAX_LENGTH + 1))}, "spec.env[0].value", "Too long"),
        ({"env": env(bounds.ENV_MAX_ITEMS + 1)}, "spec.env", "Too many"),
        ({"image": "registry.example/" + "a" * 512}, "spec.image", "Too long"),
        (
            {"metrics": {"prometheus": {"url": "http://p/" + "a" * bounds.URL_MAX_LENGTH}}},
            "spec.metrics.prometheus.url",
            "Too long",
        ),
        ({"state": {"redisURL": "redis://r/" + "a" * bounds.URL_MAX_LENGTH}}, "spec.state.redisURL", "Too long"),
        ({"metrics": {"requestRate": "sum(x)" + " " * 4096}}, "spec.metrics.requestRate", "Too long"),
        ({"resources": {"cpu": "1" * (bounds.QUANTITY_MAX_LENGTH + 1)}}, "spec.resources.cpu", "Too long"),
        (
            {"autoscaling": {"behavior": {"scaleUp": {"leadTime": "1" * 40 + "s"}}}},
            "spec.autoscaling.behavior.scaleUp.leadTime",
            "Too long",
        ),
        (
            {"env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k" * 254}}}]},
            "spec.env[0].valueFrom.secretKeyRef.key",
            "Too long",
        ),
        (
            {"env": [{"name": "K", "valueFrom": {"fieldRef": {"fieldPath": "a"}, "secretKeyRef": {"key": "k"}}}]},
            "spec.env[0].valueFrom",
            "Too many",
        ),
        (
            {"loadBalancer": {"service": {"annotations": {f"example.com/a{i}": "x" for i in range(65)}}}},
            "spec.loadBalancer.service.annotations",
            "Too many",
        ),
    ],
)
def test_an_over_long_value_is_refused_with_the_field_named(crd_installed, namespace, swa, spec, field, words):
    with pytest.raises(ApiException) as refused:
        swa.create_namespaced_custom_object(G, V, namespace, P, app_body(**spec))
    assert refused.value.status == 422, refused.value.body
    assert f"{field}: {words}" in refused.value.body, refused.value.body
    assert swa.list_namespaced_custom_object(G, V, namespace, P)["items"] == []


def test_values_at_the_bounds_are_accepted(crd_installed, namespace, swa):
    spec = {
        "env": [
            *env(bounds.ENV_MAX_ITEMS - 2, "x" * bounds.ENV_VALUE_MAX_LENGTH),
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
        ],
        "metrics": {"prometheus": {"url": "http://p/" + "a" * (bounds.URL_MAX_LENGTH - len("http://p/"))}},
    }
    created = swa.create_namespaced_custom_object(G, V, namespace, P, app_body(**spec))
    assert len(created["spec"]["env"]) == bounds.ENV_MAX_ITEMS
    assert created["spec"]["env"][-1]["valueFrom"] == {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}


def test_the_quota_example_caps_scaledwebapps(cluster, api_client, crd_installed, namespace, swa):
    quota = yaml.safe_load(QUOTA.read_text())
    limit = int(quota["spec"]["hard"]["count/scaledwebapps.webscale.dev"])
    core = client.CoreV1Api(api_client)

    def counted() -> bool:
        """Admission counts against a quota only once the quota controller wrote its usage (status.used).
        The controller finds a new custom resource through discovery every 30s, and a quota synced before
        that is counted only at its next full resync (5 min): apply the quota again until it is counted."""
        used = core.read_namespaced_resource_quota("webscale-apps", namespace).status.used or {}
        if "count/scaledwebapps.webscale.dev" in used:
            return True
        cluster.kubectl("delete", "-n", namespace, "-f", str(QUOTA), "--wait=true")
        cluster.kubectl("apply", "-n", namespace, "-f", str(QUOTA))
        time.sleep(5)
        return False

    cluster.kubectl("apply", "-n", namespace, "-f", str(QUOTA))
    eventually(counted, 120, "the quota controller to count ScaledWebApps", interval=1)

    def first_counted() -> bool:
        """Create app0 once the API server's quota admission knows the quota (its cache may lag status)."""
        try:
            swa.create_namespaced_custom_object(G, V, namespace, P, app_body("app0"))
        except ApiException as exc:
            if exc.status == 403 and "status unknown for quota" in exc.body:
                return False
            raise
        return True

    eventually(first_counted, 30, "the quota admission to count ScaledWebApps")
    for i in range(1, limit):
        swa.create_namespaced_custom_object(G, V, namespace, P, app_body(f"app{i}"))
    with pytest.raises(ApiException) as refused:
        swa.create_namespaced_custom_object(G, V, namespace, P, app_body("one-too-many"))
    assert refused.value.status == 403, refused.value.body
    assert "exceeded quota: webscale-apps" in refused.value.body, refused.value.body
    assert f"count/scaledwebapps.webscale.dev={limit}" in refused.value.body, refused.value.body
    names = {o["metadata"]["name"] for o in swa.list_namespaced_custom_object(G, V, namespace, P)["items"]}
    assert names == {f"app{i}" for i in range(limit)}
    used = core.read_namespaced_resource_quota("webscale-apps", namespace).status.used or {}
    eventually(
        lambda: (
            (core.read_namespaced_resource_quota("webscale-apps", namespace).status.used or {}).get(
                "count/scaledwebapps.webscale.dev"
            )
            == str(limit)
        ),
        30,
        f"the quota to count {limit} ScaledWebApps (used: {used})",
    )
