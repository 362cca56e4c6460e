"""Answer the HAProxy pods of an app at zero: which pod of the app is ready now (reconcile.hold, `WOKEN`).

While requests are held, one of them at a time asks ``GET /webscale/wake/<namespace>/<name>`` on the
operator's `Settings.wake_port`. The answer comes from the pod cache, which the pod watch updates as
soon as the kubelet marks a pod Ready: ``200 "<ip> <port>\\n"``, or ``204`` when no pod of the app is
ready within `WAIT_SECONDS` (the question is held that long, so HAProxy learns of a pod within a watch
event of it turning Ready without asking many times a second). ``404`` for anything that is not an app
with autoscaling.scaleToZero. The ask also nudges the wake loop (`runtime.wake`): requests are waiting,
so the app at zero is scaled up now rather than at the loop's next round.

What it tells is what the cluster DNS tells anyone who asks for the app's headless Service (a ready
pod's address): nothing more, and only for apps that may scale to zero. Only the app's own pods are
named: in its namespace, labelled as its web pods, owned by a ReplicaSet of its Deployment, Ready, not
being deleted. Every replica answers (the standby's caches are warm); nothing here writes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from webscale.api.app import App
from webscale.api.labels import selector_labels
from webscale.api.ref import AppRef
from webscale.api.scale_to_zero import settings as zero_settings
from webscale.kube.cache import ClusterView, own_deployment, own_replica_sets
from webscale.kube.own_pods import own_pods
from webscale.reconcile.hold import WAKE_PATH

WAIT_SECONDS = 1.0
"""How long a question is held while no pod is ready (HAProxy's own timeout is 2 s: hold.ASK_TIMEOUT_MS)."""
CHECK_SECONDS = 0.05
"""How often a held question looks at the pod cache again."""


def ready_pod_address(
    pods: list[dict[str, Any]], app: App, owners: frozenset[str], port: int | None = None
) -> tuple[str, int] | None:
    """The address and port of the app's first Ready pod (by name) of the ReplicaSets `owners`, or None
    (pure; pods from the cache). `port`: the pods' port (default: the valid spec's)."""
    port = app.valid_spec.port if port is None else port
    found = []
    for meta, status in own_pods(pods, app.namespace, selector_labels(app.name), owners):
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if not ready or status.get("phase") != "Running":
            continue
        try:
            ip = ipaddress.ip_address(str(status.get("podIP") or ""))
        except ValueError:
            continue
        found.append((str(meta.get("name", "")), str(ip)))
    if not found:
        return None
    return min(found)[1], port


def running_port(deployment: dict[str, Any] | None) -> int | None:
    """The port the running pods serve on, from their Deployment's template (an Invalid app's spec may
    name another one the pods do not run yet)."""
    containers = ((deployment or {}).get("spec", {}).get("template", {}).get("spec", {}) or {}).get("containers")
    for port in ((containers or [{}])[0] or {}).get("ports") or []:
        if port.get("name") == "http" and isinstance(port.get("containerPort"), int):
            return int(port["containerPort"])
    return None


class Answerer:
    """What the wake endpoint needs of the operator: its apps, its pod cache and the wake loop's nudge."""

    def __init__(self, app: Callable[[AppRef], App | None], view: ClusterView, nudge: Callable[[], None]) -> None:
        self.app = app
        self.view = view
        self.nudge = nudge

    def zero_app(self, namespace: str, name: str) -> App | None:
        """The app if it exists and has autoscaling.scaleToZero, or is Invalid (its running HAProxy pods
        hold requests as its last valid spec asked, and the wake loop wakes it); else None."""
        app = self.app(AppRef(namespace, name))
        if app is None or app.deleting or (app.valid and zero_settings(app.valid_spec) is None):
            return None
        return app

    def address(self, app: App) -> tuple[str, int] | None:
        owners = own_replica_sets(self.view, app, app.name)
        if not owners:
            return None
        port = None if app.valid else running_port(own_deployment(self.view, app))
        if not app.valid and port is None:
            return None
        return ready_pod_address(self.view.children("Pod", app), app, owners, port)

    async def answer(self, namespace: str, name: str) -> tuple[int, str]:
        """(HTTP status, body) for one question, held up to WAIT_SECONDS while no pod is ready."""
        app = self.zero_app(namespace, name)
        if app is None:
            return 404, "no app with autoscaling.scaleToZero of that name\n"
        self.nudge()
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            found = self.address(app)
            if found is not None:
                return 200, f"{found[0]} {found[1]}\n"
            if time.monotonic() >= deadline:
                return 204, ""
            await asyncio.sleep(CHECK_SECONDS)


async def start_wake_http(port: int, answerer: Answerer, host: str = "0.0.0.0") -> web.AppRunner:
    """Serve `WAKE_PATH`/<namespace>/<name> on `port` (all addresses by default), and nothing else."""

    async def wake(request: web.Request) -> web.Response:
        status, body = await answerer.answer(request.match_info["namespace"], request.match_info["name"])
        return web.Response(status=status, text=body or None)

    app = web.Application()
    app.router.add_get(WAKE_PATH + "/{namespace:[a-z0-9][-a-z0-9]{0,62}}/{name:[a-z0-9][-a-z0-9.]{0,252}}", wake)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
