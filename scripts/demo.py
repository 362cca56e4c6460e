"""`make demo`: watch the operator scale a real app in about two minutes, narrated.

The same local stack as `make run` (webscale_local.stack): the local control plane, a real
Prometheus (Debian package), two sample-app processes (Express, cluster mode, one worker each)
that stand for the app's pods, and the operator, all on loopback. A bounded load ramp goes up,
holds and stops; the demo prints load, what the operator saw and decided, and its Events, then
waits for the stabilised scale-down. Ctrl-C stops it all.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from kubernetes import config
from webscale_local.load import Load
from webscale_local.stack import LocalStack
from webscale_local.watch import G, V, Watcher

APP, NS = "shop", "default"
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
                "pollingInterval": "5s",
                "target": {"requestsPerSecondPerWorker": 5},
                "behavior": {
                    "scaleUp": {"period": "3s"},
                    # The demo shows the stabilisation window alone: no long window, whole steps.
                    "scaleDown": {
                        "stabilizationWindow": f"{SCALE_DOWN_WINDOW}s",
                        "period": "3s",
                        "rateWindow": "0s",
                        "maxPercent": 100,
                    },
                },
            },
        },
    }


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="webscale-demo-"))
    with LocalStack(work, app=APP, namespace=NS, pods=2, workers=1, kubeconfig=None) as stack:
        assert stack.prometheus is not None
        stack.apply(swa(stack.prometheus.url))
        watcher = Watcher(config.new_client_from_config(config_file=str(stack.kubeconfig)), NS, APP)
        time.sleep(5)
        print("demo: load ramp (each worker should carry 5 req/s; one worker per pod)", flush=True)
        for rate, seconds in RAMP:
            with Load(stack.app_urls, rate=rate, duration=seconds, path="/io?ms=5") as load:
                while load.running:
                    watcher.line(rate)
                    time.sleep(3)
        print(f"demo: load stopped; scale-down waits for the {SCALE_DOWN_WINDOW}s stabilisation window", flush=True)
        deadline = time.monotonic() + SCALE_DOWN_WINDOW + 90  # the rate looks back a minute too
        while time.monotonic() < deadline and watcher.line(0.0) > 1:
            time.sleep(3)
        watcher.line(0.0)
        print(f"demo: done. Operator log: {work / 'operator.log'}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("WEBSCALE_LOG_FORMAT", "plain")
    sys.exit(main())
