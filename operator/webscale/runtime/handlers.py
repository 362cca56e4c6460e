"""kopf runs the process: start-up, signals, graceful shutdown, logging. The work is in `Controller`.

The operator does not use kopf's per-object handlers: its own informers watch with server-side label
selectors (kopf filters labels client-side, after receiving every Deployment of the cluster), rebuild
the app registry from every relist (no ghosts after a watch gap), write no bookkeeping annotations on
the apps, and keep a standby replica's caches warm for a fast leader failover.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from webscale.runtime.controller import Controller
from webscale.runtime.http import start_http
from webscale.runtime.wake_answer import start_wake_http
from webscale.settings import Settings

log = logging.getLogger(__name__)


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    ours = Settings()
    settings.posting.level = logging.WARNING
    settings.peering.standalone = True
    settings.scanning.disabled = True  # no kopf resource handlers: nothing to discover (no CRD watch)
    memo.controller = controller = Controller(ours)
    memo.http = memo.wake_http = None
    if ours.liveness_port:
        memo.http = await start_http(ours.liveness_port, controller.health.problem, controller.synced)
    if ours.wake_port:
        memo.wake_http = await start_wake_http(ours.wake_port, controller.answerer)
    await controller.start()


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    controller = getattr(memo, "controller", None)
    if controller is not None:
        await controller.stop()
    for runner in (getattr(memo, "http", None), getattr(memo, "wake_http", None)):
        if runner is not None:
            await runner.cleanup()
    log.info("stopped")
