"""The app registry: every ScaledWebApp the SWA informer holds, as parsed `App` values.

Built from the informer's store, so it is rebuilt by every relist (no ghosts after a watch gap).
A spec is parsed once per generation; a status or annotation change only refreshes those fields.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

from webscale import telemetry
from webscale.api.app import App
from webscale.kube.store import Store


def _refresh(cached: App | None, obj: dict[str, Any], allowed_urls: Sequence[str] | None) -> App:
    """The App for `obj`, reusing the parse of `cached` when the spec (generation) did not change."""
    meta = obj["metadata"]
    if cached is not None and cached.uid == meta.get("uid") and cached.generation == int(meta.get("generation") or 0):
        return dataclasses.replace(
            cached,
            status=dict(obj.get("status") or {}),
            annotations=dict(meta.get("annotations") or {}),
            deleting=bool(meta.get("deletionTimestamp")),
            resource_version=str(meta.get("resourceVersion") or ""),
        )
    return App.from_body(obj, allowed_urls)


class Registry:
    """Read-only view of the ScaledWebApps as `App` values."""

    def __init__(self, store: Store, allowed_prometheus_urls: Sequence[str] | None = None) -> None:
        self.store = store
        self.allowed_prometheus_urls = allowed_prometheus_urls
        self._apps: dict[tuple[str, str], App] = {}
        self._lock = threading.Lock()

    def get(self, namespace: str, name: str) -> App | None:
        obj = self.store.get(namespace, name)
        with self._lock:
            if obj is None:
                self._apps.pop((namespace, name), None)
                return None
            return self._current((namespace, name), obj)

    def all(self) -> list[App]:
        objects = self.store.items()
        keys = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects}
        with self._lock:
            for gone in [k for k in self._apps if k not in keys]:
                del self._apps[gone]
            apps = [self._current((o["metadata"]["namespace"], o["metadata"]["name"]), o) for o in objects]
        valid = sum(1 for a in apps if a.valid)
        telemetry.APPS.labels("valid").set(valid)
        telemetry.APPS.labels("invalid").set(len(apps) - valid)
        return apps

    def _current(self, key: tuple[str, str], obj: dict[str, Any]) -> App:
        cached = self._apps.get(key)
        if cached is not None and cached.resource_version == obj["metadata"].get("resourceVersion"):
            return cached
        app = _refresh(cached, obj, self.allowed_prometheus_urls)
        self._apps[key] = app
        return app
