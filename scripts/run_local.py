"""`make run`: the operator on the local control plane (or on $KUBECONFIG's cluster), with the shop example.

Starts the local control plane unless KUBECONFIG is set, applies the CRD, starts the
operator, applies examples/shop.yaml, prints what kubectl shows once it is reconciled,
and keeps running until Ctrl-C; then it stops everything it started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "cluster"))

from launcher import RUN_DIR, ClusterError, LocalCluster, build  # noqa: E402
from procs import free_port  # noqa: E402


def kubectl(binary: Path, kubeconfig: str, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        [str(binary), "kubectl", f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True, timeout=60
    )
    if check and proc.returncode != 0:
        raise SystemExit(f"run: kubectl {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def wait_ready(
    binary: Path, kubeconfig: str, name: str, operator: subprocess.Popen[bytes], timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if operator.poll() is not None:
            raise SystemExit(f"run: the operator exited with code {operator.returncode}")
        out = kubectl(binary, kubeconfig, "get", "swa", name, "-o", "json", check=False)
        conditions = json.loads(out or "{}").get("status", {}).get("conditions", [])
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            return
        time.sleep(1)
    print(f"run: {name} is not Ready after {timeout:.0f}s; showing what there is", file=sys.stderr)


def main() -> int:
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    bin_dir = build()
    binary = bin_dir / "bin" / "webscale-k8s"
    with ExitStack() as stack:
        kubeconfig = os.environ.get("KUBECONFIG")
        if kubeconfig:
            print(f"run: using the cluster of KUBECONFIG={kubeconfig}")
        else:
            try:
                cluster = stack.enter_context(LocalCluster(bin_dir=bin_dir))
            except ClusterError as exc:
                print(f"run: {exc}", file=sys.stderr)
                return 1
            RUN_DIR.mkdir(parents=True, exist_ok=True)
            kubeconfig = str(RUN_DIR / "kubeconfig")
            Path(kubeconfig).write_text(cluster.kubeconfig.read_text())
            stack.callback(Path(kubeconfig).unlink, missing_ok=True)
            print(f"run: local control plane ready in {cluster.timings['nodes_ready']:.1f}s at {cluster.server}")
        print(kubectl(binary, kubeconfig, "apply", "-f", str(ROOT / "crds")).strip())
        kubectl(binary, kubeconfig, "wait", "--for=condition=Established", "crd/scaledwebapps.webscale.dev")
        env = {**os.environ, "KUBECONFIG": kubeconfig, "WEBSCALE_LOG_FORMAT": "plain"}
        env.setdefault("WEBSCALE_LIVENESS_PORT", str(free_port()))
        operator = subprocess.Popen([sys.executable, "-m", "webscale.cli", "run"], env=env)
        stack.callback(_stop, operator)
        print(kubectl(binary, kubeconfig, "apply", "-f", str(ROOT / "examples" / "shop.yaml")).strip())
        wait_ready(binary, kubeconfig, "shop", operator)
        print("\n$ kubectl get swa,deploy,svc")
        print(kubectl(binary, kubeconfig, "get", "swa,deploy,svc"))
        print(f"export KUBECONFIG={kubeconfig}")
        print(f"alias kubectl='{binary} kubectl'")
        print("Try: kubectl get swa -w   |   kubectl describe swa shop   |   Ctrl-C stops everything", flush=True)
        while not stop["now"] and operator.poll() is None:
            time.sleep(0.5)
    print("run: stopped")
    return 0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
