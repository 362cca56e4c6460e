#!/usr/bin/env python3
"""Start and stop a real local Kubernetes control plane on loopback.

Processes: embedded etcd, kube-apiserver (RBAC on, optional audit log),
kube-controller-manager, kube-scheduler and kwok (fake nodes that run pods),
all from the binaries `build.sh` makes. Used by the Makefile (`make cluster`,
`make run`) and by pytest fixtures (tests/conftest.py).

    python -m webscale_local.launcher up [--audit] [--nodes 3] [--node-cpu 4] [--node-pods 110]
                                         # foreground; Ctrl-C stops all; without --node-cpu the
                                         # nodes are sized for examples/*.yaml at replicas.max
                                         [--enable-admission-plugin OwnerReferencesPermissionEnforcement]
    python -m webscale_local.launcher down                         # stop one running in the background

Every process it starts is stopped on exit, on Ctrl-C/SIGTERM and on a
failure half-way; its temporary state directory is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from webscale_local.cluster_config import AUDIT_POLICY, apiserver_args, kubeconfig_yaml, node_manifest
from webscale_local.procs import ClusterError, Component, free_port, wait_until
from webscale_local.sizing import examples, node_size

ROOT = Path(__file__).resolve().parents[3]
HERE = ROOT / "tests" / "cluster"  # the Go module and build.sh
RUN_DIR = Path(os.environ.get("WEBSCALE_CACHE", Path.home() / ".cache" / "webscale")) / "run"
STATE_FILE = RUN_DIR / "cluster.json"


def build() -> Path:
    """Build (or reuse the cached) binaries; returns the output directory."""
    proc = subprocess.run(["bash", str(HERE / "build.sh")], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise ClusterError("building the control plane failed (see the messages above)")
    return Path(proc.stdout.strip().splitlines()[-1])


@dataclass
class LocalCluster:
    """A running control plane. Use as a context manager, or start()/stop()."""

    nodes: int = 3
    node_cpu: str = "4"
    node_memory: str = "16Gi"
    node_pods: int = 110
    """Pods one node accepts (the kubelet's default is 110; benchmarks with thousands of apps raise it)."""
    audit: bool = False
    admission_plugins: tuple[str, ...] = ()
    """Admission plugins to enable besides kube-apiserver's defaults (e.g. OwnerReferencesPermissionEnforcement)."""
    bin_dir: Path | None = None
    state_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="webscale-cluster-")))
    components: list[Component] = field(default_factory=list)
    token: str = field(default_factory=lambda: os.urandom(16).hex())
    api_port: int = 0
    controller_qps: int | None = None
    """Client rate limit of controller-manager and scheduler (None: their defaults, 20 and 50 requests/s);
    `set_controller_qps` changes it on a running cluster."""
    timings: dict[str, float] = field(default_factory=dict)
    kwok: bool = True
    """Start kwok (fake nodes). Off for a real node (webscale_local.node): kwok would take it over."""
    node_ip: str | None = None
    """A real node's address: the API server then listens there too, for pods (see apiserver_args)."""

    # --- paths -------------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.state_dir / "audit.log"

    @property
    def server(self) -> str:
        # with a node IP the API server's self-signed certificate names that address, not 127.0.0.1
        return f"https://{self.node_ip or '127.0.0.1'}:{self.api_port}"

    def _bin(self, name: str) -> str:
        assert self.bin_dir is not None
        return str(self.bin_dir / "bin" / name)

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalCluster:
        t0 = time.monotonic()
        try:
            if self.bin_dir is None:
                self.bin_dir = build()
            self.timings["build"] = time.monotonic() - t0
            t1 = time.monotonic()
            self._write_credentials()
            self._start_with_port_retry(self._start_etcd)
            self._start_with_port_retry(self._start_apiserver)
            self.timings["readyz"] = time.monotonic() - t1
            self._start_controllers()
            self._create_nodes()
            self.timings["nodes_ready"] = time.monotonic() - t1
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for comp in reversed(self.components):
            comp.stop()
        self.components.clear()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def restart_apiserver(self) -> None:
        """Stop kube-apiserver and start it again on the same port: every client's watch breaks, as in
        an upgrade of the control plane. (Blocks until the new one is ready.)"""
        old = next(c for c in self.components if c.name == "apiserver")
        old.stop()
        old.start()
        old.wait_ready()

    def pids(self) -> list[int]:
        return [c.proc.pid for c in self.components if c.proc is not None]

    def ports(self) -> list[int]:
        return [p for c in self.components for p in c.ports]

    # --- steps -------------------------------------------------------------------------------
    def _write_credentials(self) -> None:
        d = self.state_dir
        (d / "pki").mkdir(parents=True, exist_ok=True)
        if shutil.which("openssl") is None:
            raise ClusterError("openssl is required to make the service-account key (apt-get install -y openssl)")
        subprocess.run(["openssl", "genrsa", "-out", str(d / "sa.key"), "2048"], check=True, capture_output=True)
        (d / "tokens.csv").write_text(f'{self.token},webscale-admin,webscale-admin-uid,"system:masters"\n')
        (d / "audit-policy.yaml").write_text(AUDIT_POLICY)

    def _start_with_port_retry(self, starter: object, attempts: int = 3) -> None:
        """Start a component; if its port was taken meanwhile, pick another and try again."""
        for attempt in range(attempts):
            comp: Component = starter()  # type: ignore[operator]
            try:
                comp.wait_ready()
                return
            except ClusterError as exc:
                comp.stop()
                self.components.remove(comp)
                if "address already in use" not in comp.log_tail().lower() or attempt == attempts - 1:
                    raise exc

    def _spawn(self, name: str, args: list[str], ports: list[int], ready: object) -> Component:
        comp = Component(name, args, self.state_dir / f"{name}.log", ports, ready)  # type: ignore[arg-type]
        self.components.append(comp)
        comp.start()
        return comp

    def _start_etcd(self) -> Component:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        args = [self._bin("webscale-k8s"), "etcd", "--data-dir", str(self.state_dir / "etcd")]
        args += ["--client-url", self.etcd_url, "--peer-url", f"http://127.0.0.1:{peer}"]
        return self._spawn("etcd", args, [client, peer], lambda: _http_ok(f"{self.etcd_url}/health"))

    def _start_apiserver(self) -> Component:
        self.api_port = free_port()
        args = [self._bin("webscale-k8s"), "apiserver", *apiserver_args(self, self.audit)]
        comp = self._spawn("apiserver", args, [self.api_port], lambda: self._api_ok("/readyz"))
        comp.ready_timeout = 120
        return comp

    def _controller_commands(self) -> dict[str, list[str]]:
        kc = str(self.kubeconfig)
        cm = [self._bin("webscale-k8s"), "controller-manager", f"--kubeconfig={kc}", "--leader-elect=false"]
        cm += ["--secure-port=0", f"--service-account-private-key-file={self.state_dir / 'sa.key'}"]
        cm += [f"--root-ca-file={self.state_dir / 'pki' / 'apiserver.crt'}", "--controllers=*,-csrsigning"]
        cm += ["--node-monitor-grace-period=40s"]
        sched = [self._bin("webscale-k8s"), "scheduler", f"--kubeconfig={kc}", "--leader-elect=false"]
        sched += ["--secure-port=0"]
        if self.controller_qps:
            limits = [f"--kube-api-qps={self.controller_qps}", f"--kube-api-burst={2 * self.controller_qps}"]
            syncs = ("deployment", "replicaset", "service-endpoint")
            cm += limits + [f"--concurrent-{kind}-syncs=20" for kind in syncs]
            sched += limits
        return {"controller-manager": cm, "scheduler": sched}

    def set_controller_qps(self, qps: int | None) -> None:
        """Restart controller-manager and scheduler with this client limit (None: their defaults)."""
        self.controller_qps = qps
        for name, command in self._controller_commands().items():
            for old in [c for c in self.components if c.name == name]:
                old.stop()
                self.components.remove(old)
            self._spawn(name, command, [], lambda: True)

    def _start_controllers(self) -> None:
        self.kubeconfig.write_text(kubeconfig_yaml(self.server, self.token, self.state_dir / "pki"))
        for name, command in self._controller_commands().items():
            self._spawn(name, command, [], lambda: True)
        if not self.kwok:
            return
        kwok_port = free_port()
        kwok = [self._bin("kwok"), f"--kubeconfig={self.kubeconfig}", "--manage-all-nodes=true"]
        kwok += [f"--config={self.bin_dir / 'kwok-stages.yaml'}", "--cidr=10.244.0.0/16"]
        kwok += [f"--server-address=127.0.0.1:{kwok_port}", "--node-ip=10.0.0.1", "--node-lease-duration-seconds=40"]
        self._spawn("kwok", kwok, [kwok_port], lambda: True)

    def _create_nodes(self) -> None:
        for i in range(self.nodes):
            manifest = node_manifest(f"kwok-node-{i}", self.node_cpu, self.node_memory, self.node_pods)
            self.kubectl("apply", "-f", "-", stdin=manifest)
        wait_until(self._nodes_ready, 90, f"{self.nodes} nodes Ready", self.components)
        wait_until(self._default_sa, 60, "the default ServiceAccount", self.components)

    # --- probes ------------------------------------------------------------------------------
    def _api_ok(self, path: str) -> bool:
        return _http_ok(f"{self.server}{path}", self.token)

    def _nodes_ready(self) -> bool:
        out = self.kubectl("get", "nodes", "-o", "json", check=False)
        items = json.loads(out or "{}").get("items", [])
        ready = [
            n
            for n in items
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
        ]
        return len(ready) >= self.nodes

    def _default_sa(self) -> bool:
        return bool(self.kubectl("get", "serviceaccount", "default", "-o", "name", check=False))

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        cmd = [self._bin("webscale-k8s"), "kubectl", f"--kubeconfig={self.kubeconfig}", *args]
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout if proc.returncode == 0 else ""


def _http_ok(url: str, token: str | None = None) -> bool:
    import ssl
    import urllib.request

    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(req, timeout=2, context=ctx) as resp:
            return resp.status == 200
    except Exception:
        return False


# --- command line ------------------------------------------------------------------------------
def _up(args: argparse.Namespace) -> int:
    node_cpu, node_memory = args.node_cpu, args.node_memory
    if node_cpu is None:
        sized = node_size(examples(ROOT / "examples"), args.nodes)
        node_cpu, node_memory = sized[0], node_memory or sized[1]
        print(f"cluster: {args.nodes} nodes of {node_cpu} CPU, {node_memory}: examples/*.yaml at replicas.max fit")
    cluster = LocalCluster(
        nodes=args.nodes,
        node_cpu=node_cpu,
        node_memory=node_memory or LocalCluster.node_memory,
        node_pods=args.node_pods,
        audit=args.audit,
        admission_plugins=tuple(args.admission_plugins),
    )
    stop = {"now": False}

    def on_signal(signum: int, _frame: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cluster.start()
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    kubeconfig = RUN_DIR / "kubeconfig"
    shutil.copy(cluster.kubeconfig, kubeconfig)
    STATE_FILE.write_text(json.dumps({"pid": os.getpid(), "kubeconfig": str(kubeconfig), "server": cluster.server}))
    kubectl = cluster.bin_dir / "bin" / "webscale-k8s" if cluster.bin_dir else "kubectl"
    print(f"cluster: ready in {cluster.timings['nodes_ready']:.1f}s at {cluster.server} with {cluster.nodes} nodes")
    print(f"  export KUBECONFIG={kubeconfig}")
    print(f"  alias kubectl='{kubectl} kubectl'   # a kubectl of the same version")
    print("  Ctrl-C (or make cluster-down) stops it", flush=True)
    try:
        while not stop["now"]:
            dead = [c for c in cluster.components if c.proc is not None and c.proc.poll() is not None]
            if dead:
                print(f"cluster: {dead[0].name} exited:\n{dead[0].log_tail()}", file=sys.stderr)
                return 1
            time.sleep(0.5)
    finally:
        cluster.stop()
        STATE_FILE.unlink(missing_ok=True)
        kubeconfig.unlink(missing_ok=True)
        print("cluster: stopped", file=sys.stderr)
    return 0


def _down(_args: argparse.Namespace) -> int:
    if not STATE_FILE.exists():
        print("cluster: none running (no state file)")
        return 0
    pid = json.loads(STATE_FILE.read_text())["pid"]
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        STATE_FILE.unlink(missing_ok=True)
        print("cluster: not running (stale state removed)")
        return 0
    if not wait_until(lambda: not _alive(pid), 30, "the launcher to stop", [], raise_on_timeout=False):
        os.kill(pid, signal.SIGKILL)
    print("cluster: stopped")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a cluster in the foreground")
    up.add_argument("--nodes", type=int, default=3)
    up.add_argument("--node-cpu", help="CPU of each kwok node (default: what examples/*.yaml need at replicas.max)")
    up.add_argument("--node-memory", help="memory of each kwok node, e.g. 16Gi")
    up.add_argument("--node-pods", type=int, default=110, help="pods each kwok node accepts")
    up.add_argument("--audit", action="store_true", help="write the apiserver audit log")
    up.add_argument(
        "--enable-admission-plugin",
        dest="admission_plugins",
        action="append",
        default=[],
        metavar="NAME",
        help="also enable this admission plugin (repeatable), e.g. OwnerReferencesPermissionEnforcement",
    )
    up.set_defaults(func=_up)
    down = sub.add_parser("down", help="stop a cluster started in the background")
    down.set_defaults(func=_down)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
