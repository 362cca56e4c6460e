"""manifests/: the whole kustomize base applies on a real API server with the operator pod admitted
under the "restricted" Pod Security Standard, and so does the Helm chart (server-side dry run, when a
helm binary is available). The operator's RBAC itself is tests/integration/test_rbac_manifests.py.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from kubernetes import client
from manifest_helpers import (
    CHART,
    SA,
    SYSTEM_NS,
    granted,
    helm_binary,
    one_kind,
    render_base,
    run_kubectl,
)
from waiting import eventually

pytestmark = pytest.mark.integration


# ---- the whole base, and the Helm chart ---------------------------------------------------------
def test_base_applies_and_the_operator_pod_is_admitted_as_restricted(cluster, api_client, base_rbac):
    # The CRD only as a server-side dry run: the session's CRD (crd_installed) stays as crds/ has it.
    crd = [d for d in base_rbac if d["kind"] == "CustomResourceDefinition"]
    rest = [d for d in base_rbac if d["kind"] != "CustomResourceDefinition"]
    assert len(crd) == 1
    run_kubectl(cluster, "apply", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump_all(crd))
    applied = run_kubectl(cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(rest))
    assert "PodSecurity" not in applied.stderr, applied.stderr
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    selector = "app.kubernetes.io/name=webscale-operator"

    def pods() -> list:
        return core.list_namespaced_pod(SYSTEM_NS, label_selector=selector).items

    # The namespace enforces "restricted": a non-compliant template would leave the ReplicaSet with FailedCreate.
    both = eventually(lambda: len(pods()) == 2 and pods(), 60, "the 2 operator pods (admitted under 'restricted')")
    for pod in both:
        assert pod.spec.service_account_name == SA
        assert pod.spec.containers[0].image == "ghcr.io/webscale-dev/webscale-operator:0.1.0"
    dep = eventually(
        lambda: (d := apps.read_namespaced_deployment(SA, SYSTEM_NS)).status.available_replicas == 2 and d,
        60,
        "the operator Deployment to be available",
    )
    assert dep.spec.replicas == 2 and dep.spec.strategy.type == "RollingUpdate"  # one leads, one stands by


def test_helm_chart_passes_server_side_validation_and_pod_security(cluster, base_rbac, tmp_path):
    helm = helm_binary()
    if helm is None:
        pytest.skip(
            "no helm binary (set WEBSCALE_HELM or put helm on PATH); tests/unit/test_manifests_helm.py checks it"
        )
    version = json.loads(cluster.kubectl("version", "-o", "json"))["serverVersion"]["gitVersion"]
    rendered = subprocess.run(
        [helm, "template", "rbac-check", str(CHART), "--namespace", SYSTEM_NS, "--kube-version", version],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    assert granted(one_kind(docs, "ClusterRole")) == granted(one_kind(render_base(cluster), "ClusterRole"))
    dry = run_kubectl(cluster, "apply", "--dry-run=server", "-f", "-", stdin=rendered)
    assert "PodSecurity" not in dry.stderr, dry.stderr
    assert "deployment.apps/rbac-check-webscale-operator created (server dry run)" in dry.stdout
