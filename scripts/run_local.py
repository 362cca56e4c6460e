"""`make run`: the product alive on this machine, until Ctrl-C.

Starts the local control plane (unless KUBECONFIG is set: then that cluster), applies the CRD,
starts sample-app processes on 127.0.0.1 that stand for the app's pods, a real Prometheus
(Debian package, temporary storage) scraping them, and the operator; then applies
examples/shop.yaml pointed at that Prometheus. `kubectl get swa -w` shows live request rates;
`make load` (another terminal) sends a bounded ramp that scales the app up and back down.
Ctrl-C stops everything it started.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import yaml
from webscale_local.launcher import RUN_DIR, ClusterError
from webscale_local.stack import LOCAL_TUNING, LocalStack, localize

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "shop.yaml"


def say(message: str) -> None:
    print(f"run: {message}", flush=True)


def wait_ready(stack: LocalStack, name: str, namespace: str, timeout: float = 90) -> None:
    jsonpath = "jsonpath={.status.conditions[?(@.type=='Ready')].status}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if problem := stack.alive():
            raise SystemExit(f"run: {problem}")
        if "True" in stack.kubectl("-n", namespace, "get", "swa", name, "-o", jsonpath, check=False):
            return
        time.sleep(1)
    say(f"{name} is not Ready after {timeout:.0f}s; showing what there is")


def main() -> int:
    kubeconfig = os.environ.get("KUBECONFIG")
    manifest = yaml.safe_load(EXAMPLE.read_text())
    name, namespace = manifest["metadata"]["name"], manifest["metadata"].get("namespace", "default")
    workdir = Path(tempfile.mkdtemp(prefix="webscale-run-"))
    stack = LocalStack(
        workdir, app=name, namespace=namespace, kubeconfig=Path(kubeconfig) if kubeconfig else None, size_for=[manifest]
    )
    try:
        stack.start(say)
    except (ClusterError, RuntimeError) as exc:
        say(str(exc))
        return 1
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    try:
        assert stack.prometheus is not None
        local = localize(manifest, stack.prometheus.url)
        applied = RUN_DIR / EXAMPLE.name
        applied.write_text(
            f"# {EXAMPLE.relative_to(ROOT)} as `make run` applied it: metrics.prometheus.url is the local\n"
            f"# Prometheus, and for this machine: {yaml.safe_dump(LOCAL_TUNING, default_flow_style=True).strip()}\n"
            + yaml.safe_dump(local, sort_keys=False)
        )
        say(f"applying {applied} ({EXAMPLE.relative_to(ROOT)} with the local Prometheus and faster scaling)")
        print(stack.apply(local))
        wait_ready(stack, name, namespace)
        print("\n$ kubectl get swa,deploy,svc")
        print(stack.kubectl("-n", namespace, "get", "swa,deploy,svc"))
        kubeconfig_copy = RUN_DIR / "kubeconfig"
        if stack.cluster is not None:  # a stable path for other terminals (removed on exit)
            kubeconfig_copy.write_text(stack.cluster.kubeconfig.read_text())
        print(f"export KUBECONFIG={kubeconfig_copy if stack.cluster is not None else stack.kubeconfig}")
        print(f"alias kubectl='{stack.bin_dir}/bin/webscale-k8s kubectl'")
        print(
            "Try: kubectl get swa -w   |   make load (in another terminal)   |   kubectl describe swa shop\n"
            "Ctrl-C stops everything",
            flush=True,
        )
        while not stop["now"]:
            if problem := stack.alive():
                say(problem)
                return 1
            time.sleep(0.5)
    finally:
        if stack.cluster is not None:
            (RUN_DIR / "kubeconfig").unlink(missing_ok=True)
        stack.stop()
        say(f"stopped (logs in {workdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
