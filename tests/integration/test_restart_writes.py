"""A restart of the operator with 200 healthy apps (metrics unreachable, held at their last good count)
makes zero write requests (audit log), while it does poll them all."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from test_operator import G, P, V, app_body
from waiting import eventually
from webscale_local.operator_process import OperatorProcess

pytestmark = pytest.mark.integration
APPS = 200
WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def settled(swa, namespace: str) -> bool:
    """Every app Ready and, with metrics unreachable, at its fallback (the state it keeps)."""
    items = swa.list_namespaced_custom_object(G, V, namespace, P)["items"]
    if len(items) < APPS:
        return False
    for item in items:
        conditions = {c["type"]: c for c in item.get("status", {}).get("conditions", [])}
        if conditions.get("Ready", {}).get("status") != "True":
            return False
        if conditions.get("ScalingActive", {}).get("reason") != "MetricsUnavailableHolding":
            return False
    return True


def test_a_restart_with_200_healthy_apps_writes_nothing(
    cluster, api_client, namespace, swa, crd_installed, dead_prometheus_url, tmp_path
):
    env = {"WEBSCALE_RESYNC_SECONDS": "5", "WEBSCALE_PROMETHEUS_URLS": dead_prometheus_url, "POD_NAMESPACE": namespace}
    first = OperatorProcess(cluster, tmp_path / "first.log", **env).start()
    try:
        spec = {
            "resources": {"cpu": "10m", "memory": "16Mi"},
            "replicas": {"min": 1, "max": 3},
            "autoscaling": {"pollingInterval": "5s"},
            "metrics": {"prometheus": {"url": dead_prometheus_url}},
            "loadBalancer": {"provider": "service"},
        }
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda i: swa.create_namespaced_custom_object(G, V, namespace, P, app_body(f"a{i}", **spec)),
                    range(APPS),
                )
            )
        eventually(lambda: settled(swa, namespace), 240, f"{APPS} apps Ready and holding", interval=2)
    finally:
        first.stop()
    mark = len(cluster.audit_log.read_text().splitlines())
    second = OperatorProcess(cluster, tmp_path / "second.log", **env).start()
    try:
        eventually(lambda: second.metric("webscale_poll_apps_total") >= 2 * APPS, 60, "two polls of every app")
        time.sleep(6)  # a resync period more
        polled = second.metric("webscale_poll_apps_total")
        unchanged = second.metric("webscale_reconciles_total", outcome="unchanged")
    finally:
        second.stop()
    entries = [json.loads(x) for x in cluster.audit_log.read_text().splitlines()[mark:] if x.strip()]
    writes = [
        (e["verb"], e["requestURI"])
        for e in entries
        if e.get("userAgent", "").startswith("webscale-operator")
        and e["verb"] in WRITES
        and e.get("objectRef", {}).get("resource") != "leases"
    ]
    print(f"after the restart: {polled:.0f} app polls, {unchanged:.0f} unchanged reconciles, {len(writes)} writes")
    assert unchanged >= APPS
    assert writes == [], writes[:10]
