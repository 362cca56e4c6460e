"""One line of an app's state every few seconds, and each of its new Events: what `make load` and
`make demo` print while the operator scales.

    watcher = Watcher(api_client, "default", "shop")
    watcher.line(offered=20.0)   # "  12s  load  20.0 req/s | observed  19.8 req/s | desired 4 | deployment 4 (4 ready)"

Also, as they change: why pods are Pending (the Ready condition, "PENDING ..."), and with
explain=True what the scaling decision says keeps the count (the ScalingActive condition, "WHY ...").
"""

from __future__ import annotations

import re
import time
from typing import Any

from kubernetes import client

from webscale_local.swa import G, P, V


class Watcher:
    """Prints the app's load, what the operator observed and decided, and every new Event of the app."""

    def __init__(self, api: client.ApiClient, namespace: str, app: str) -> None:
        self.custom, self.apps, self.core = client.CustomObjectsApi(api), client.AppsV1Api(api), client.CoreV1Api(api)
        self.namespace, self.app = namespace, app
        self.seen: set[str] = set()
        self.start = time.monotonic()
        self.said: dict[str, tuple[str, ...]] = {}

    def line(self, offered: float, explain: bool = False) -> int:
        """Print one line (and new Events, and why pods are Pending); returns the Deployment's spec.replicas.
        explain: also print what the scaling decision says when its reason (or what sized it) changes."""
        status = self.custom.get_namespaced_custom_object(G, V, self.namespace, P, self.app).get("status", {})
        dep = self.apps.read_namespaced_deployment(self.app, self.namespace)
        rps = (status.get("observed") or {}).get("requestsPerSecond")
        print(
            f"{time.monotonic() - self.start:6.0f}s  load {offered:5.1f} req/s | observed "
            f"{'-' if rps is None else f'{rps:5.1f}'} req/s | desired {status.get('desiredReplicas', '-')} | "
            f"deployment {dep.spec.replicas} ({dep.status.ready_replicas or 0} ready)",
            flush=True,
        )
        events = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={self.app},involvedObject.kind=ScaledWebApp"
        ).items
        for event in sorted(events, key=lambda e: e.metadata.creation_timestamp):
            if event.metadata.uid not in self.seen:
                self.seen.add(event.metadata.uid)
                print(f"        EVENT {event.type} {event.reason}: {event.message}", flush=True)
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        ready = conditions.get("Ready") or {}
        pending = ready.get("reason") == "PodsUnschedulable"
        # said again when the count of Pending pods or the scheduler's reason changes
        self._say("PENDING", (str(ready.get("message")).split("; ", 1)[-1] if pending else "",), ready, pending)
        if explain:
            # what keeps the count (a change of it is already told by its Event)
            active = conditions.get("ScalingActive") or {}
            message = str(active.get("message") or "")
            self._say("WHY", (str(active.get("reason")), _basis(message)), active, "; keeping " in message)
        return int(dep.spec.replicas or 0)

    def _say(self, tag: str, key: tuple[str, ...], condition: dict[str, Any], show: bool) -> None:
        """Print `condition` under `tag` when `key` differs from the last one (and `show`)."""
        if self.said.get(tag) == key:
            return
        self.said[tag] = key
        if show:
            print(f"        {tag} {condition.get('reason')}: {condition.get('message')}", flush=True)

    def mark_seen(self) -> None:
        """Forget the Events so far (print only those that come after)."""
        events = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={self.app}")
        self.seen.update(e.metadata.uid for e in events.items)


def _basis(message: str) -> str:
    """The reading that sized a decision, when it was not the rate window: "the p90 of the per-scrape
    rates of the last 1 min" or "the mean of the last 1 min" (the decision's parenthesis), else ''."""
    found = re.search(r"\(the ((?:p[0-9.]+|mean) of [^,;]*)", message)
    return found.group(1) if found else ""
