"""The Helm chart, for real, on the local control plane: install, upgrade to changed values, rollback,
uninstall; values.schema.json refusing bad values; the CRD upgrade path (Helm never upgrades crds/).

How the operator comes up from the chart: `helm install` creates the chart's Deployment for real (the API
server admits it, kwok runs its pods as fakes: nothing executes the image, this machine has no container
runtime), and the operator itself runs as a local process with the chart's ServiceAccount token
(TokenRequest) and the WEBSCALE_* settings of the Deployment Helm installed: so the chart's RBAC and
settings are what the operator runs on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from manifest_helpers import (
    CHART,
    audit_mark,
    denied,
    mint_token,
    operator_env,
    wait_namespace_gone,
    write_sa_kubeconfig,
)
from waiting import eventually
from webscale_local import audit
from webscale_local.operator_process import OperatorProcess
from webscale_local.ports import free_port
from webscale_local.swa import G, P, V, app_body, is_ready

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RELEASE_NS = "webscale-helm"
FULLNAME = "wso-webscale-operator"  # release "wso": <release>-<chart>


def deployment(api_client, name: str = FULLNAME, ns: str = RELEASE_NS) -> client.V1Deployment:
    return client.AppsV1Api(api_client).read_namespaced_deployment(name, ns)


def env_of(dep: client.V1Deployment) -> dict[str, str]:
    return {e.name: e.value for e in dep.spec.template.spec.containers[0].env if e.value is not None}


def refused(cluster, since: int) -> list[str]:
    """Requests of the chart's ServiceAccount refused for want of a permission, since `since` (an audit_mark)
    (a refusal because an earlier test's namespace is being deleted is not one)."""
    user = f"system:serviceaccount:{RELEASE_NS}:{FULLNAME}"
    entries = audit.entries(cluster.audit_log, since)
    return denied([e for e in entries if e.get("user", {}).get("username") == user and "objectRef" in e])


def revisions(helm, release: str) -> list[tuple[int, str]]:
    history = json.loads(helm("history", release, "-n", RELEASE_NS, "-o", "json").stdout)
    return [(h["revision"], h["status"]) for h in history]


def test_install_upgrade_rollback_uninstall(cluster, api_client, crd_installed, helm, namespace, tmp_path):
    wait_namespace_gone(cluster, RELEASE_NS)
    installed = helm(
        "install", "wso", str(CHART), "-n", RELEASE_NS, "--create-namespace", "--wait", "--timeout", "120s"
    )
    assert "STATUS: deployed" in installed.stdout
    try:
        dep = deployment(api_client)
        assert dep.spec.template.spec.containers[0].image == "ghcr.io/webscale-dev/webscale-operator:0.1.0"
        assert env_of(dep)["WEBSCALE_LOG_FORMAT"] == "json"
        # helm's --wait accepts a Deployment once ready >= replicas - maxUnavailable: the second pod may
        # still be starting when it returns
        eventually(
            lambda: deployment(api_client).status.available_replicas == dep.spec.replicas,
            60,
            "every operator replica available after helm install --wait",
        )
        policy = client.PolicyV1Api(api_client)
        net = client.NetworkingV1Api(api_client)
        pdb = policy.read_namespaced_pod_disruption_budget(FULLNAME, RELEASE_NS)
        assert pdb.spec.min_available == 1 and pdb.spec.selector.match_labels == dep.spec.selector.match_labels
        # the API server counts the operator's pods against it: one of the two may be evicted
        eventually(
            lambda: policy.read_namespaced_pod_disruption_budget(FULLNAME, RELEASE_NS).status.disruptions_allowed == 1,
            60,
            "the PDB to allow one disruption",
        )
        assert net.list_namespaced_network_policy(RELEASE_NS).items == []  # off by default

        # The operator on the chart's ServiceAccount and settings reconciles an app.
        rendered = yaml.safe_load(
            helm("get", "manifest", "wso", "-n", RELEASE_NS).stdout.split(
                "---\n# Source: webscale-operator/templates/deployment.yaml\n"
            )[1]
        )
        env = operator_env(rendered, WEBSCALE_LIVENESS_PORT="0", WEBSCALE_LOG_FORMAT="plain")
        token = mint_token(api_client, RELEASE_NS, FULLNAME)
        kubeconfig = write_sa_kubeconfig(cluster, token, tmp_path / "kubeconfig", RELEASE_NS, FULLNAME)
        swa = client.CustomObjectsApi(api_client)
        dead = f"http://127.0.0.1:{free_port()}"  # no Prometheus there: connection refused, on loopback
        env["WEBSCALE_PROMETHEUS_URLS"] = dead
        mark = audit_mark(cluster)
        op = OperatorProcess(cluster, tmp_path / "operator.log", KUBECONFIG=str(kubeconfig), **env).start()
        try:
            metrics = {"prometheus": {"url": dead}}
            swa.create_namespaced_custom_object(G, V, namespace, P, app_body("shop", metrics=metrics))
            eventually(
                lambda: is_ready(swa, namespace, "shop"),
                60,
                "the app to be Ready under the chart's ServiceAccount",
            )
        finally:
            op.stop()
        assert refused(cluster, mark) == [], op.log()[-3000:]

        # Upgrade to a changed values file.
        changed = tmp_path / "changed.yaml"
        changed.write_text(
            yaml.safe_dump(
                {
                    "image": {"tag": "0.1.1"},
                    "settings": {"logFormat": "plain", "resyncSeconds": 30},
                    "podAnnotations": {"example.com/owner": "team-shop"},
                    "networkPolicy": {"enabled": True, "apiServerCidrs": ["127.0.0.1/32"]},
                }
            )
        )
        helm("upgrade", "wso", str(CHART), "-n", RELEASE_NS, "-f", str(changed), "--wait", "--timeout", "120s")
        dep = deployment(api_client)
        assert dep.spec.template.spec.containers[0].image.endswith(":0.1.1")
        assert (env_of(dep)["WEBSCALE_LOG_FORMAT"], env_of(dep)["WEBSCALE_RESYNC_SECONDS"]) == ("plain", "30")
        assert dep.spec.template.metadata.annotations["example.com/owner"] == "team-shop"
        (netpol,) = net.list_namespaced_network_policy(RELEASE_NS).items
        assert netpol.spec.pod_selector.match_labels == dep.spec.selector.match_labels
        assert [[p.port for p in rule.ports] for rule in netpol.spec.ingress] == [[8080], [8081]]  # metrics, wake
        assert netpol.spec.egress[1].to[0].ip_block.cidr == "127.0.0.1/32"
        assert [{p.port for p in rule.ports} for rule in netpol.spec.egress[2:]] == [
            {8404},
            {9090},
        ]  # HAProxy, Prometheus

        # A bad values file is refused before anything changes.
        bad = helm("upgrade", "wso", str(CHART), "-n", RELEASE_NS, "--set", "settings.logFormat=xml", check=False)
        assert bad.returncode != 0 and "at '/settings/logFormat'" in bad.stderr, bad.stderr
        assert revisions(helm, "wso") == [(1, "superseded"), (2, "deployed")]

        # Rollback to the first revision.
        helm("rollback", "wso", "1", "-n", RELEASE_NS, "--wait", "--timeout", "120s")
        dep = deployment(api_client)
        assert dep.spec.template.spec.containers[0].image.endswith(":0.1.0")
        assert env_of(dep)["WEBSCALE_LOG_FORMAT"] == "json" and env_of(dep)["WEBSCALE_RESYNC_SECONDS"] == "60"
        assert "example.com/owner" not in (dep.spec.template.metadata.annotations or {})
        assert net.list_namespaced_network_policy(RELEASE_NS).items == []
        assert revisions(helm, "wso") == [(1, "superseded"), (2, "superseded"), (3, "deployed")]
    finally:
        uninstalled = helm("uninstall", "wso", "-n", RELEASE_NS, "--wait", check=False)
    assert uninstalled.returncode == 0, uninstalled.stderr
    apps, rbac = client.AppsV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    assert apps.list_namespaced_deployment(RELEASE_NS).items == []
    assert client.PolicyV1Api(api_client).list_namespaced_pod_disruption_budget(RELEASE_NS).items == []
    assert [r for r in rbac.list_cluster_role().items if r.metadata.name == FULLNAME] == []
    assert [b for b in rbac.list_cluster_role_binding().items if b.metadata.name == FULLNAME] == []
    # Helm never deletes a CRD from crds/: the apps (and their data) survive an uninstall.
    assert client.CustomObjectsApi(api_client).get_namespaced_custom_object(G, V, namespace, P, "shop")
    cluster.kubectl("delete", "namespace", RELEASE_NS, "--wait=false", check=False)


@pytest.mark.parametrize(
    ("sets", "words"),
    [
        (["settings.logFormat=xml"], ["at '/settings/logFormat'", "one of 'json', 'plain'"]),
        (["settings.resyncSecond=5"], ["at '/settings'", "'resyncSecond' not allowed"]),
        (["image.pullPolicy=Sometimes"], ["at '/image/pullPolicy'", "'IfNotPresent'"]),
        (["settings.livenessPort=70000"], ["at '/settings/livenessPort'", "want 65,535"]),
    ],
)
def test_schema_refuses_bad_values_with_the_field_named(cluster, helm, sets, words):
    args = [a for s in sets for a in ("--set", s)]
    refused = helm("install", "bad", str(CHART), "-n", "webscale-bad", "--create-namespace", *args, check=False)
    assert refused.returncode != 0
    assert "values don't meet the specifications of the schema" in refused.stderr, refused.stderr
    for word in words:
        assert word in refused.stderr, refused.stderr
    assert "bad" not in helm("list", "-A", "-q").stdout.split()
    assert cluster.kubectl("get", "namespace", "webscale-bad", "--ignore-not-found") == ""


def test_namespaced_install_watches_one_namespace(cluster, api_client, crd_installed, helm, namespace, tmp_path):
    """settings.namespace: RoleBinding there, cluster-wide reads only; the operator leaves other namespaces alone."""
    wait_namespace_gone(cluster, RELEASE_NS)
    watched, other = namespace, f"{namespace}-other"
    cluster.kubectl("create", "namespace", other)
    sets = ["--set", f"settings.namespace={watched}"]
    helm("install", "wso", str(CHART), "-n", RELEASE_NS, "--create-namespace", *sets, "--wait", "--timeout", "120s")
    swa = client.CustomObjectsApi(api_client)
    rbac = client.RbacAuthorizationV1Api(api_client)
    try:
        assert rbac.read_namespaced_role_binding(FULLNAME, watched).role_ref.name == FULLNAME
        bindings = {b.metadata.name for b in rbac.list_cluster_role_binding().items}
        assert FULLNAME not in bindings and f"{FULLNAME}-cluster-reads" in bindings
        manifest = [d for d in yaml.safe_load_all(helm("get", "manifest", "wso", "-n", RELEASE_NS).stdout) if d]
        env = operator_env(
            next(d for d in manifest if d["kind"] == "Deployment"),
            WEBSCALE_LIVENESS_PORT="0",
            WEBSCALE_LOG_FORMAT="plain",
        )
        assert env["WEBSCALE_NAMESPACE"] == watched
        token = mint_token(api_client, RELEASE_NS, FULLNAME)
        kubeconfig = write_sa_kubeconfig(cluster, token, tmp_path / "kubeconfig", RELEASE_NS, FULLNAME)
        dead = f"http://127.0.0.1:{free_port()}"  # no Prometheus there: connection refused, on loopback
        env["WEBSCALE_PROMETHEUS_URLS"] = dead
        metrics = {"prometheus": {"url": dead}}
        swa.create_namespaced_custom_object(G, V, other, P, app_body("outside", metrics=metrics))
        mark = audit_mark(cluster)
        op = OperatorProcess(cluster, tmp_path / "operator.log", KUBECONFIG=str(kubeconfig), **env).start()
        try:
            swa.create_namespaced_custom_object(G, V, watched, P, app_body("inside", metrics=metrics))
            eventually(
                lambda: is_ready(swa, watched, "inside"),
                60,
                "the app in the watched namespace to be Ready",
            )
        finally:
            op.stop()
        assert refused(cluster, mark) == [], op.log()[-3000:]
        assert "status" not in swa.get_namespaced_custom_object(G, V, other, P, "outside")
        assert client.AppsV1Api(api_client).list_namespaced_deployment(other).items == []
    finally:
        helm("uninstall", "wso", "-n", RELEASE_NS, "--wait", check=False)
        cluster.kubectl("delete", "namespace", other, RELEASE_NS, "--wait=false", check=False)
    assert f"{FULLNAME}-cluster-reads" not in {b.metadata.name for b in rbac.list_cluster_role_binding().items}
