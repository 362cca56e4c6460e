"""Thin kopf handlers: turn an event into a call of the Reconciler. No manifests, no arithmetic."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import kopf

from webscale.api import models
from webscale.api.app import App
from webscale.autoscaling.act import Autoscaler
from webscale.kube import client as k8s
from webscale.metrics.prometheus import PrometheusSource
from webscale.reconcile.reconciler import Reconciler
from webscale.settings import Settings

log = logging.getLogger(__name__)
MANAGED = {"app.kubernetes.io/managed-by": "webscale"}
APP = (models.GROUP, models.VERSION, models.PLURAL)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Create the API client once; keep kopf's own bookkeeping in annotations, not in status."""
    ours = Settings()
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=models.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=models.GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    settings.peering.standalone = True
    settings.networking.request_timeout = ours.request_timeout_seconds
    settings.watching.server_timeout = 300
    memo.settings = ours
    kube = k8s.Kube(k8s.new_api_client(), ours)
    memo.reconciler = Reconciler(kube)
    memo.source = PrometheusSource(
        timeout=ours.metrics_timeout_seconds, scrape_interval=ours.metrics_scrape_interval_seconds
    )
    memo.autoscaler = Autoscaler(kube, memo.source)
    memo.registry = {}


@kopf.on.startup()
async def start_scaling(memo: kopf.Memo, **_: Any) -> None:
    """Start the one scaling loop for all apps (stopped in stop_scaling)."""
    memo.scaling_task = asyncio.create_task(_scaling_loop(memo))


async def _scaling_loop(memo: kopf.Memo) -> None:
    """One loop for all apps: each tick polls (in one batch) the apps whose interval has passed,
    and every resync period it checks every app's children for drift. (A kopf timer would do the
    resync too, but kopf puts a finalizer on every object with a timer, which leaves apps stuck
    in deletion whenever the operator is not running.)"""
    next_resync = time.monotonic() + memo.settings.resync_seconds
    while True:
        try:
            await asyncio.to_thread(memo.autoscaler.poll, list(memo.registry.values()), time.time())
        except Exception:
            log.exception("scaling loop: tick failed; continuing")
        if time.monotonic() >= next_resync:
            next_resync = time.monotonic() + memo.settings.resync_seconds
            await asyncio.to_thread(_resync, memo, list(memo.registry.values()))
        await asyncio.sleep(memo.settings.scaling_tick_seconds)


def _resync(memo: kopf.Memo, apps: list[App]) -> None:
    """Drift check of every app; writes nothing where everything already matches."""
    changed = 0
    for app in apps:
        try:
            changed += 1 if _reconcile(memo, app) else 0
        except Exception as exc:  # one app's failure never stops the others
            log.warning("%s/%s: resync failed, next period retries: %s", app.namespace, app.name, exc)
    log.info("resync: checked %d app(s), repaired %d", len(apps), changed)


@kopf.on.cleanup()
async def stop_scaling(memo: kopf.Memo, **_: Any) -> None:
    task = getattr(memo, "scaling_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if getattr(memo, "source", None) is not None:
        memo.source.close()


@kopf.on.event(*APP)
async def track_app(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Keep the list of apps current for the scaling loop and the children's handlers
    (async: the registry is only changed in the event loop)."""
    app = App.from_body(body)
    key = (app.namespace, app.name)
    if type == "DELETED":
        memo.registry.pop(key, None)
        memo.autoscaler.forget(App.named(*key))
    else:
        memo.registry[key] = app


def _reconcile(memo: kopf.Memo, app: App) -> list[str]:
    try:
        changed = memo.reconciler.reconcile(app)
    except Exception as exc:
        if k8s.is_gone(exc):
            log.info("%s/%s: going away (%s); nothing to do", app.namespace, app.name, exc.reason)
            return []
        if k8s.is_transient(exc):
            raise kopf.TemporaryError(f"transient API error, will retry: {exc}", delay=5) from exc
        raise
    if changed:
        log.info("%s/%s: applied %s", app.namespace, app.name, ", ".join(changed))
    return changed


@kopf.on.create(*APP)
@kopf.on.update(*APP)
@kopf.on.resume(*APP)
def reconcile_app(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    _reconcile(memo, App.from_body(body))


def _owner(body: kopf.Body) -> str | None:
    for ref in body.get("metadata", {}).get("ownerReferences", []):
        if ref.get("kind") == models.KIND and ref.get("controller"):
            return str(ref["name"])
    return None


@kopf.on.event("apps", "v1", "deployments", labels=MANAGED)
@kopf.on.event("", "v1", "services", labels=MANAGED)
async def child_changed(body: kopf.Body, type: str | None, namespace: str, memo: kopf.Memo, **_: Any) -> None:
    """An owned child changed (a hand edit, a rollout, pods getting ready): converge its owner.

    Async on purpose: the registry is read here, in the event loop that updates it; only the
    blocking reconcile goes to a thread."""
    owner = _owner(body)
    app = memo.registry.get((namespace, owner)) if owner else None
    if app is None or (type == "DELETED" and app.deleting):
        return
    try:
        await asyncio.to_thread(_reconcile, memo, app)
    except kopf.TemporaryError as exc:
        log.warning("%s/%s: %s", namespace, owner, exc)
