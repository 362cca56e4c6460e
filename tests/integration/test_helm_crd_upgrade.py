"""Upgrading the CRD with the chart. Helm installs crds/ once and never upgrades it; the documented
step (README "Install", the chart's NOTES) applies the new CRD server-side before `helm upgrade`:

    helm show crds manifests/helm/webscale-operator | kubectl apply --server-side --force-conflicts -f -
    helm upgrade webscale manifests/helm/webscale-operator -n webscale-system

--force-conflicts is needed: Helm created the CRD, so its field manager "helm" owns .spec.versions
and a plain server-side apply stops at that conflict. Here the previous release's chart is the
current one without the `spec.state` field; Helm creates its CRD, the API server refuses a
ScaledWebApp that uses the field, and after the step it is accepted and kept.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from manifest_helpers import CHART, CRD_NAME, kubectl_bin, run_kubectl, wait_namespace_gone
from waiting import eventually
from webscale_local.swa import G, P, V

pytestmark = pytest.mark.integration

RELEASE_NS = "webscale-crd-upgrade"
CRD = "scaledwebapps.webscale.dev"


def old_chart(tmp_path):
    """The chart as the previous release had it: version 0.0.9, its CRD without spec.state."""
    chart = tmp_path / "webscale-operator"
    shutil.copytree(CHART, chart)
    crd = yaml.safe_load((chart / "crds" / CRD_NAME).read_text())
    for version in crd["spec"]["versions"]:
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        del spec["properties"]["state"]
    (chart / "crds" / CRD_NAME).write_text(yaml.safe_dump(crd, sort_keys=False))
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    (chart / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": "0.0.9"}, sort_keys=False))
    return chart


def delete_crd(cluster, api_client) -> None:
    """Delete the CRD (and every ScaledWebApp), releasing finalizers left by stopped operators."""
    api = client.CustomObjectsApi(api_client)
    with contextlib.suppress(ApiException):
        for item in api.list_cluster_custom_object(G, V, P)["items"]:
            meta = item["metadata"]
            if meta.get("finalizers"):
                with contextlib.suppress(ApiException):
                    api.patch_namespaced_custom_object(
                        G, V, meta["namespace"], P, meta["name"], {"metadata": {"finalizers": None}}
                    )
    cluster.kubectl("delete", "crd", CRD, "--ignore-not-found", "--wait=true", "--timeout=120s")
    eventually(lambda: cluster.kubectl("get", "crd", CRD, "--ignore-not-found") == "", 120, "the CRD to be gone")


def app(name: str) -> str:
    body = {
        "apiVersion": f"{G}/{V}",
        "kind": "ScaledWebApp",
        "metadata": {"name": name, "namespace": RELEASE_NS},
        "spec": {"image": "registry.example/shop:1", "state": {"redisURL": "redis://redis.shop:6379/0"}},
    }
    return json.dumps(body)


def test_crd_upgrade_adds_a_field(cluster, api_client, crd_installed, helm, tmp_path):
    wait_namespace_gone(cluster, RELEASE_NS)
    delete_crd(cluster, api_client)
    try:
        helm("install", "crdup", str(old_chart(tmp_path)), "-n", RELEASE_NS, "--create-namespace")
        crd = json.loads(cluster.kubectl("get", "crd", CRD, "-o", "json", "--show-managed-fields"))
        assert "helm" in {m["manager"] for m in crd["metadata"]["managedFields"]}
        assert (
            "state" not in crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        )

        strict = run_kubectl_failing(cluster, app("before"))
        assert 'unknown field "spec.state"' in strict, strict

        # The upgrade step: the new CRD, server-side, then the chart.
        crds = helm("show", "crds", str(CHART)).stdout
        step = run_kubectl(cluster, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=crds)
        assert f"customresourcedefinition.apiextensions.k8s.io/{CRD} serverside-applied" in step.stdout
        helm("upgrade", "crdup", str(CHART), "-n", RELEASE_NS)
        eventually(
            lambda: (
                "True"
                in cluster.kubectl(
                    "get", "crd", CRD, "-o", "jsonpath={.status.conditions[?(@.type=='Established')].status}"
                )
            ),
            30,
            "the upgraded CRD to be established",
        )
        run_kubectl(cluster, "apply", "-f", "-", stdin=app("after"))
        after = client.CustomObjectsApi(api_client).get_namespaced_custom_object(G, V, RELEASE_NS, P, "after")
        assert after["spec"]["state"] == {"redisURL": "redis://redis.shop:6379/0"}
    finally:
        helm("uninstall", "crdup", "-n", RELEASE_NS, check=False)
        cluster.kubectl("delete", "namespace", RELEASE_NS, "--wait=false", check=False)
        # Leave the session's CRD as crds/ has it, whatever happened above.
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CHART / "crds"), check=False)


def run_kubectl_failing(cluster, stdin: str) -> str:
    """`kubectl apply -f -` that must fail (kubectl validates strictly on the server); its stderr."""
    proc = subprocess.run(
        [kubectl_bin(cluster), "kubectl", f"--kubeconfig={cluster.kubeconfig}", "apply", "-f", "-"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0, proc.stdout
    return proc.stderr
