"""Read the held-request counters of an app's HAProxy pods (the network adapter of `runtime.wake`).

Each HAProxy pod of an app with autoscaling.scaleToZero serves its counters at
``http://<pod IP>:<METRICS_PORT><HELD_PATH>`` (`reconcile.hold`). Only pods labelled as the app's
HAProxy pods, in the app's namespace, owned by a ReplicaSet of the app's HAProxy Deployment are asked:
an app's owner cannot point the operator at another address. Blocking; called from a worker thread,
at most every ~0.5 s and only for apps at zero or waking.
"""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from webscale.api.app import App
from webscale.api.labels import lb_selector_labels
from webscale.reconcile.haproxy import lb_name
from webscale.reconcile.haproxy_config import METRICS_PORT
from webscale.reconcile.hold import HELD_PATH, parse_held
from webscale.runtime.own_pods import own_pods

READ_TIMEOUT = 0.3
"""Per pod: a pod that does not answer within this is skipped for this round (the next is ~0.5 s away)."""
MAX_BODY = 4096

Reader = Callable[[Sequence[str]], dict[str, dict[str, float] | None]]
"""URLs -> {url: counters, or None when the pod did not answer}."""


def haproxy_pod_urls(pods: list[dict[str, Any]], app: App, path: str = HELD_PATH) -> list[str]:
    """`path` on the metrics port of the app's running HAProxy pods (pure; pods from the watch cache)."""
    urls = []
    for _, status in own_pods(pods, app.namespace, lb_selector_labels(app.name), f"{lb_name(app)}-"):
        ip = status.get("podIP")
        if ip and status.get("phase") == "Running":
            host = f"[{ip}]" if ":" in ip else ip
            urls.append(f"http://{host}:{METRICS_PORT}{path}")
    return sorted(urls)


def _read_one(url: str) -> dict[str, float] | None:
    with (
        contextlib.suppress(OSError, urllib.error.URLError, ValueError),
        urllib.request.urlopen(url, timeout=READ_TIMEOUT) as resp,
    ):
        return parse_held(resp.read(MAX_BODY).decode(errors="replace"))
    return None


def read_held(urls: Sequence[str]) -> dict[str, dict[str, float] | None]:
    """Ask every URL at once (one thread each, up to 8); a pod that fails answers None."""
    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(urls)), thread_name_prefix="held") as pool:
        return dict(zip(urls, pool.map(_read_one, urls), strict=True))
