"""A ScaledWebApp deleted while the operator's watches were cut is gone from its registry after the
relist: no ghost children are re-created. On its own control plane, whose API server it restarts."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config
from waiting import eventually
from webscale_local.launcher import LocalCluster
from webscale_local.operator_process import OperatorProcess
from webscale_local.ports import free_port
from webscale_local.swa import G, P, V, app_body, is_ready, wait_established

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NS = "default"


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[LocalCluster]:
    with LocalCluster() as c:
        c.kubectl("apply", "-f", str(ROOT / "crds"))
        wait_established(c.kubectl, "scaledwebapps.webscale.dev")
        yield c


def test_an_app_deleted_during_a_watch_gap_leaves_no_ghost(own_cluster, tmp_path):
    api = config.new_client_from_config(config_file=str(own_cluster.kubeconfig))
    swa, apps = client.CustomObjectsApi(api), client.AppsV1Api(api)
    dead = f"http://127.0.0.1:{free_port()}"
    op = OperatorProcess(
        own_cluster,
        tmp_path / "operator.log",
        WEBSCALE_RESYNC_SECONDS="2",
        WEBSCALE_PROMETHEUS_URLS=dead,
        POD_NAMESPACE=NS,
    )
    op.start()
    try:
        for name in ("ghost", "keep"):
            body = app_body(
                name,
                resources={"cpu": "100m", "memory": "64Mi"},
                metrics={"prometheus": {"url": dead}},
                loadBalancer={"provider": "service"},  # the app's own children only
            )
            swa.create_namespaced_custom_object(G, V, NS, P, body)
        for name in ("ghost", "keep"):
            eventually(lambda n=name: is_ready(swa, NS, n), 60, f"{name}")
        relists = op.metric("webscale_watch_relists_total", resource="ScaledWebApp")

        assert op.proc is not None
        os.killpg(op.proc.pid, signal.SIGSTOP)  # the operator hears nothing from here on
        try:
            own_cluster.restart_apiserver()  # its watch connections are gone
            swa.delete_namespaced_custom_object(G, V, NS, P, "ghost")
            eventually(
                lambda: not [d for d in apps.list_namespaced_deployment(NS).items if d.metadata.name == "ghost"],
                60,
                "the garbage collector to remove ghost's Deployment",
            )
        finally:
            os.killpg(op.proc.pid, signal.SIGCONT)

        eventually(
            lambda: op.metric("webscale_watch_relists_total", resource="ScaledWebApp") > relists,
            30,
            "the operator to relist the apps",
        )

        # three resync periods (of 2 s), counted in reconciles (the relist's own one first): a ghost left
        # in the registry would be reconciled, and its Deployment re-created, by now
        def reconciles() -> float:
            return sum(op.metric("webscale_reconciles_total", outcome=o) for o in ("changed", "unchanged"))

        before = reconciles()
        eventually(lambda: reconciles() >= before + 4, 30, "three resyncs after the relist")
        names = {d.metadata.name for d in apps.list_namespaced_deployment(NS).items}
        assert names == {"keep"}, names
        assert op.metric("webscale_apps", state="valid") == 1
    finally:
        op.stop()
        print(op.log()[-3000:])
