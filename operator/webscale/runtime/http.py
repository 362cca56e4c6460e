"""The operator's HTTP endpoint: /metrics (its own metrics), /healthz (liveness), /readyz.

/healthz fails when the scaling loop has not completed a tick for `liveness_stale_ticks` ticks, so a
wedged loop gets the pod restarted, not only a dead process. /readyz is ready once the caches synced.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from webscale import telemetry


def loop_is_live(last_tick: float, now: float, tick_seconds: float, stale_ticks: int) -> bool:
    """Has the loop completed a tick within the last `stale_ticks` ticks? (pure)"""
    return now - last_tick <= tick_seconds * stale_ticks


async def start_http(
    port: int, tick_seconds: float, stale_ticks: int, last_tick: Callable[[], float], ready: Callable[[], bool]
) -> web.AppRunner:
    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(telemetry.REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        age = time.time() - last_tick()
        if loop_is_live(last_tick(), time.time(), tick_seconds, stale_ticks):
            return web.Response(text="ok\n")
        return web.Response(status=500, text=f"scaling loop has not completed a tick for {age:.0f}s\n")

    async def readyz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n") if ready() else web.Response(status=503, text="caches not synced\n")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    return runner
