"""Scale to zero on the real control plane with the operator running: an app with replicas.min 0 and the
section starts at zero pods, is Ready (ScaledToZero), and its HAProxy ConfigMap carries the hold script;
adding the section to a running app rolls its HAProxy pods, and removing it gives back the config it had."""

from __future__ import annotations

import pytest
from kubernetes import client
from test_lb_objects import LB, checksum, patch
from test_operator import G, P, V, app_body, condition
from waiting import eventually

from webscale.reconcile.hold import LUA_KEY

pytestmark = pytest.mark.integration


def test_an_app_at_zero_has_no_pod_is_ready_and_its_lb_holds(api_client, namespace, operator, swa):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    body = app_body(replicas={"min": 0, "max": 4}, autoscaling={"scaleToZero": {"holdRequestsFor": "20s"}})
    swa.create_namespaced_custom_object(G, V, namespace, P, body)
    cfg = eventually(lambda: core.read_namespaced_config_map(LB, namespace), 30, "the HAProxy ConfigMap")
    assert LUA_KEY in cfg.data and "lua.webscale_hold pods 20000 5" in cfg.data["haproxy.cfg"]
    assert apps.read_namespaced_deployment("shop", namespace).spec.replicas == 0

    def ready() -> dict | None:
        found = condition(swa, namespace, "shop", "Ready")
        return found if found and found["reason"] == "ScaledToZero" else None

    assert eventually(ready, 30, "Ready with reason ScaledToZero")["status"] == "True"


def test_the_section_rolls_haproxy_and_removing_it_gives_the_old_config_back(api_client, namespace, operator, swa):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body(autoscaling={"mode": "off"}))
    eventually(lambda: apps.read_namespaced_deployment(LB, namespace), 30, "the HAProxy Deployment")
    before, cfg_before = checksum(apps, namespace), core.read_namespaced_config_map(LB, namespace).data
    patch(swa, namespace, {"autoscaling": {"mode": "off", "scaleToZero": {}}})
    eventually(lambda: checksum(apps, namespace) != before or None, 30, "HAProxy rolled for the hold")
    assert LUA_KEY in core.read_namespaced_config_map(LB, namespace).data
    patch(swa, namespace, {"autoscaling": {"scaleToZero": None}})  # a merge patch's null removes it
    eventually(lambda: checksum(apps, namespace) == before or None, 30, "the old config back")
    assert core.read_namespaced_config_map(LB, namespace).data == cfg_before
