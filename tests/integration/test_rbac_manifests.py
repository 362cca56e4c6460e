"""manifests/: the operator's RBAC is enough and no more, on a real API server with RBAC on.

The ServiceAccount, ClusterRole and ClusterRoleBinding come from the rendered
kustomize base (`kubectl kustomize manifests/base`). The operator runs as that
ServiceAccount (a TokenRequest token in its own kubeconfig) and every request it
makes is read back from the API server's audit log: no request may be denied, and
every permission granted must have been used (least privilege, checked, not
claimed). Then the ServiceAccount is refused what the operator never does.
Applying the whole base and the Helm chart is tests/integration/test_manifests_apply.py.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from manifest_helpers import (
    SA,
    SYSTEM_NS,
    audit_mark,
    clean_run,
    fast_app,
    granted,
    mint_token,
    one_kind,
    render_base,
    start_operator,
    used,
    write_sa_kubeconfig,
)
from waiting import eventually
from webscale_local.swa import G, P, V, app_body, condition, is_ready

pytestmark = pytest.mark.integration

# Checked inside requests by the OwnerReferencesPermissionEnforcement admission plugin (for
# blockOwnerDeletion), never requested: tests/integration/test_owner_references.py needs it.
ADMISSION_ONLY = {("webscale.dev", "scaledwebapps/finalizers", "update")}
LEASES = {("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")}


def release_leftovers(api_client, namespace: str) -> None:
    """Earlier tests' apps in namespaces being deleted keep kopf's finalizer once their operator
    has stopped. A cluster-wide operator would finalize them, and its writes into a namespace
    being deleted are refused (403, for a reason that is not RBAC): drop those finalizers as the
    admin and wait for the apps to go, so the operator's log speaks of this test's apps only."""
    api, core = client.CustomObjectsApi(api_client), client.CoreV1Api(api_client)

    def leftovers() -> list[dict]:
        terminating = {n.metadata.name for n in core.list_namespace().items if n.status.phase == "Terminating"}
        items = [i["metadata"] for i in api.list_cluster_custom_object(G, V, P)["items"]]
        return [m for m in items if m["namespace"] in terminating or "deletionTimestamp" in m]

    def released() -> bool:
        found = leftovers()
        for meta in found:
            if meta.get("finalizers"):
                with contextlib.suppress(ApiException):  # gone meanwhile
                    api.patch_namespaced_custom_object(
                        G, V, meta["namespace"], P, meta["name"], {"metadata": {"finalizers": None}}
                    )
        return not found

    eventually(released, 60, "earlier tests' ScaledWebApps in deleted namespaces to go", interval=0.5)


# ---- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sa_kubeconfig(cluster, api_client, base_rbac, tmp_path_factory) -> Path:
    """A kubeconfig that authenticates as the ServiceAccount with a TokenRequest token."""
    token = mint_token(api_client, SYSTEM_NS, SA)
    return write_sa_kubeconfig(cluster, token, tmp_path_factory.mktemp("sa") / "kubeconfig")


@pytest.fixture(scope="module")
def sa_client(sa_kubeconfig) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(sa_kubeconfig))


def test_operator_runs_on_exactly_the_base_permissions(cluster, api_client, namespace, sa_kubeconfig, tmp_path):
    admin_apps, admin_core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    swa = client.CustomObjectsApi(api_client)
    release_leftovers(api_client, namespace)
    mark = audit_mark(cluster)
    op = start_operator(cluster, sa_kubeconfig, tmp_path / "operator.log")
    try:
        swa.create_namespaced_custom_object(G, V, namespace, P, fast_app("shop"))
        eventually(lambda: admin_apps.read_namespaced_deployment("shop", namespace), 30, "the Deployment")
        eventually(lambda: admin_core.read_namespaced_service("shop", namespace), 30, "the Service")
        eventually(lambda: admin_core.read_namespaced_service("shop-pods", namespace), 30, "the headless Service")
        eventually(lambda: is_ready(swa, namespace, "shop"), 60, "Ready=True")
        workers = str(swa.get_namespaced_custom_object(G, V, namespace, P, "shop")["status"]["workersPerPod"])

        # Live worker resize: a pod with the wrong worker count is annotated back (list + patch pods).
        pods = eventually(
            lambda: admin_core.list_namespaced_pod(namespace, label_selector="app.kubernetes.io/instance=shop").items,
            30,
            "the app's pods",
        )
        pod = pods[0].metadata.name
        admin_core.patch_namespaced_pod(pod, namespace, {"metadata": {"annotations": {"webscale.dev/workers": "7"}}})
        eventually(
            lambda: (
                admin_core.read_namespaced_pod(pod, namespace).metadata.annotations.get("webscale.dev/workers")
                == workers
            ),
            30,
            f"the pod's worker annotation to return to {workers}",
        )

        # The HAProxy tier (get, create, patch configmaps and poddisruptionbudgets), then a switch to
        # provider service prunes it (delete deployments, configmaps, poddisruptionbudgets).
        policy = client.PolicyV1Api(api_client)
        eventually(lambda: admin_core.read_namespaced_config_map("shop-haproxy", namespace), 30, "the haproxy.cfg")
        eventually(lambda: admin_apps.read_namespaced_deployment("shop-haproxy", namespace), 30, "HAProxy")
        eventually(lambda: policy.read_namespaced_pod_disruption_budget("shop-haproxy", namespace), 30, "the PDB")
        swa.patch_namespaced_custom_object(
            G, V, namespace, P, "shop", {"spec": {"loadBalancer": {"provider": "service"}}}
        )

        def pruned() -> bool:
            names = [d.metadata.name for d in admin_apps.list_namespaced_deployment(namespace).items]
            names += [c.metadata.name for c in admin_core.list_namespaced_config_map(namespace).items]
            names += [b.metadata.name for b in policy.list_namespaced_pod_disruption_budget(namespace).items]
            return "shop-haproxy" not in names

        eventually(pruned, 30, "the HAProxy tier to be pruned after the switch to provider service")

        # A spec the API admits but the operator refuses: Invalid=True and a Warning Event (create events).
        dup_env = [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]
        swa.create_namespaced_custom_object(G, V, namespace, P, fast_app("broken", env=dup_env))
        eventually(
            lambda: (condition(swa, namespace, "broken", "Invalid") or {}).get("status") == "True", 30, "Invalid=True"
        )
        eventually(
            lambda: admin_core.list_namespaced_event(namespace, field_selector="reason=InvalidSpec").items,
            30,
            "the InvalidSpec Event",
        )
    finally:
        op.stop()
    requests = clean_run(op, cluster, mark)
    assert requests, "no request of the ServiceAccount in the audit log"
    rules = granted(one_kind(render_base(cluster), "ClusterRole")) | granted(one_kind(render_base(cluster), "Role"))
    assert rules >= LEASES
    unused = rules - used(requests)
    assert unused == ADMISSION_ONLY, f"granted but never used (remove them, or explain): {sorted(unused)}"


def test_operator_watching_one_namespace_uses_the_rest(cluster, api_client, namespace, sa_kubeconfig, tmp_path):
    """WEBSCALE_NAMESPACE: the informers list and watch in that namespace only; nothing is denied."""
    swa = client.CustomObjectsApi(api_client)
    mark = audit_mark(cluster)
    op = start_operator(cluster, sa_kubeconfig, tmp_path / "operator.log", WEBSCALE_NAMESPACE=namespace)
    try:
        swa.create_namespaced_custom_object(G, V, namespace, P, fast_app("shop"))
        eventually(lambda: is_ready(swa, namespace, "shop"), 60, "Ready=True")
    finally:
        op.stop()
    requests = clean_run(op, cluster, mark)
    docs = render_base(cluster)
    assert used(requests) <= granted(one_kind(docs, "ClusterRole")) | granted(one_kind(docs, "Role"))
    assert all(f"/namespaces/{namespace}/" in e["requestURI"] for e in requests if "/leases" not in e["requestURI"])


# ---- least privilege: what the ServiceAccount must not do ---------------------------------------
def test_service_account_is_refused_what_the_operator_never_does(sa_client, namespace):
    core, apps = client.CoreV1Api(sa_client), client.AppsV1Api(sa_client)
    crds, rbac = client.ApiextensionsV1Api(sa_client), client.RbacAuthorizationV1Api(sa_client)
    swa = client.CustomObjectsApi(sa_client)
    configmap = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"))
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="x"), spec=client.V1PodSpec(containers=[client.V1Container(name="x")])
    )
    deployment = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="x"),
        spec=client.V1DeploymentSpec(
            selector=client.V1LabelSelector(match_labels={"a": "b"}),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={"a": "b"}), spec=pod.spec),
        ),
    )
    binding = client.V1ClusterRoleBinding(
        metadata=client.V1ObjectMeta(name="x"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="cluster-admin"),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name=SA, namespace=SYSTEM_NS)],
    )
    forbidden = {
        "list secrets": lambda: core.list_namespaced_secret(namespace),
        "list secrets everywhere": lambda: core.list_secret_for_all_namespaces(),
        "get a secret": lambda: core.read_namespaced_secret("x", namespace),
        "update (PUT) a configmap": lambda: core.replace_namespaced_config_map("x", namespace, configmap),
        "create a pod": lambda: core.create_namespaced_pod(namespace, pod),
        "delete a pod": lambda: core.delete_namespaced_pod("x", namespace),
        "get a node": lambda: core.read_node("x"),
        "delete a service": lambda: core.delete_namespaced_service("x", namespace),
        "update (PUT) a deployment": lambda: apps.replace_namespaced_deployment("x", namespace, deployment),
        "scale a deployment": lambda: apps.patch_namespaced_deployment_scale("x", namespace, {"spec": {"replicas": 3}}),
        "create a ScaledWebApp": lambda: swa.create_namespaced_custom_object(G, V, namespace, P, app_body("x")),
        "delete a ScaledWebApp": lambda: swa.delete_namespaced_custom_object(G, V, namespace, P, "x"),
        "delete a CRD": lambda: crds.delete_custom_resource_definition("scaledwebapps.webscale.dev"),
        "bind cluster-admin": lambda: rbac.create_cluster_role_binding(binding),
        "mint tokens": lambda: core.create_namespaced_service_account_token(
            SA, SYSTEM_NS, client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
        ),
    }
    allowed_anyway = []
    for what, call in forbidden.items():
        try:
            call()
        except ApiException as exc:
            if exc.status != 403:
                allowed_anyway.append(f"{what}: {exc.status} {exc.reason}")
        else:
            allowed_anyway.append(f"{what}: succeeded")
    assert allowed_anyway == []
    # ...while what it does need works with the same credentials.
    assert apps.list_namespaced_deployment(namespace).items == []
    assert swa.list_cluster_custom_object(G, V, P)["kind"] == "ScaledWebAppList"
