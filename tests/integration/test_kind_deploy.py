"""scripts/kind_deploy.sh and scripts/minikube_deploy.sh, run for real against the local control plane.

This machine has no container runtime, so docker, kind and minikube are recording stubs (the image build
and load are the only steps not run); kubectl is the local control plane's, with the script's
`--context kind-kind` / `--context minikube` dropped. Every manifest the scripts apply goes to the real API
server (a real apply: the same admission and validation as a server-side dry run, and more: the objects
must then work). The operator the base deploys runs as a local process with the base ServiceAccount's
token, so the script's last wait (the example Ready) is met by the real operator. The second run
(minikube) must change nothing: the scripts are idempotent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from manifest_helpers import (
    BASE,
    SA,
    SYSTEM_NS,
    mint_token,
    one_kind,
    operator_env,
    render,
    wait_namespace_gone,
    write_sa_kubeconfig,
)
from waiting import eventually
from webscale_local.operator_process import OperatorProcess

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STUB = """#!/bin/bash
echo "$(basename "$0") $*" >> "$STUB_LOG"
case "$(basename "$0") $*" in
  "kind get clusters"*) echo kind ;;
esac
exit 0
"""
KUBECTL = """#!/bin/bash
# the local control plane's kubectl, without the --context the script names
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --context) shift 2 ;;
    --context=*) shift ;;
    *) args+=("$1"); shift ;;
  esac
done
exec "{binary}" kubectl --kubeconfig="{kubeconfig}" "${{args[@]}}"
"""


@pytest.fixture()
def tools(cluster, tmp_path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("docker", "kind", "minikube"):
        (bin_dir / tool).write_text(STUB)
        (bin_dir / tool).chmod(0o755)
    kubectl = bin_dir / "kubectl-local"
    kubectl.write_text(KUBECTL.format(binary=cluster.bin_dir / "bin" / "webscale-k8s", kubeconfig=cluster.kubeconfig))
    kubectl.chmod(0o755)
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "KUBECTL": str(kubectl),
        "STUB_LOG": str(tmp_path / "stubs.log"),
        "WAIT_TIMEOUT": "120s",
        "HOME": str(tmp_path),
    }


def run_script(script: str, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [shutil.which("bash") or "bash", str(ROOT / "scripts" / script), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_kind_then_minikube_deploy_on_the_local_control_plane(cluster, api_client, crd_installed, tools, tmp_path):
    wait_namespace_gone(cluster)
    wait_namespace_gone(cluster, "monitoring")
    env = operator_env(one_kind(render(cluster, BASE), "Deployment"), WEBSCALE_LIVENESS_PORT="0")
    op = None
    try:
        first = run_script("kind_deploy.sh", tools, "kind")
        # The ServiceAccount exists once the script applied the base: run the operator on its token.
        eventually(
            lambda: cluster.kubectl("-n", SYSTEM_NS, "get", "serviceaccount", SA, "--ignore-not-found"),
            120,
            "the base's ServiceAccount",
        )
        kubeconfig = write_sa_kubeconfig(cluster, mint_token(api_client), tmp_path / "sa-kubeconfig")
        op = OperatorProcess(cluster, tmp_path / "operator.log", KUBECONFIG=str(kubeconfig), **env).start()
        out, _ = first.communicate(timeout=400)
        assert first.returncode == 0, out
        assert "kind-deploy: done" in out
        for created in (
            "customresourcedefinition.apiextensions.k8s.io/scaledwebapps.webscale.dev",
            f"deployment.apps/{SA} created",
            "deployment.apps/prometheus created",
            "scaledwebapp.webscale.dev/shop created",
        ):
            assert created in out, out
        stubs = Path(tools["STUB_LOG"]).read_text()
        assert "docker build" in stubs and "kind load docker-image --name kind" in stubs

        second = run_script("minikube_deploy.sh", tools)
        out2, _ = second.communicate(timeout=400)
        assert second.returncode == 0, out2
        assert " created" not in out2, out2  # idempotent: everything "unchanged" or "configured"
        assert "scaledwebapp.webscale.dev/shop unchanged" in out2, out2
        assert "minikube -p minikube image load" in Path(tools["STUB_LOG"]).read_text()
    finally:
        if op is not None:
            op.stop()
            print(op.log()[-3000:])
        cluster.kubectl("-n", "default", "delete", "scaledwebapp", "shop", "--ignore-not-found", check=False)
        for name in ("clusterrolebinding/webscale-prometheus", "clusterrole/webscale-prometheus"):
            cluster.kubectl("delete", name, "--ignore-not-found", check=False)
        for name in (f"clusterrolebinding/{SA}", f"clusterrole/{SA}"):
            cluster.kubectl("delete", name, "--ignore-not-found", check=False)
        cluster.kubectl("delete", "namespace", SYSTEM_NS, "monitoring", "--wait=false", check=False)
