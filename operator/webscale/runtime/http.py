"""The operator's HTTP endpoint: /metrics (its own metrics), /healthz (liveness), /readyz.

/healthz fails when the scaling loop is not live (`runtime.health`): no tick completed for
`liveness_stale_ticks` ticks, or the last ticks all failed. /readyz is ready once the caches synced.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from webscale import telemetry


async def start_http(port: int, liveness_problem: Callable[[], str | None], ready: Callable[[], bool]) -> web.AppRunner:
    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(telemetry.REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        problem = liveness_problem()
        return web.Response(text="ok\n") if problem is None else web.Response(status=500, text=f"{problem}\n")

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
