"""The user's controls over a running app: the paused annotation, and live worker changes."""

from __future__ import annotations

import pytest
from kubernetes import client
from scenario import APP, NEEDED, POLL, load_on, replicas_over
from waiting import eventually
from webscale_local.swa import G, P, V

from webscale.api.labels import selector_string

pytestmark = pytest.mark.e2e


def _annotate(swa_apps, value: str | None) -> None:
    body = {"metadata": {"annotations": {"webscale.dev/paused": value}}}
    swa_apps.custom.patch_namespaced_custom_object(G, V, swa_apps.namespace, P, APP, body)


def test_paused_app_keeps_its_replicas_under_load_and_resumes(sample_apps, running_app, swa_apps):
    _annotate(swa_apps, "true")
    eventually(
        lambda: (swa_apps.condition(APP, "ScalingActive") or {}).get("reason") == "Paused", 10, "ScalingActive=Paused"
    )
    with load_on(sample_apps):
        held = replicas_over(swa_apps, APP, 2 * POLL)  # two polling intervals of load that needs 4 pods
        assert set(held) == {1}, held
        assert swa_apps.condition(APP, "ScalingActive")["status"] == "False"
        _annotate(swa_apps, None)
        eventually(lambda: swa_apps.replicas(APP) == NEEDED, 20, f"{NEEDED} replicas once resumed")


def test_worker_change_resizes_running_pods_without_a_rollout(api_client, namespace, running_app, swa_apps):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    before = apps.read_namespaced_deployment(APP, namespace)
    app_pods = selector_string(APP)  # the app's pods, not its HAProxy pods (which roll: maxconn follows workers)
    pods_before = {p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector=app_pods).items}
    patch = {"spec": {"workers": {"mode": "fixed", "count": 3}}}
    swa_apps.custom.patch_namespaced_custom_object(G, V, namespace, P, APP, patch)

    def annotated() -> bool:
        pods = core.list_namespaced_pod(namespace, label_selector=app_pods).items
        return bool(pods) and all((p.metadata.annotations or {}).get("webscale.dev/workers") == "3" for p in pods)

    eventually(annotated, 15, "every pod annotated with 3 workers")
    eventually(lambda: swa_apps.status(APP).get("workersPerPod") == 3, 10, "status.workersPerPod = 3")
    after = apps.read_namespaced_deployment(APP, namespace)
    assert after.spec.template == before.spec.template  # no rollout: the same pods, resized in place
    assert {p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector=app_pods).items} == pods_before
