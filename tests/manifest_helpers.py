"""Helpers shared by the manifest tests: tests/unit/test_manifests_*.py read manifests/ as files,
tests/integration/test_rbac_manifests.py and test_manifests_apply.py render and apply it on the local
control plane."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import yaml
from waiting import eventually

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
BASE = MANIFESTS / "base"
PROM = MANIFESTS / "prometheus-kind"
CHART = MANIFESTS / "helm" / "webscale-operator"
KIND_DEPLOY = ROOT / "scripts" / "kind_deploy.sh"
CRD_NAME = "scaledwebapps.webscale.dev.yaml"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

SYSTEM_NS = "webscale-system"
SA = "webscale-operator"
RBAC_KINDS = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding")

Permission = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)


# ---- manifests/ as files (unit tests) -----------------------------------------------------------
def docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def one(path: Path, kind: str | None = None) -> dict:
    found = [d for d in docs(path) if kind is None or d["kind"] == kind]
    assert len(found) == 1, f"{path}: expected one {kind or 'document'}"
    return found[0]


def base_container() -> dict:
    return one(BASE / "deployment.yaml")["spec"]["template"]["spec"]["containers"][0]


# ---- rendering and applying (integration tests) -------------------------------------------------
def kubectl_bin(cluster) -> str:
    return str(cluster.bin_dir / "bin" / "webscale-k8s")


def run_kubectl(cluster, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """kubectl as the admin, keeping stderr (Pod Security warnings arrive there)."""
    cmd = [kubectl_bin(cluster), "kubectl", f"--kubeconfig={cluster.kubeconfig}", *args]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc


def render(cluster, path: Path = BASE) -> list[dict]:
    return [d for d in yaml.safe_load_all(cluster.kubectl("kustomize", str(path))) if d]


def render_base(cluster) -> list[dict]:
    return render(cluster, BASE)


def one_kind(docs: list[dict], kind: str) -> dict:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def granted(cluster_role: dict) -> set[Permission]:
    return {
        (group, resource, verb)
        for rule in cluster_role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def helm_binary() -> str | None:
    return os.environ.get("WEBSCALE_HELM") or shutil.which("helm")


def applied_base_rbac(cluster) -> Iterator[list[dict]]:
    """Body of each module's `base_rbac` fixture: the base's Namespace, ServiceAccount, ClusterRole and
    ClusterRoleBinding, applied; removed afterwards. Yields the whole rendered base.

    Another module's teardown may still be deleting the namespace (without waiting): objects created
    in it would be refused, so wait for that first."""
    eventually(
        lambda: (
            cluster.kubectl("get", "namespace", SYSTEM_NS, "--ignore-not-found", "-o", "jsonpath={.status.phase}")
            != "Terminating"
        ),
        120,
        f"namespace {SYSTEM_NS} from an earlier module to be deleted",
        interval=0.5,
    )
    docs = render_base(cluster)
    rbac = [d for d in docs if d["kind"] in RBAC_KINDS]
    assert sorted(d["kind"] for d in rbac) == sorted(RBAC_KINDS)
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(rbac))
    yield docs
    for kind in ("clusterrolebinding", "clusterrole"):
        cluster.kubectl("delete", kind, SA, "--ignore-not-found", check=False)
    cluster.kubectl("delete", "namespace", SYSTEM_NS, "--ignore-not-found", "--wait=false", check=False)
