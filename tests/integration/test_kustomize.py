"""kustomize, as users run it on the local control plane: `kubectl apply -k manifests/base` and
`kubectl apply --server-side -k` of the same, and the namespaced overlay (manifests/overlays/namespaced)
with the operator running under its RBAC and watching one namespace only.

The operator of the overlay runs as a local process (this machine has no container runtime) with the
overlay's ServiceAccount token (TokenRequest) and the WEBSCALE_* settings of the overlay's Deployment.
"""

from __future__ import annotations

import os

import pytest
from kubernetes import client
from manifest_helpers import (
    BASE,
    NAMESPACED,
    SA,
    SYSTEM_NS,
    audit_mark,
    clean_run,
    mint_token,
    one_kind,
    operator_env,
    render,
    run_kubectl,
    wait_namespace_gone,
    write_sa_kubeconfig,
)
from waiting import eventually
from webscale_local.operator_process import OperatorProcess
from webscale_local.ports import free_port
from webscale_local.swa import G, P, V, app_body, is_ready

pytestmark = pytest.mark.integration

WATCHED = "apps"  # the namespace manifests/overlays/namespaced watches


def delete_install(cluster, *cluster_scoped: str) -> None:
    """Remove what an install created, except the CRD (the session's apps depend on it)."""
    for name in cluster_scoped:
        cluster.kubectl("delete", name, "--ignore-not-found", check=False)
    cluster.kubectl("delete", "namespace", SYSTEM_NS, "--ignore-not-found", "--wait=false", check=False)


def available(api_client) -> bool:
    dep = client.AppsV1Api(api_client).read_namespaced_deployment(SA, SYSTEM_NS)
    return bool(dep.status.available_replicas) and dep.status.available_replicas == dep.spec.replicas


def test_base_applies_client_side_then_server_side(cluster, api_client, crd_installed):
    wait_namespace_gone(cluster)
    try:
        applied = run_kubectl(cluster, "apply", "-k", str(BASE))
        assert "PodSecurity" not in applied.stderr, applied.stderr
        assert f"deployment.apps/{SA} created" in applied.stdout
        eventually(lambda: available(api_client), 60, "the operator Deployment to be available")
        # The same again with server-side apply: kubectl takes the fields over from its client-side apply.
        ssa = run_kubectl(cluster, "apply", "--server-side", "-k", str(BASE))
        assert f"deployment.apps/{SA} serverside-applied" in ssa.stdout, ssa.stdout
        assert "conflict" not in ssa.stderr.lower(), ssa.stderr
        managers = {
            m.manager
            for m in client.AppsV1Api(api_client).read_namespaced_deployment(SA, SYSTEM_NS).metadata.managed_fields
        }
        assert "kubectl" in managers, managers
        pdb = client.PolicyV1Api(api_client).read_namespaced_pod_disruption_budget(SA, SYSTEM_NS)
        assert pdb.spec.min_available == 1
        eventually(
            lambda: (
                client.PolicyV1Api(api_client)
                .read_namespaced_pod_disruption_budget(SA, SYSTEM_NS)
                .status.disruptions_allowed
                == 1
            ),
            60,
            "the operator's PDB to allow one disruption of its two pods",
        )
        # Idempotent: nothing changes on a second server-side apply.
        again = run_kubectl(cluster, "apply", "--server-side", "-k", str(BASE))
        assert again.returncode == 0
    finally:
        delete_install(cluster, f"clusterrolebinding/{SA}", f"clusterrole/{SA}")


def test_namespaced_overlay_runs_the_operator_in_one_namespace(cluster, api_client, crd_installed, namespace, tmp_path):
    docs = render(cluster, NAMESPACED)
    (binding,) = [d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["namespace"] == WATCHED]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": SA}
    assert one_kind(docs, "ClusterRoleBinding")["roleRef"]["name"] == f"{SA}-cluster-reads"  # no cluster-wide rules
    env = operator_env(one_kind(docs, "Deployment"), WEBSCALE_LIVENESS_PORT="0", WEBSCALE_LOG_FORMAT="plain")
    assert env["WEBSCALE_NAMESPACE"] == WATCHED

    wait_namespace_gone(cluster)
    wait_namespace_gone(cluster, WATCHED)
    cluster.kubectl("create", "namespace", WATCHED)
    swa = client.CustomObjectsApi(api_client)
    op = None
    try:
        run_kubectl(cluster, "apply", "-k", str(NAMESPACED))
        ssa = run_kubectl(cluster, "apply", "--server-side", "-k", str(NAMESPACED))
        assert f"rolebinding.rbac.authorization.k8s.io/{SA} serverside-applied" in ssa.stdout, ssa.stdout
        kubeconfig = write_sa_kubeconfig(cluster, mint_token(api_client), tmp_path / "sa-kubeconfig")
        dead = f"http://127.0.0.1:{free_port()}"  # no Prometheus there: connection refused, on loopback
        metrics = {"prometheus": {"url": dead}}
        env["WEBSCALE_PROMETHEUS_URLS"] = dead
        # An app outside the watched namespace, created first: the operator must leave it alone.
        swa.create_namespaced_custom_object(G, V, namespace, P, app_body("outside", metrics=metrics))
        mark = audit_mark(cluster)
        op = OperatorProcess(cluster, tmp_path / "operator.log", KUBECONFIG=str(kubeconfig), **env).start()
        swa.create_namespaced_custom_object(G, V, WATCHED, P, app_body("inside", metrics=metrics))
        eventually(
            lambda: is_ready(swa, WATCHED, "inside"),
            60,
            "the app in the watched namespace to be Ready",
        )
        op.stop()
        requests = clean_run(op, cluster, mark)
        assert requests, "no request of the ServiceAccount in the audit log"
        namespaces = {e["objectRef"].get("namespace") for e in requests} - {None}
        assert namespaces <= {WATCHED, SYSTEM_NS}, namespaces  # never another namespace
        outside = swa.get_namespaced_custom_object(G, V, namespace, P, "outside")
        assert "status" not in outside
        assert client.AppsV1Api(api_client).list_namespaced_deployment(namespace).items == []
    finally:
        if op is not None:
            op.stop()
            print(op.log()[-4000:])
        cluster.kubectl("delete", "namespace", WATCHED, "--wait=false", check=False)
        delete_install(
            cluster,
            f"clusterrole/{SA}",
            f"clusterrole/{SA}-cluster-reads",
            f"clusterrolebinding/{SA}-cluster-reads",
        )


def test_network_policy_component_on_an_overlay_of_the_base(cluster, api_client, crd_installed, tmp_path):
    """`components: [.../components/networkpolicy]` in an overlay adds the operator's NetworkPolicy, which
    the API server admits and which selects the operator's pods."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    base, component = (os.path.relpath(p, overlay) for p in (BASE, BASE.parent / "components" / "networkpolicy"))
    (overlay / "kustomization.yaml").write_text(  # kustomize takes relative paths only
        f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [{base}]\n"
        f"components: [{component}]\n"
    )
    docs = render(cluster, overlay)
    policy = one_kind(docs, "NetworkPolicy")
    assert policy["metadata"]["namespace"] == SYSTEM_NS
    wait_namespace_gone(cluster)
    try:
        run_kubectl(cluster, "apply", "--server-side", "-k", str(overlay))
        net = client.NetworkingV1Api(api_client).read_namespaced_network_policy(SA, SYSTEM_NS)
        dep = client.AppsV1Api(api_client).read_namespaced_deployment(SA, SYSTEM_NS)
        assert net.spec.pod_selector.match_labels == dep.spec.selector.match_labels
        assert [p.port for p in net.spec.ingress[0].ports] == [8080]
        assert all(rule.ports for rule in net.spec.egress)
    finally:
        delete_install(cluster, f"clusterrolebinding/{SA}", f"clusterrole/{SA}")
