"""Fixtures several integration modules use (each module-scoped: every module gets its own)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from manifest_helpers import applied_base_rbac

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base_rbac(cluster, crd_installed) -> Iterator[list[dict]]:
    """The base's Namespace, ServiceAccount, ClusterRole and ClusterRoleBinding, applied; removed afterwards."""
    yield from applied_base_rbac(cluster)


@pytest.fixture(scope="module")
def helm_bin() -> str:
    """helm built from its Go module (scripts/build_helm.sh, cached in ~/.cache/webscale/tools)."""
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "build_helm.sh")], capture_output=True, text=True)
    assert proc.returncode == 0, f"building helm failed (make helm-build):\n{proc.stderr}"
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def helm(cluster, helm_bin, tmp_path_factory) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run helm against the local control plane; returns the CompletedProcess (check=False: callers assert)."""
    home = tmp_path_factory.mktemp("helm-home")
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [helm_bin, f"--kubeconfig={cluster.kubeconfig}", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        if check:
            assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stderr}"
        return proc

    return run
