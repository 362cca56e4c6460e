"""A restart of the operator with 200 healthy apps (metrics unreachable, held at their last good count)
makes zero write requests (audit log), while it does poll them all."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from waiting import eventually
from webscale_local.audit import Quiet, mark, operator_writes
from webscale_local.operator_process import OperatorProcess
from webscale_local.swa import G, P, V, app_body

pytestmark = pytest.mark.integration
APPS = 200
AGENTS = ("webscale-operator",)


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


def reconciles(op: OperatorProcess) -> float:
    return sum(op.metric("webscale_reconciles_total", outcome=o) for o in ("changed", "unchanged"))


def statuses(swa, namespace: str) -> dict[str, dict]:
    return {
        i["metadata"]["name"]: i.get("status", {})
        for i in swa.list_namespaced_custom_object(G, V, namespace, P)["items"]
    }


def differences(old: dict, new: dict) -> dict:
    """What a status write changed: top-level fields, and conditions by type."""
    out = {k: (old.get(k), new.get(k)) for k in set(old) | set(new) if k != "conditions" and old.get(k) != new.get(k)}
    before = {c["type"]: c for c in old.get("conditions", [])}
    for c in new.get("conditions", []):
        if before.get(c["type"]) != c:
            out[c["type"]] = (before.get(c["type"]), c)
    return out


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
        # and the first operator has said all it had to say (e.g. the capacity of pods that just became
        # ready, written at the app's next poll): no write for two polling intervals
        quiet = Quiet(cluster.audit_log, seconds=10.0, agents=AGENTS)
        eventually(quiet.reached, 120, "the first operator's writes to stop", interval=1)
    finally:
        first.stop()
    before = statuses(swa, namespace)
    since = mark(cluster.audit_log)
    second = OperatorProcess(cluster, tmp_path / "second.log", **env).start()
    try:
        eventually(lambda: second.metric("webscale_poll_apps_total") >= 2 * APPS, 60, "two polls of every app")
        # and a resync of every app after the start-up reconciles: 2 reconciles an app, whatever they found
        eventually(lambda: reconciles(second) >= 2 * APPS, 60, f"{2 * APPS} reconciles (start-up and a resync)")
        polled = second.metric("webscale_poll_apps_total")
        unchanged = second.metric("webscale_reconciles_total", outcome="unchanged")
    finally:
        second.stop()
    writes = [
        (e["verb"], e["requestURI"]) for e in operator_writes(cluster.audit_log, since, agents=AGENTS, leases=False)
    ]
    print(f"after the restart: {polled:.0f} app polls, {unchanged:.0f} unchanged reconciles, {len(writes)} writes")
    assert unchanged >= APPS
    after = statuses(swa, namespace)
    changed = {name: differences(before[name], after[name]) for name in before if before[name] != after.get(name)}
    assert writes == [], f"{writes[:5]}; status changes: {dict(list(changed.items())[:3])}"
