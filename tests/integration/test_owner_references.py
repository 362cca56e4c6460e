"""The base's RBAC works with the OwnerReferencesPermissionEnforcement admission plugin on.

Many hardened clusters (OpenShift among them) enable that plugin: an object whose
ownerReference sets ``blockOwnerDeletion`` may only be written by someone who may update the
owner's ``finalizers`` subresource. The operator's children carry such a controller reference,
so manifests/base grants ``scaledwebapps/finalizers: update``. This module starts its own
control plane with the plugin enabled (tests/cluster/launcher.py ``admission_plugins``), runs
the operator as the base's ServiceAccount and checks that its children are created and nothing
is denied; then shows the plugin really is on: the same rules without the finalizers rule are
refused the same write.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from launcher import LocalCluster
from manifest_helpers import (
    SA,
    SYSTEM_NS,
    applied_base_rbac,
    audit_mark,
    clean_run,
    fast_app,
    mint_token,
    one_kind,
    render_base,
    start_operator,
    write_sa_kubeconfig,
)
from waiting import eventually
from webscale_local.swa import G, P, V, install_crd, is_ready

pytestmark = pytest.mark.integration

PLUGIN = "OwnerReferencesPermissionEnforcement"
NO_FINALIZERS = "webscale-no-finalizers"


@pytest.fixture(scope="module")
def strict_cluster() -> Iterator[LocalCluster]:
    """A control plane of its own with the plugin enabled (audit log on, one node)."""
    with LocalCluster(nodes=1, audit=True, admission_plugins=(PLUGIN,)) as cluster:
        install_crd(cluster.kubectl)
        yield cluster


@pytest.fixture(scope="module")
def admin(strict_cluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(strict_cluster.kubeconfig))


@pytest.fixture(scope="module")
def base_rbac(strict_cluster) -> Iterator[list[dict]]:
    yield from applied_base_rbac(strict_cluster)


@pytest.fixture()
def strict_namespace(admin) -> Iterator[str]:
    core = client.CoreV1Api(admin)
    name = f"t-owner-refs-{os.urandom(2).hex()}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


def kubeconfig_for(cluster, admin, name: str, tmp_path: Path) -> Path:
    return write_sa_kubeconfig(cluster, mint_token(admin, SYSTEM_NS, name), tmp_path / f"{name}.kubeconfig", name=name)


def test_plugin_is_on_in_this_cluster_only(strict_cluster):
    args = " ".join(str(a) for c in strict_cluster.components if c.name == "apiserver" for a in c.args)
    assert f"--enable-admission-plugins={PLUGIN}" in args


def test_operator_runs_under_owner_reference_enforcement(strict_cluster, admin, base_rbac, strict_namespace, tmp_path):
    ns = strict_namespace
    apps, core, swa = client.AppsV1Api(admin), client.CoreV1Api(admin), client.CustomObjectsApi(admin)
    mark = audit_mark(strict_cluster)
    op = start_operator(strict_cluster, kubeconfig_for(strict_cluster, admin, SA, tmp_path), tmp_path / "op.log")
    try:
        uid = swa.create_namespaced_custom_object(G, V, ns, P, fast_app("shop"))["metadata"]["uid"]
        dep = eventually(lambda: apps.read_namespaced_deployment("shop", ns), 60, "the Deployment")
        svc = eventually(lambda: core.read_namespaced_service("shop", ns), 30, "the Service")
        headless = eventually(lambda: core.read_namespaced_service("shop-pods", ns), 30, "the headless Service")
        eventually(lambda: is_ready(swa, ns, "shop"), 60, "Ready=True")
    finally:
        op.stop()
    clean_run(op, strict_cluster, mark)
    for obj in (dep, svc, headless):
        (ref,) = obj.metadata.owner_references
        assert (ref.uid, ref.controller, ref.block_owner_deletion) == (uid, True, True)


def test_without_the_finalizers_rule_the_same_write_is_refused(
    strict_cluster, admin, base_rbac, strict_namespace, tmp_path
):
    """The control: the base's rules minus scaledwebapps/finalizers cannot set blockOwnerDeletion."""
    ns = strict_namespace
    role = one_kind(render_base(strict_cluster), "ClusterRole")
    rules = [r for r in role["rules"] if "scaledwebapps/finalizers" not in r["resources"]]
    assert len(rules) == len(role["rules"]) - 1
    objects = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NO_FINALIZERS, "namespace": SYSTEM_NS}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": NO_FINALIZERS},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": NO_FINALIZERS},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NO_FINALIZERS},
            "subjects": [{"kind": "ServiceAccount", "name": NO_FINALIZERS, "namespace": SYSTEM_NS}],
        },
    ]
    strict_cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))
    try:
        app = client.CustomObjectsApi(admin).create_namespaced_custom_object(G, V, ns, P, fast_app("owner"))
        owner = {"apiVersion": f"{G}/{V}", "kind": "ScaledWebApp", "name": "owner", "uid": app["metadata"]["uid"]}

        def service(name: str, block: bool) -> dict:
            ref = {**owner, "controller": True, "blockOwnerDeletion": block}
            return {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": ns, "ownerReferences": [ref]},
                "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80}]},
            }

        def apply_as(name: str, body: dict) -> None:
            api = config.new_client_from_config(config_file=str(kubeconfig_for(strict_cluster, admin, name, tmp_path)))
            client.CoreV1Api(api).patch_namespaced_service(
                body["metadata"]["name"],
                ns,
                body,
                field_manager="test",
                force=True,
                _content_type="application/apply-patch+yaml",
            )

        with pytest.raises(ApiException) as refused:
            apply_as(NO_FINALIZERS, service("refused", block=True))
        assert refused.value.status == 403
        body = refused.value.body
        body = body.decode() if isinstance(body, bytes) else str(body)
        assert "cannot set blockOwnerDeletion" in body, body
        apply_as(NO_FINALIZERS, service("no-block", block=False))  # the plugin only guards blockOwnerDeletion
        apply_as(SA, service("allowed", block=True))  # the base's rules, finalizers included
    finally:
        for kind in ("clusterrolebinding", "clusterrole"):
            strict_cluster.kubectl("delete", kind, NO_FINALIZERS, "--ignore-not-found", check=False)
        strict_cluster.kubectl(
            "delete", "serviceaccount", NO_FINALIZERS, "-n", SYSTEM_NS, "--ignore-not-found", check=False
        )
