"""Two operator replicas on one Lease: only the leader writes; a standby takes over within 15 s of the
leader being SIGKILLed and repairs a hand edit; a leader stopped with SIGTERM hands the Lease back."""

from __future__ import annotations

import time

import pytest
from kubernetes import client
from waiting import eventually
from webscale_local import audit
from webscale_local.operator_process import OperatorProcess
from webscale_local.procs import http_ok
from webscale_local.swa import G, P, V, app_body, container, is_ready

from webscale.kube.client import USER_AGENT

pytestmark = pytest.mark.integration
LEASE = "webscale-operator"


def holder(api_client, namespace: str) -> str:
    try:
        lease = client.CoordinationV1Api(api_client).read_namespaced_lease(LEASE, namespace)
    except client.ApiException:
        return ""
    return lease.spec.holder_identity or ""


def replica(cluster, namespace: str, identity: str, path, allowed: str) -> OperatorProcess:
    return OperatorProcess(
        cluster,
        path,
        WEBSCALE_IDENTITY=identity,
        POD_NAMESPACE=namespace,
        WEBSCALE_RESYNC_SECONDS="60",  # the repair below must come from the takeover, not a resync
        WEBSCALE_PROMETHEUS_URLS=allowed,
    )


def ready(op: OperatorProcess) -> bool:
    return http_ok(f"{op.http}/readyz")


def writes_by(audit_log, since: int, identity: str) -> list[dict]:
    """Writes (but to the Lease) by the replica `identity` since `since` (an audit mark)."""
    return audit.operator_writes(audit_log, since, agents=(f"{USER_AGENT} ({identity})",), leases=False)


def test_standby_takes_over_within_15s_and_one_writer_at_a_time(
    cluster, api_client, namespace, swa, crd_installed, dead_prometheus_url, tmp_path
):
    apps = client.AppsV1Api(api_client)
    mark = audit.mark(cluster.audit_log)
    a = replica(cluster, namespace, "op-a", tmp_path / "a.log", dead_prometheus_url).start()
    b = replica(cluster, namespace, "op-b", tmp_path / "b.log", dead_prometheus_url)
    try:
        eventually(lambda: holder(api_client, namespace) == "op-a", 30, "op-a to hold the Lease")
        b.start()
        eventually(lambda: ready(b), 30, "op-b's caches to sync")
        body = app_body(metrics={"prometheus": {"url": dead_prometheus_url}})
        swa.create_namespaced_custom_object(G, V, namespace, P, body)
        eventually(lambda: is_ready(swa, namespace, "shop"), 60, "Ready")
        assert writes_by(cluster.audit_log, mark, "op-b") == []  # the standby wrote nothing

        a.kill()
        killed = time.monotonic()
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "evil:1"}]}}}}
        apps.patch_namespaced_deployment("shop", namespace, patch)
        eventually(
            lambda: container(apps, namespace).image == "registry.example/shop:1", 15, "op-b to repair the hand edit"
        )
        took = time.monotonic() - killed
        assert holder(api_client, namespace) == "op-b"
        print(f"failover: the standby repaired the hand edit {took:.1f}s after the leader was SIGKILLed")

        a_writes = writes_by(cluster.audit_log, mark, "op-a")
        b_writes = writes_by(cluster.audit_log, mark, "op-b")
        assert a_writes and b_writes
        assert max(e["requestReceivedTimestamp"] for e in a_writes) < min(
            e["requestReceivedTimestamp"] for e in b_writes
        ), "two replicas wrote at the same time"

        stopping = time.monotonic()
        b.stop()
        assert b.proc is not None and b.proc.returncode == 0, b.log()[-2000:]
        assert time.monotonic() - stopping < 10, "graceful shutdown took 10 s or more"
        assert holder(api_client, namespace) == "", "the Lease was not handed back"
    finally:
        a.stop()
        b.stop()
        print(a.log()[-2000:], b.log()[-3000:])
