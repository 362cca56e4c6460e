#!/usr/bin/env python3
"""A real Kubernetes node beside the local control plane: containerd + runc (Debian packages), the
kubelet and kube-proxy from the same k8s.io/kubernetes module as the control plane, the CNI bridge,
CoreDNS as the cluster DNS, and the pause image compiled from source (tests/node/build.sh). No registry:
images are imported into containerd's `k8s.io` namespace from docker-archive tars.

It runs only inside a network namespace the harness created, with no default route (netns.py):

    python -m webscale_local.node_cli up      # make node: start one in the background, print how to reach it
    python -m webscale_local.node_cli down    # make node-down

Every process it starts is stopped on exit, and what the pods left (processes, mounts, cgroups) is
removed (node_cleanup.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from webscale_local import netns, node_cleanup
from webscale_local.image_archive import merged_archive
from webscale_local.launcher import LocalCluster
from webscale_local.node_config import (
    NODE_IP,
    cni_conflist,
    containerd_socket,
    containerd_toml,
    corefile,
    kube_proxy_config,
    kubelet_config,
)
from webscale_local.procs import ClusterError, Component

ROOT = Path(__file__).resolve().parents[3]
IMAGES_DIR = Path(os.environ.get("WEBSCALE_CACHE", Path.home() / ".cache" / "webscale")) / "images"
"""Where tests/node/images.sh leaves its docker-archive tars."""
IMAGE_NAMES = ("operator", "sample-app", "prometheus", "haproxy")


def built_images(directory: Path = IMAGES_DIR) -> tuple[Path, ...]:
    """The tars images.sh built; a clear error naming the missing ones."""
    tars = tuple(directory / f"{name}.tar" for name in IMAGE_NAMES)
    missing = [str(t) for t in tars if not t.exists()]
    if missing:
        raise ClusterError(f"images not built: {missing} (make node-images builds them: tests/node/images.sh)")
    return tars


def build() -> Path:
    """Build (or reuse the cached) node binaries and pause image; returns the output directory."""
    proc = subprocess.run(["bash", str(ROOT / "tests" / "node" / "build.sh")], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise ClusterError("building the node failed (see the messages above)")
    return Path(proc.stdout.strip().splitlines()[-1])


@dataclass
class RealNode:
    """The control plane plus one real node, all in the current network namespace. Context manager."""

    name: str = "webscale-node"
    images: tuple[Path, ...] = ()
    """docker-archive tars to import into containerd's k8s.io namespace before the node registers."""
    bin_dir: Path | None = None
    state_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="webscale-node-")))
    cluster: LocalCluster | None = None
    components: list[Component] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def cgroup_root(self) -> str:
        return self.state_dir.name

    @property
    def socket(self) -> Path:
        return containerd_socket(self.state_dir)

    @property
    def kubeconfig(self) -> Path:
        assert self.cluster is not None
        return self.cluster.kubeconfig

    def __enter__(self) -> RealNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        assert self.cluster is not None
        return self.cluster.kubectl(*args, stdin=stdin, check=check)

    def start(self) -> RealNode:
        netns.assert_inside()
        t0 = time.monotonic()
        try:
            if self.bin_dir is None:
                self.bin_dir = build()
            self.cluster = LocalCluster(nodes=0, kwok=False, node_ip=NODE_IP)
            self.cluster.start()
            self.timings["control_plane"] = time.monotonic() - t0
            self._write_config()
            self._start_containerd()
            t_images = time.monotonic()
            # the images share their base layer: one archive with it once is read once, not four times
            merged = (merged_archive(self.images, self.images[0].parent),) if self.images else ()
            for tar in (self.bin_dir / "pause.tar", *merged):
                self.import_image(tar)
            self.timings["image_import"] = time.monotonic() - t_images
            t_kubelet = time.monotonic()
            self._start_kubelet()
            self.timings["kubelet_to_node_ready"] = time.monotonic() - t_kubelet
            self._start_kube_proxy()
            self._start_coredns()
            self.timings["ready"] = time.monotonic() - t0
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, args: list[str], ready: object, timeout: float = 60) -> Component:
        comp = Component(name, args, self.state_dir / f"{name}.log", [], ready)  # type: ignore[arg-type]
        comp.ready_timeout = timeout
        self.components.append(comp)
        comp.start()
        comp.wait_ready()
        return comp

    def _write_config(self) -> None:
        d = self.state_dir
        (d / "net.d").mkdir(parents=True, exist_ok=True)
        (d / "net.d" / "10-webscale.conflist").write_text(cni_conflist())
        (d / "containerd.toml").write_text(containerd_toml(d))
        (d / "kubelet.yaml").write_text(kubelet_config(d, "/" + self.cgroup_root))
        (d / "kube-proxy.yaml").write_text(kube_proxy_config(self.kubeconfig, self.name))
        (d / "Corefile").write_text(corefile(self.kubeconfig))
        (d / "resolv.conf").write_text("")  # pods get the cluster DNS only; nothing of the machine's
        node_cleanup.make_cgroup_root(self.cgroup_root)

    def _ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ctr", "-a", str(self.socket), *args], capture_output=True, text=True, timeout=300)

    def _start_containerd(self) -> None:
        if shutil.which("containerd") is None:
            raise ClusterError(
                "containerd is not installed (make deps-realnode: apt-get install -y containerd runc ...)"
            )
        args = ["containerd", "--config", str(self.state_dir / "containerd.toml")]
        self._spawn("containerd", args, lambda: self._ctr("version").returncode == 0)

    def import_image(self, tar: Path) -> None:
        proc = self._ctr("-n", "k8s.io", "images", "import", str(tar))
        if proc.returncode != 0:
            raise ClusterError(f"importing image {tar} into containerd failed: {proc.stderr.strip()}")

    def _start_kubelet(self) -> None:
        d = self.state_dir
        args = [str(self.bin_dir / "bin" / "webscale-node"), "kubelet", f"--config={d / 'kubelet.yaml'}"]
        args += [f"--kubeconfig={self.kubeconfig}", f"--hostname-override={self.name}", f"--node-ip={NODE_IP}"]
        args += [f"--root-dir={d / 'kubelet'}", f"--cert-dir={d / 'kubelet' / 'pki'}"]
        self._spawn("kubelet", args, self._node_ready, timeout=90)

    def _node_ready(self) -> bool:
        out = self.kubectl("get", "node", self.name, "-o", "json", check=False)
        conditions = json.loads(out or "{}").get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _start_kube_proxy(self) -> None:
        args = [str(self.bin_dir / "bin" / "webscale-node"), "kube-proxy"]
        args += [f"--config={self.state_dir / 'kube-proxy.yaml'}"]
        self._spawn("kube-proxy", args, self._kubernetes_service_nat)

    def _kubernetes_service_nat(self) -> bool:
        out = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
        return "default/kubernetes:https" in out

    def _start_coredns(self) -> None:
        args = [str(self.bin_dir / "bin" / "coredns"), "-conf", str(self.state_dir / "Corefile")]
        from webscale_local.launcher import _http_ok

        self._spawn("coredns", args, lambda: _http_ok("http://127.0.0.1:8181/ready"))

    def stop(self) -> None:
        for comp in reversed([c for c in self.components if c.name != "containerd"]):
            comp.stop()  # kubelet, kube-proxy, CoreDNS
        node_cleanup.kill(node_cleanup.cgroup_pids(self.cgroup_root))
        node_cleanup.kill(node_cleanup.shim_pids(self.socket))
        for comp in self.components:
            comp.stop()  # containerd
        self.components.clear()
        node_cleanup.unmount_under(self.state_dir)
        node_cleanup.remove_cgroups(self.cgroup_root)
        self._keep_logs()
        if self.cluster is not None:
            self.cluster.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def _keep_logs(self) -> None:
        """With WEBSCALE_NODE_LOG_DIR set, copy every component's log there before the state is removed."""
        keep = os.environ.get("WEBSCALE_NODE_LOG_DIR")
        if not keep:
            return
        Path(keep).mkdir(parents=True, exist_ok=True)
        dirs = [self.state_dir] + ([self.cluster.state_dir] if self.cluster is not None else [])
        for log in (f for d in dirs for f in d.glob("*.log")):
            shutil.copy(log, Path(keep) / log.name)
        (Path(keep) / "timings.json").write_text(json.dumps(self.timings, indent=2))

    def leftovers(self) -> list[str]:
        return node_cleanup.leftovers(self.cgroup_root, self.socket, self.state_dir)
