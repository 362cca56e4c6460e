"""`make demo`: watch the operator scale a real app in about two minutes, narrated.

The same local stack as `make run` (webscale_local.stack): the local control plane, a real
Prometheus (Debian package), two sample-app processes (Express, cluster mode, one worker each)
that stand for the app's pods, and the operator, all on loopback. A bounded load ramp goes up,
holds and stops; the demo prints load, what the operator saw and decided, and its Events, then
waits for the scale-down, saying what holds it (from the app's spec, then from each decision).
The app's windows are short here (scaleDown.stabilizationWindow and headroom.window 30s instead of
5 min and 1 min), so the whole cycle fits in about three minutes. Ctrl-C stops it all.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from kubernetes import config
from webscale_local.holds import scale_down_holds
from webscale_local.load import Load
from webscale_local.stack import LocalStack
from webscale_local.watch import G, V, Watcher

APP, NS = "shop", "default"
RAMP = [(6.0, 20), (18.0, 25), (30.0, 25)]  # (requests/s, seconds): ~70 s of load, then none
SHORT_WINDOW = "30s"
SCALE_DOWN_EXTRA = 60  # beyond the windows: the request rate's own window, polls, the pods going


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
                # The demo's windows are short, so the scale-down comes within a minute of the load's end:
                # the headroom quantile over 30s (not 1 min), a 30s stabilisation window (not 5 min), whole steps.
                "headroom": {"window": SHORT_WINDOW},
                "behavior": {
                    "scaleUp": {"period": "3s"},
                    "scaleDown": {
                        "stabilizationWindow": SHORT_WINDOW,
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
    sized = [swa("http://127.0.0.1")]
    with LocalStack(work, app=APP, namespace=NS, pods=2, workers=1, kubeconfig=None, size_for=sized) as stack:
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
            print(f"demo: step {rate:g} req/s done: {load.stop().summary()}", flush=True)
        spec = swa(stack.prometheus.url)["spec"]
        holds, longest = scale_down_holds(spec)
        print(
            f"demo: load stopped; the scale-down to {spec['replicas']['min']} waits for {'; '.join(holds)}", flush=True
        )
        deadline = time.monotonic() + longest + SCALE_DOWN_EXTRA
        while time.monotonic() < deadline and watcher.line(0.0, explain=True) > spec["replicas"]["min"]:
            time.sleep(3)
        watcher.line(0.0, explain=True)
        print(f"demo: done. Operator log: {work / 'operator.log'}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("WEBSCALE_LOG_FORMAT", "plain")
    sys.exit(main())
