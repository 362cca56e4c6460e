"""One line of an app's state every few seconds, and each of its new Events: what `make load` and
`make demo` print while the operator scales.

    watcher = Watcher(api_client, "default", "shop")
    watcher.line(offered=20.0)   # "  12s  load  20.0 req/s | observed  19.8 req/s | desired 4 | deployment 4 (4 ready)"
"""

from __future__ import annotations

import time

from kubernetes import client

G, V, P = "webscale.dev", "v1alpha1", "scaledwebapps"


class Watcher:
    """Prints the app's load, what the operator observed and decided, and every new Event of the app."""

    def __init__(self, api: client.ApiClient, namespace: str, app: str) -> None:
        self.custom, self.apps, self.core = client.CustomObjectsApi(api), client.AppsV1Api(api), client.CoreV1Api(api)
        self.namespace, self.app = namespace, app
        self.seen: set[str] = set()
        self.start = time.monotonic()

    def line(self, offered: float) -> int:
        """Print one line (and new Events); returns the Deployment's spec.replicas."""
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
        return int(dep.spec.replicas or 0)

    def mark_seen(self) -> None:
        """Forget the Events so far (print only those that come after)."""
        events = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={self.app}")
        self.seen.update(e.metadata.uid for e in events.items)
