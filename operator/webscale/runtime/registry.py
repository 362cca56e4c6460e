"""The app registry: every ScaledWebApp the SWA informer holds, as parsed `App` values.

Built from the informer's store, so it is rebuilt by every relist (no ghosts after a watch gap).
A spec is parsed once per generation; a status or annotation change only refreshes those fields.
The store may hold the objects as JSON bytes: an object is decoded only when its resourceVersion
differs from the cached App's, so asking for every app each tick costs no decoding.
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
            status=obj.get("status") or {},
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
        key = (namespace, name)
        with self._lock:
            app = self._current(key, self.store.version(namespace, name))
            if app is None:
                self._apps.pop(key, None)
            return app

    def all(self) -> list[App]:
        versions = self.store.versions()
        with self._lock:
            for gone in [k for k in self._apps if k not in versions]:
                del self._apps[gone]
            apps = [a for a in (self._current(key, version) for key, version in versions.items()) if a is not None]
        valid = sum(1 for a in apps if a.valid)
        telemetry.APPS.labels("valid").set(valid)
        telemetry.APPS.labels("invalid").set(len(apps) - valid)
        return apps

    def _current(self, key: tuple[str, str], version: str | None) -> App | None:
        """The App for the held object at `version`; decoded and parsed only when that version is new."""
        cached = self._apps.get(key)
        if version is None:
            return None
        if cached is not None and cached.resource_version == version:
            return cached
        obj = self.store.get(*key)
        if obj is None:  # deleted since `version` was read
            return None
        app = _refresh(cached, obj, self.allowed_prometheus_urls)
        self._apps[key] = app
        return app
