"""Flux's source-controller and kustomize-controller (built by tests/flux/build.sh) on the local control plane.

    with Flux(cluster, workdir) as flux:
        flux.apply(*objects)             # e.g. manifests/flux/webscale.yaml's GitRepository and Kustomizations
        flux.kustomization("webscale-apps")   # its live object (status, conditions, inventory)

Each controller runs as its own process with its own ServiceAccount's token (cluster-admin, as Flux's
own install binds them), so the API server's audit log tells their requests apart:
system:serviceaccount:flux-system:source-controller / :kustomize-controller. Loopback only: the
source-controller serves artifacts on 127.0.0.1 and advertises that address to the kustomize-controller.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from webscale_local.cluster_config import kubeconfig_yaml
from webscale_local.launcher import ROOT, LocalCluster
from webscale_local.procs import ClusterError, Component, free_port, http_ok
from webscale_local.swa import wait_established

NAMESPACE = "flux-system"
CONTROLLERS = ("source-controller", "kustomize-controller")


def build() -> Path:
    """Build (or reuse the cached) controllers; returns the output directory (bin/, crds/)."""
    proc = subprocess.run(["bash", str(ROOT / "tests" / "flux" / "build.sh")], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise ClusterError("building Flux's controllers failed (see the messages above)")
    return Path(proc.stdout.strip().splitlines()[-1])


def user(controller: str) -> str:
    """The audit log's username of a controller."""
    return f"system:serviceaccount:{NAMESPACE}:{controller}"


class Flux:
    """The two controllers, their CRDs, namespace and ServiceAccounts; stop() ends both processes."""

    def __init__(self, cluster: LocalCluster, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = Path(workdir) / "flux"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.components: list[Component] = []
        self.out: Path | None = None

    def __enter__(self) -> Flux:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Flux:
        try:
            self.out = build()
            self.cluster.kubectl("apply", "--server-side", "-f", str(self.out / "crds"))
            for crd in ("gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io"):
                wait_established(self.cluster.kubectl, crd)
            self.apply(*self._rbac())
            storage = free_port()
            (self.workdir / "artifacts").mkdir(exist_ok=True)
            self._start(
                "source-controller",
                [
                    f"--storage-path={self.workdir / 'artifacts'}",
                    f"--storage-addr=127.0.0.1:{storage}",
                    f"--storage-adv-addr=127.0.0.1:{storage}",
                ],
            )
            self._start("kustomize-controller", ["--no-remote-bases=true"])
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for comp in reversed(self.components):
            comp.stop()
        self.components.clear()

    def apply(self, *objects: dict[str, Any]) -> str:
        return self.cluster.kubectl("apply", "-f", "-", stdin="\n---\n".join(json.dumps(o) for o in objects))

    def get(self, kind: str, name: str) -> dict[str, Any]:
        return json.loads(self.cluster.kubectl("-n", NAMESPACE, "get", kind, name, "-o", "json"))

    def kustomization(self, name: str) -> dict[str, Any]:
        return self.get("kustomizations.kustomize.toolkit.fluxcd.io", name)

    def logs(self) -> str:
        return "\n".join(f"--- {c.name}\n{c.log_tail(40)}" for c in self.components)

    # --- steps -------------------------------------------------------------------------------
    def _rbac(self) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}]
        for name in CONTROLLERS:
            objects.append(
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": NAMESPACE}}
            )
            objects.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": f"webscale-tests-flux-{name}"},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "cluster-admin",
                    },
                    "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}],
                }
            )
        return objects

    def _start(self, name: str, flags: list[str]) -> None:
        assert self.out is not None
        token = self.cluster.kubectl("-n", NAMESPACE, "create", "token", name, "--duration=2h").strip()
        kubeconfig = self.workdir / f"{name}.kubeconfig"
        kubeconfig.write_text(kubeconfig_yaml(self.cluster.server, token, self.cluster.state_dir / "pki"))
        kubeconfig.chmod(0o600)
        health, metrics = free_port(), free_port()
        args = [
            "env",
            f"KUBECONFIG={kubeconfig}",
            f"RUNTIME_NAMESPACE={NAMESPACE}",
            str(self.out / "bin" / name),
            f"--health-addr=127.0.0.1:{health}",
            f"--metrics-addr=127.0.0.1:{metrics}",
            "--enable-leader-election=false",
            "--watch-all-namespaces=true",
            "--log-level=debug",
            "--events-addr=",
            *flags,
        ]
        comp = Component(name, args, self.workdir / f"{name}.log", [health, metrics], lambda: _ok(health))
        self.components.append(comp)
        comp.start()
        comp.wait_ready()


def _ok(port: int) -> bool:
    return http_ok(f"http://127.0.0.1:{port}/readyz")
