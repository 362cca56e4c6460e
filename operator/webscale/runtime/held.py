"""Read the held-request counters of an app's HAProxy pods (the network adapter of `runtime.wake`).

Each HAProxy pod of an app with autoscaling.scaleToZero serves its counters at
``http://<pod IP>:<METRICS_PORT><HELD_PATH>`` (`reconcile.hold`). Only pods labelled as the app's
HAProxy pods, in the app's namespace, controlled by a ReplicaSet of the app's own HAProxy Deployment
(by uid: `kube.cache.own_replica_sets`) are asked: an app's owner cannot point the operator at another
address. Blocking; called from a worker thread,
at most every ~0.5 s and only for apps at zero or waking.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from webscale.api.app import App
from webscale.api.labels import lb_selector_labels
from webscale.kube.cache import ClusterView, own_replica_sets
from webscale.kube.own_pods import own_pods
from webscale.reconcile.haproxy import lb_name
from webscale.reconcile.haproxy_config import METRICS_PORT
from webscale.reconcile.hold import HELD_PATH, parse_held
from webscale.runtime.pod_reads import read_pods

READ_TIMEOUT = 0.3
"""Per pod, in all: a pod that has not answered within this is skipped for this round (the next is ~0.5 s
away)."""
MAX_BODY = 4096
FAN_OUT = 8
"""Pods read at once."""

Reader = Callable[[Sequence[str]], dict[str, dict[str, float] | None]]
"""URLs -> {url: counters, or None when the pod did not answer}."""


def pod_urls(pods: list[dict[str, Any]], app: App, owners: frozenset[str], path: str = HELD_PATH) -> list[str]:
    """`path` on the metrics port of the app's running HAProxy pods, those controlled by the ReplicaSets
    `owners` (pure; pods from the watch cache)."""
    urls = []
    for _, status in own_pods(pods, app.namespace, lb_selector_labels(app.name), owners):
        ip = status.get("podIP")
        if ip and status.get("phase") == "Running":
            host = f"[{ip}]" if ":" in ip else ip
            urls.append(f"http://{host}:{METRICS_PORT}{path}")
    return sorted(urls)


def haproxy_pod_urls(view: ClusterView, app: App, path: str = HELD_PATH) -> list[str]:
    """`pod_urls` of the app's HAProxy pods in the cache (none while its HAProxy Deployment is not its own)."""
    owners = own_replica_sets(view, app, lb_name(app))
    return pod_urls(view.children("Pod", app), app, owners, path) if owners else []


def read_held(urls: Sequence[str]) -> dict[str, dict[str, float] | None]:
    """Ask every URL, `FAN_OUT` at a time, each within `READ_TIMEOUT` in all; a pod that fails answers None."""
    return read_pods(urls, parse_held, READ_TIMEOUT, MAX_BODY, FAN_OUT)
