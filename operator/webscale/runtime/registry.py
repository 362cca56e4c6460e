"""The app registry: every ScaledWebApp the SWA informer holds, as parsed `App` values.

Built from the informer's store, so it is rebuilt by every relist (no ghosts after a watch gap).
A spec is parsed once per generation; a status or annotation change only refreshes those fields.
The store may hold the objects as JSON bytes: an object is decoded only when its resourceVersion
differs from the cached App's, so asking for every app each tick costs no decoding.

One app's object never stops the others: anything raised while parsing or checking it (a template
deep enough to exhaust the checker's recursion, say) makes that app Invalid with the reason, and
the registry goes on with the next app.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Sequence
from typing import Any

from webscale import telemetry
from webscale.api.app import App
from webscale.api.ref import AppRef
from webscale.kube.store import Store

log = logging.getLogger(__name__)


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
    try:
        return App.from_body(obj, allowed_urls)
    except Exception as exc:  # one app's spec, however built, never stops the registry
        problem = f"spec could not be checked: {type(exc).__name__} (a field nested too deeply?); simplify the spec"
        return App.unreadable(obj, problem)  # the reconciler logs it once, as it marks the app Invalid


class Registry:
    """Read-only view of the ScaledWebApps as `App` values."""

    def __init__(self, store: Store, allowed_prometheus_urls: Sequence[str] | None = None) -> None:
        self.store = store
        self.allowed_prometheus_urls = allowed_prometheus_urls
        self._apps: dict[AppRef, App] = {}
        self._lock = threading.Lock()

    def get(self, ref: AppRef) -> App | None:
        with self._lock:
            app = self._current(ref, self.store.version(ref.namespace, ref.name))
            if app is None:
                self._apps.pop(ref, None)
            return app

    def all(self) -> list[App]:
        versions = {AppRef(*key): version for key, version in self.store.versions().items()}
        with self._lock:
            for gone in [k for k in self._apps if k not in versions]:
                del self._apps[gone]
            apps = [a for a in (self._current(ref, version) for ref, version in versions.items()) if a is not None]
        valid = sum(1 for a in apps if a.valid)
        telemetry.APPS.labels("valid").set(valid)
        telemetry.APPS.labels("invalid").set(len(apps) - valid)
        return apps

    def _current(self, ref: AppRef, version: str | None) -> App | None:
        """The App for the held object at `version`; decoded and parsed only when that version is new."""
        cached = self._apps.get(ref)
        if version is None:
            return None
        if cached is not None and cached.resource_version == version:
            return cached
        obj = self.store.get(ref.namespace, ref.name)
        if obj is None:  # deleted since `version` was read
            return None
        app = _refresh(cached, obj, self.allowed_prometheus_urls)
        self._apps[ref] = app
        return app
