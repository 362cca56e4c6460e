"""Scale to zero on loopback: a real haproxy running the operator's config for an app that may scale
to zero, with no pod at first, a real dnsmasq in the place of the headless Service's DNS, and real
sample apps started when the test says a pod is ready.

What is swapped in the rendered config, as in `lb_rig`: the resolver, the listening ports, and the
Lua script's path (the operator's ConfigMap key written to a file next to the config).

    with zero_rig(tmp_path, hold="30s") as r:
        r.held()                 # the counters HAProxy serves at /webscale/held
        r.publish(apps)          # the apps' pods are ready: DNS lists them
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webscale.api.app import App
from webscale.api.labels import labels
from webscale.kube.cache import InMemoryView
from webscale.reconcile import haproxy_config, hold
from webscale.reconcile.haproxy import CONFIG_KEY, build_lb_children
from webscale.runtime.wake_answer import Answerer, start_wake_http
from webscale_local.dnsmasq import DnsHandle, start_dns
from webscale_local.haproxy import HAProxyHandle, start_haproxy
from webscale_local.lb_rig import NAME, NAMESPACE, SLOTS, SRV, _swap
from webscale_local.owned import deployment_of, owned_by, replica_set_of
from webscale_local.ports import free_port
from webscale_local.sample_app import SampleApp


def zero_app(hold_for: str = "30s", strategy: str = "round-robin", replicas_min: int = 0, port: int = 8080) -> App:
    """`shop` (one worker per pod) with scaleToZero, its pods serving on `port`."""
    spec = {
        "image": "registry.example/shop:1",
        "port": port,
        "workers": {"mode": "fixed", "count": 1},
        "replicas": {"min": replicas_min, "max": SLOTS},
        "autoscaling": {"scaleToZero": {"holdRequestsFor": hold_for}},
        "loadBalancer": {"strategy": strategy},
    }
    app = App.from_body({"metadata": {"name": NAME, "namespace": NAMESPACE, "uid": "u"}, "spec": spec})
    assert app.valid, app.errors
    return app


def operator_files(
    hold_for: str, strategy: str = "round-robin", replicas_min: int = 0, wake_base: str = ""
) -> dict[str, str]:
    """The ConfigMap data the operator renders for `shop` with scaleToZero (`wake_base`: its wake_url)."""
    app = zero_app(hold_for, strategy, replicas_min)
    return dict(build_lb_children(app, {}, wake_base=wake_base)[0]["data"])


_DEPLOYMENT = deployment_of("u", NAME, NAMESPACE, labels(NAME), "shop-deployment-uid")
_REPLICA_SET = replica_set_of(_DEPLOYMENT, "shop-rs-uid")


def zero_view() -> InMemoryView:
    """The operator's cache for `zero_app`: its Deployment and that Deployment's ReplicaSet, no pod yet."""
    return InMemoryView([_DEPLOYMENT, _REPLICA_SET])


def ready_pod(app: SampleApp, name: str = f"{NAME}-5d9f-a", version: str = "1") -> dict[str, Any]:
    """The pod object the operator's pod cache holds for a Ready pod of `shop` served by `app` (made by the
    ReplicaSet of `zero_view`)."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "resourceVersion": version, "labels": labels(NAME)},
        "status": {"phase": "Running", "podIP": app.host, "conditions": [{"type": "Ready", "status": "True"}]},
    }
    return owned_by(pod, _REPLICA_SET)


@contextlib.contextmanager
def wake_endpoint(app: App, view: InMemoryView, port: int) -> Iterator[list[int]]:
    """The operator's wake endpoint (runtime.wake_answer, the real aiohttp server) on 127.0.0.1:`port`,
    answering for `app` from `view` (the pod cache); yields the list its nudges are counted in."""
    nudges: list[int] = []
    loop = asyncio.new_event_loop()
    answerer = Answerer({app.ref: app}.get, view, lambda: nudges.append(1))
    started = threading.Event()
    runner: list[Any] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        runner.append(loop.run_until_complete(start_wake_http(port, answerer, host="127.0.0.1")))
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="wake-endpoint", daemon=True)
    thread.start()
    assert started.wait(10), "the wake endpoint did not start"
    try:
        yield nudges
    finally:
        asyncio.run_coroutine_threadsafe(runner[0].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@dataclass
class ZeroRig:
    dns: DnsHandle
    lb: HAProxyHandle
    http_port: int
    metrics_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def held(self) -> dict[str, float]:
        """HAProxy's held-request counters (`hold.HELD_PATH`), as the operator reads them."""
        url = f"http://127.0.0.1:{self.metrics_port}{hold.HELD_PATH}"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return hold.parse_held(resp.read().decode())

    def publish(self, apps: Sequence[SampleApp]) -> None:
        """The apps' pods are ready: the headless Service's DNS lists them."""
        self.dns.set_backends([(a.host, a.port) for a in apps])


@contextlib.contextmanager
def zero_rig(tmp_path: Path, hold_for: str, strategy: str = "round-robin", wake_base: str = "") -> Iterator[ZeroRig]:
    """haproxy with the operator's scale-to-zero config and a DNS that lists no pod yet (`wake_base`: where
    held requests ask the operator for a ready pod; empty: nowhere)."""
    files = operator_files(hold_for, strategy, wake_base=wake_base)
    lua_path = Path(tmp_path) / f"{hold.LUA_KEY}"
    lua_path.write_text(files[hold.LUA_KEY])
    with start_dns(tmp_path, SRV, []) as dns:
        http_port, metrics_port = free_port(), free_port()
        cfg = files[CONFIG_KEY]
        cfg = _swap(cfg, f"    lua-load {hold.LUA_PATH}\n", f"    lua-load {lua_path}\n")
        cfg = _swap(cfg, "    parse-resolv-conf\n", f"    nameserver dns {dns.address}\n")
        cfg = _swap(cfg, f"    bind :{haproxy_config.HTTP_PORT}\n", f"    bind 127.0.0.1:{http_port}\n")
        cfg = _swap(cfg, f"    bind :{haproxy_config.METRICS_PORT}\n", f"    bind 127.0.0.1:{metrics_port}\n")
        with start_haproxy(cfg, tmp_path, ready_url=f"http://127.0.0.1:{metrics_port}/healthz") as lb:
            yield ZeroRig(dns, lb, http_port, metrics_port)
