"""The autoscaling e2e scenario: a small app that modest load scales, and how the tests drive and read it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

from waiting import eventually
from webscale_local import audit
from webscale_local.load import Load
from webscale_local.sample_app import SampleApp

from webscale.kube.client import USER_AGENT

POLL = 5.0  # autoscaling.pollingInterval (the schema's minimum)
WINDOW = 10.0  # behavior.scaleDown.stabilizationWindow (test-shortened)
FALLBACK_AFTER = 3  # autoscaling.fallback.afterFailures (the default)
PER_WORKER = 5.0  # target.requestsPerSecondPerWorker, 1 worker per pod
LOAD_RPS = 17.5  # needs ceil(17.5 / 5) = 4 pods; any reading in (15, 20] asks for 4
NEEDED = 4
RATE_SEEN = 6.0  # a Prometheus reading above one pod's capacity x (1 + tolerance) = 5.5: must scale up
MARGIN = 3.0
APP = "shop"


# ---- helpers -----------------------------------------------------------------------------------


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep merge of dicts (extra wins)."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def scaling_spec(prometheus_url: str, **extra: Any) -> dict[str, Any]:
    """A small app that modest load scales: 1 worker per pod (cpu 1) at 5 req/s per worker.

    Burst mode is off (threshold 100x) so scale-down timing is the stabilisation window's
    alone, and so are the trend forecast (leadTime 0s), the headroom quantile (off) and the long
    scale-down window (0s, with -100 % per period): the pods asked for follow the measured rate,
    not a forecast or a quantile of it, so the counts below are exact. cpuUtilization cannot be
    omitted (the CRD defaults it to 70), so it is 100%, which the nearly idle sample app never
    approaches: the request rate decides.
    """
    base = {
        "image": "registry.example/sample-app:1",
        "resources": {"cpu": "1", "memory": "64Mi"},
        "replicas": {"min": 1, "max": 6},
        "autoscaling": {
            "mode": "auto",
            "pollingInterval": f"{POLL:g}s",
            "target": {"requestsPerSecondPerWorker": PER_WORKER, "cpuUtilization": 100},
            "behavior": {
                "scaleUp": {"period": "2s", "leadTime": "0s"},
                "scaleDown": {
                    "stabilizationWindow": f"{WINDOW:g}s",
                    "period": "2s",
                    "rateWindow": "0s",
                    "maxPercent": 100,
                },
            },
            "burst": {"threshold": 100},
            "headroom": {"quantile": None},
        },
        "metrics": {"prometheus": {"url": prometheus_url}},
    }
    return merge(base, extra)


def app_targets(apps: Sequence[SampleApp], namespace: str, name: str) -> list[tuple[str, dict[str, str]]]:
    """Static targets for one ScaledWebApp: each real process is one "pod" of it (the label contract)."""
    return [
        (a.address, {"namespace": namespace, "app": name, "pod": f"{name}-real-{i}", "managed_by": "webscale"})
        for i, a in enumerate(apps)
    ]


def rate_query(namespace: str, name: str) -> str:
    return f'sum(rate(http_requests_total{{namespace="{namespace}",app="{name}"}}[4s]))'


def wait_for_series(prom, namespace: str, name: str) -> None:
    """Prometheus holds enough samples for a rate of the app (0 is fine): no 'no series' at start."""
    prom.wait_for_targets_up()
    eventually(lambda: prom.value(rate_query(namespace, name)) is not None, 20, f"a rate for {name}")


@contextlib.contextmanager
def load_on(apps: Sequence[SampleApp], rate: float = LOAD_RPS, duration: float = 60) -> Iterator[Load]:
    """Bounded paced load over the real processes (count and time bounded), stopped on exit."""
    load = Load([a.url for a in apps], rate=rate, duration=duration, connections=2).start()
    try:
        yield load
    finally:
        stats = load.stop()
        assert stats.failed == 0, stats


def replicas_over(swa_apps, name: str, seconds: float, interval: float = 0.2) -> list[int | None]:
    """spec.replicas sampled for `seconds`: what the tests assert holds for the whole window."""
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append(swa_apps.replicas(name))
        time.sleep(interval)  # the sampling period of a fixed window: the window is what is under test
    return seen


def audit_mark(cluster) -> int:
    return audit.mark(cluster.audit_log)


def operator_writes(cluster, since: int, namespace: str, resource: str, name: str) -> list[dict[str, Any]]:
    """Writes by the operator (its API client or kopf) to <resource>/<name>, subresources included."""
    agents = (USER_AGENT, *audit.OPERATOR_AGENTS)
    return audit.operator_writes(cluster.audit_log, since, agents, namespace=namespace, resource=resource, name=name)
