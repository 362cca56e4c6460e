"""The product alive on loopback: what `make run` starts, `make load` drives and `make demo` narrates.

    with LocalStack(workdir, pods=2, workers=2) as stack:
        stack.kubeconfig          # the local control plane's (or $KUBECONFIG's cluster)
        stack.prometheus.url      # a real Prometheus scraping the sample-app processes
        stack.app_urls            # the sample-app processes that stand for the app's pods
        stack.apply(localize(manifest, stack.prometheus.url))

The control plane's pods are kwok's fakes: they have 10.x IPs that nothing listens on and that
nothing here ever contacts. Real sample-app processes on 127.0.0.1 stand for them, labelled in
Prometheus as the operator's label contract says (namespace, app, pod, managed_by), so the
operator's queries see real request rates. Every process is stopped on exit, also on a failure
half-way. While the stack runs, RUN_DIR/stack.json says where it all is (for `make load`).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webscale_local.launcher import RUN_DIR, LocalCluster, build
from webscale_local.operator_process import OperatorProcess
from webscale_local.prometheus import PrometheusHandle, start_prometheus
from webscale_local.sample_app import SampleApp, start_sample_app
from webscale_local.sizing import node_size
from webscale_local.swa import install_crd

STATE = RUN_DIR / "stack.json"
SCRAPE_SECONDS = 2

# What `make run` changes in an example so that it scales on this machine in a few minutes:
# a 2-core laptop cannot send 50 req/s per worker through Python, and nobody waits the 5 minutes
# of the default scaleDown.stabilizationWindow to see a scale-down. Instead: a 30 s window, a 1-minute
# long window (off by default) and a quarter of the pods per 4 s, so the scale-down shows its steps
# and what holds each. Printed by `make run` next to the file it applies (RUN_DIR/<name>.yaml).
LOCAL_TUNING: dict[str, Any] = {
    "autoscaling": {
        "pollingInterval": "5s",  # the schema's minimum
        "target": {"requestsPerSecondPerWorker": 5},
        "headroom": {"window": "1m"},
        "behavior": {
            "scaleUp": {"period": "4s"},
            "scaleDown": {"stabilizationWindow": "30s", "rateWindow": "1m", "maxPercent": 25, "period": "4s"},
        },
    },
}


def _merge(into: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def localize(manifest: dict[str, Any], prometheus_url: str, tuning: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of a ScaledWebApp that reads the local Prometheus (and, by default, LOCAL_TUNING)."""
    out = copy.deepcopy(manifest)
    spec = out.setdefault("spec", {})
    _merge(spec, LOCAL_TUNING if tuning is None else tuning)
    _merge(spec, {"metrics": {"prometheus": {"url": prometheus_url}}})
    return out


def pod_labels(namespace: str, app: str, i: int) -> dict[str, str]:
    """The labels a pod's series carry under Kubernetes pod discovery (README: label contract)."""
    return {"namespace": namespace, "app": app, "pod": f"{app}-local-{i}", "managed_by": "webscale"}


@dataclass
class LocalStack:
    """Control plane + CRD + sample-app processes + Prometheus + the operator, on loopback."""

    workdir: Path
    app: str = "shop"
    namespace: str = "default"
    pods: int = 2
    workers: int = 2
    kubeconfig: Path | None = None  # None: start the local control plane
    operator_env: dict[str, str] = field(default_factory=dict)
    publish: bool = True  # write STATE for `make load` (tests leave it alone)
    size_for: list[dict[str, Any]] = field(default_factory=list)
    """ScaledWebApps the local control plane's nodes must hold at replicas.max (`sizing.node_size`)."""
    cluster: LocalCluster | None = None
    prometheus: PrometheusHandle | None = None
    apps: list[SampleApp] = field(default_factory=list)
    operator: OperatorProcess | None = None
    bin_dir: Path | None = None
    _stack: ExitStack = field(default_factory=ExitStack)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def app_urls(self) -> list[str]:
        return [a.url for a in self.apps]

    def start(self, say: Any = print) -> LocalStack:
        try:
            self.bin_dir = build()
            if self.kubeconfig is None:
                nodes = LocalCluster.nodes
                cpu, memory = node_size(self.size_for, nodes)
                names = ", ".join(m["metadata"]["name"] for m in self.size_for)
                fit = f" ({names} at replicas.max fit)" if names else ""
                say(f"starting the local control plane: {nodes} nodes of {cpu} CPU, {memory}{fit} ...")
                cluster = LocalCluster(bin_dir=self.bin_dir, nodes=nodes, node_cpu=cpu, node_memory=memory)
                self.cluster = self._stack.enter_context(cluster)
                self.kubeconfig = self.cluster.kubeconfig
                say(f"control plane ready in {self.cluster.timings['nodes_ready']:.1f}s at {self.cluster.server}")
            else:
                say(f"using the cluster of KUBECONFIG={self.kubeconfig}")
            install_crd(self.kubectl)
            for i in range(self.pods):
                app = self._stack.enter_context(start_sample_app(self.workdir / f"pod{i}", workers=self.workers))
                self.apps.append(app)
            targets = [(a.address, pod_labels(self.namespace, self.app, i)) for i, a in enumerate(self.apps)]
            self.prometheus = self._stack.enter_context(
                start_prometheus(self.workdir, targets, scrape_interval=f"{SCRAPE_SECONDS}s")
            )
            say(
                f"Prometheus {self.prometheus.url} scrapes {self.pods} sample-app processes standing for "
                f"{self.namespace}/{self.app}'s pods: {', '.join(self.app_urls)}"
            )
            env = {
                "WEBSCALE_METRICS_SCRAPE_INTERVAL_SECONDS": str(SCRAPE_SECONDS),
                "WEBSCALE_SCALING_TICK_SECONDS": "0.5",
                # the only Prometheus an app may name (the operator's allow-list, where it has one)
                "WEBSCALE_PROMETHEUS_URLS": self.prometheus.url,
                **self.operator_env,
            }
            cluster = self.cluster or _Kubeconfig(self.kubeconfig)
            self.operator = OperatorProcess(cluster, self.workdir / "operator.log", **env)  # type: ignore[arg-type]
            self.operator.start()
            self._stack.callback(self.operator.stop)
            if self.publish:
                self._write_state()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.publish:
            STATE.unlink(missing_ok=True)
        self._stack.close()

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        assert self.bin_dir is not None and self.kubeconfig is not None
        cmd = [str(self.bin_dir / "bin" / "webscale-k8s"), "kubectl", f"--kubeconfig={self.kubeconfig}", *args]
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def apply(self, manifest: dict[str, Any]) -> str:
        return self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest)).strip()

    def alive(self) -> str:
        """'' while every process runs, else which one exited."""
        if self.operator and self.operator.proc and self.operator.proc.poll() is not None:
            return f"the operator exited with code {self.operator.proc.returncode} (log: {self.operator.log_path})"
        if self.prometheus and self.prometheus.process.poll() is not None:
            return f"Prometheus exited (log: {self.prometheus.log_path})"
        for app in self.apps:
            if app.process.poll() is not None:
                return f"the sample app at {app.url} exited (log: {app.log_path})"
        if self.cluster:
            dead = [c.name for c in self.cluster.components if c.proc is not None and c.proc.poll() is not None]
            if dead:
                return f"the control plane's {dead[0]} exited"
        return ""

    def _write_state(self) -> None:
        assert self.prometheus is not None
        STATE.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "pid": os.getpid(),
            "kubeconfig": str(self.kubeconfig),
            "kubectl": str(self.bin_dir / "bin" / "webscale-k8s") if self.bin_dir else "kubectl",
            "prometheus": self.prometheus.url,
            "apps": self.app_urls,
            "app": self.app,
            "namespace": self.namespace,
            "workdir": str(self.workdir),
        }
        STATE.write_text(json.dumps(state, indent=2))


@dataclass
class _Kubeconfig:
    """What OperatorProcess needs of a cluster when the cluster is $KUBECONFIG's."""

    kubeconfig: Path


def read_state() -> dict[str, Any]:
    """The running stack's stack.json, or a clear error saying to start `make run` first."""
    try:
        state = json.loads(STATE.read_text())
    except FileNotFoundError:
        raise SystemExit(f"no local stack is running ({STATE} is missing): start `make run` first") from None
    try:
        os.kill(int(state["pid"]), 0)
    except ProcessLookupError:
        raise SystemExit(f"the stack in {STATE} is gone (pid {state['pid']}): start `make run` again") from None
    return state
