"""`make demo`: watch the operator scale a real app in about two minutes.

Everything runs on this machine, on loopback: the local control plane, a real
Prometheus (Debian package), two real sample-app processes (Express, cluster mode)
that stand for the app's pods, and the operator. A bounded load ramp goes up,
holds and stops; the demo prints load, what the operator saw and decided, and
its Events, then waits for the stabilised scale-down. Ctrl-C stops it all.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "cluster"), str(ROOT / "tests")]

from fixtures.load import Load  # noqa: E402
from fixtures.prometheus import start_prometheus  # noqa: E402
from fixtures.sample_app import start_sample_app  # noqa: E402
from kubernetes import client, config  # noqa: E402
from launcher import LocalCluster  # noqa: E402
from operator_process import OperatorProcess  # noqa: E402

APP, NS = "shop", "default"
G, V, P = "webscale.dev", "v1alpha1", "scaledwebapps"
RAMP = [(6.0, 20), (18.0, 25), (30.0, 25)]  # (requests/s, seconds): ~70 s of load, then none
SCALE_DOWN_WINDOW = 30


def swa(prometheus_url: str) -> dict:
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "ScaledWebApp",
        "metadata": {"name": APP, "namespace": NS},
        "spec": {
            "image": "webscale/sample-app:0.1.0",
            "resources": {"cpu": "1", "memory": "128Mi"},
            "replicas": {"min": 1, "max": 8},
            "metrics": {"prometheus": {"url": prometheus_url}},
            "autoscaling": {
                "pollingInterval": "3s",
                "target": {"requestsPerSecondPerWorker": 5},
                "behavior": {
                    "scaleUp": {"period": "3s"},
                    "scaleDown": {"stabilizationWindow": f"{SCALE_DOWN_WINDOW}s", "period": "3s"},
                },
            },
        },
    }


class Watcher:
    """Prints one line of state every few seconds and every new Event of the app."""

    def __init__(self, api: client.ApiClient) -> None:
        self.custom, self.apps, self.core = client.CustomObjectsApi(api), client.AppsV1Api(api), client.CoreV1Api(api)
        self.seen: set[str] = set()
        self.start = time.monotonic()

    def line(self, offered: float) -> int:
        status = self.custom.get_namespaced_custom_object(G, V, NS, P, APP).get("status", {})
        dep = self.apps.read_namespaced_deployment(APP, NS)
        rps = (status.get("observed") or {}).get("requestsPerSecond")
        print(
            f"{time.monotonic() - self.start:6.0f}s  load {offered:5.1f} req/s | observed "
            f"{'-' if rps is None else f'{rps:5.1f}'} req/s | desired {status.get('desiredReplicas', '-')} | "
            f"deployment {dep.spec.replicas} ({dep.status.ready_replicas or 0} ready)",
            flush=True,
        )
        for event in sorted(self.core.list_namespaced_event(NS).items, key=lambda e: e.metadata.creation_timestamp):
            if event.involved_object.name == APP and event.metadata.uid not in self.seen:
                self.seen.add(event.metadata.uid)
                print(f"        EVENT {event.type} {event.reason}: {event.message}", flush=True)
        return int(dep.spec.replicas or 0)


def wait_established(cluster: LocalCluster, timeout: float = 30) -> None:
    jsonpath = "jsonpath={.status.conditions[?(@.type=='Established')].status}"
    deadline = time.monotonic() + timeout
    while "True" not in cluster.kubectl("get", "crd/scaledwebapps.webscale.dev", "-o", jsonpath, check=False):
        if time.monotonic() > deadline:
            raise SystemExit("demo: the ScaledWebApp CRD was not established")
        time.sleep(0.2)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="webscale-demo-"))
    with ExitStack() as stack:
        print("demo: starting the local control plane ...", flush=True)
        cluster = stack.enter_context(LocalCluster())
        cluster.kubectl("apply", "-f", str(ROOT / "crds"))
        wait_established(cluster)
        apps = [stack.enter_context(start_sample_app(work / f"app{i}", workers=1)) for i in range(2)]
        labels = [{"namespace": NS, "app": APP, "pod": f"{APP}-{i}", "managed_by": "webscale"} for i in range(2)]
        prom = stack.enter_context(
            start_prometheus(work, [(a.address, lbl) for a, lbl in zip(apps, labels, strict=True)])
        )
        print(f"demo: Prometheus at {prom.url} scrapes the sample app at {', '.join(a.url for a in apps)}")
        env = {"WEBSCALE_SCALING_TICK_SECONDS": "0.5", "WEBSCALE_METRICS_SCRAPE_INTERVAL_SECONDS": "1"}
        operator = OperatorProcess(cluster, work / "operator.log", **env).start()
        stack.callback(operator.stop)
        api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
        client.CustomObjectsApi(api).create_namespaced_custom_object(G, V, NS, P, swa(prom.url))
        watcher = Watcher(api)
        time.sleep(5)
        print("demo: load ramp (each worker should carry 5 req/s; one worker per pod)", flush=True)
        for rate, seconds in RAMP:
            with Load([a.url for a in apps], rate=rate, duration=seconds, path="/io?ms=5") as load:
                while load.running:
                    watcher.line(rate)
                    time.sleep(3)
        print(f"demo: load stopped; scale-down waits for the {SCALE_DOWN_WINDOW}s stabilisation window", flush=True)
        deadline = time.monotonic() + SCALE_DOWN_WINDOW + 30
        while time.monotonic() < deadline and watcher.line(0.0) > 1:
            time.sleep(3)
        watcher.line(0.0)
        print(f"demo: done. Operator log: {work / 'operator.log'}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("WEBSCALE_LOG_FORMAT", "plain")
    sys.exit(main())
