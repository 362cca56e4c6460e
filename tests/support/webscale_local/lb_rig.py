"""The load-balancer rig on loopback: real sample apps on 127.0.0.x, dnsmasq serving the headless
Service's SRV records, and a real haproxy running the operator's rendered haproxy.cfg.

What is swapped in the rendered config for the test, and nothing else: the resolver (the pod's
/etc/resolv.conf becomes ``nameserver dns 127.0.0.1:<dnsmasq port>``) and the listening ports
(free loopback ports instead of :8080/:8404, which a shared machine may have taken). The backend
name is the operator's own: ``_http._tcp.shop-pods.default.svc.cluster.local``, served by dnsmasq.

Which backend served a request: each app runs one worker, and /healthz answers with the
worker's pid, so a pid names an app.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from webscale.api.app import App
from webscale.reconcile import haproxy_config
from webscale.reconcile.haproxy import build_lb_children
from webscale_local.dnsmasq import DnsHandle, start_dns
from webscale_local.haproxy import HAProxyHandle, start_haproxy
from webscale_local.ports import free_port
from webscale_local.sample_app import SampleApp, start_sample_app
from webscale_local.waiting import wait_for

NAMESPACE, NAME = "default", "shop"
SRV = haproxy_config.srv_name(NAMESPACE, NAME)
APP_HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
SLOTS = 6
"""replicas.max of the test app: HAProxy's server slots."""


def operator_config(strategy: str, cluster_domain: str = haproxy_config.DEFAULT_CLUSTER_DOMAIN) -> str:
    """The haproxy.cfg the operator renders for `shop` (one worker per pod) with `strategy`, in a cluster
    whose DNS domain is `cluster_domain` (the operator setting)."""
    spec = {
        "image": "registry.example/shop:1",
        "workers": {"mode": "fixed", "count": 1},
        "replicas": {"min": 1, "max": SLOTS},
        "loadBalancer": {"strategy": strategy},
    }
    app = App.from_body({"metadata": {"name": NAME, "namespace": NAMESPACE, "uid": "u"}, "spec": spec})
    assert app.valid, app.errors
    config_map = build_lb_children(app, {}, cluster_domain)[0]
    return config_map["data"]["haproxy.cfg"]


def _swap(cfg: str, old: str, new: str) -> str:
    assert cfg.count(old) == 1, f"expected {old!r} once in the rendered config"
    return cfg.replace(old, new)


def rig_config(
    strategy: str,
    dns_address: str,
    http_port: int,
    metrics_port: int,
    server_maxconn: int | None = None,
    cluster_domain: str = haproxy_config.DEFAULT_CLUSTER_DOMAIN,
) -> str:
    """The operator's config with the resolver and ports swapped; `server_maxconn` replaces the per-pod maxconn
    (bench/lb.py compares the operator's value with another; None keeps the operator's)."""
    cfg = operator_config(strategy, cluster_domain)
    if server_maxconn is not None:
        one_worker = haproxy_config.CONNECTIONS_PER_WORKER  # the test app runs one worker per pod
        cfg = _swap(cfg, f" maxconn {one_worker} ", f" maxconn {server_maxconn} ")
    cfg = _swap(cfg, "    parse-resolv-conf\n", f"    nameserver dns {dns_address}\n")
    cfg = _swap(cfg, f"    bind :{haproxy_config.HTTP_PORT}\n", f"    bind 127.0.0.1:{http_port}\n")
    return _swap(cfg, f"    bind :{haproxy_config.METRICS_PORT}\n", f"    bind 127.0.0.1:{metrics_port}\n")


def backend_pid(app: SampleApp) -> int:
    with urllib.request.urlopen(f"{app.url}/healthz", timeout=5) as resp:
        return int(json.load(resp)["pid"])


@dataclass
class Rig:
    apps: list[SampleApp]
    dns: DnsHandle
    lb: HAProxyHandle
    http_port: int
    metrics_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def pids(self) -> dict[int, str]:
        """worker pid -> app host, for the apps still running."""
        return {backend_pid(a): a.host for a in self.apps if a.process.poll() is None}

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return resp.read().decode()

    def metric(self, name: str, **labels: str) -> float | None:
        """The value of one series of HAProxy's exporter (labels must match those given)."""
        for line in self.metrics().splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return None

    def backend_total(self, name: str) -> float:
        """A counter of HAProxy's exporter summed over the backend's servers (e.g. connections opened)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name + "{") and f'proxy="{haproxy_config.BACKEND}"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def active_servers(self) -> int:
        value = self.metric("haproxy_backend_active_servers", proxy=haproxy_config.BACKEND)
        return int(value or 0)

    def wait_active(self, count: int, timeout: float) -> float:
        """Wait (bounded) until HAProxy counts `count` servers UP; seconds it took."""
        start = time.monotonic()
        wait_for(lambda: self.active_servers() == count, timeout, 0.1, f"HAProxy to count {count} servers UP")
        return time.monotonic() - start

    def serve(self, hosts: Sequence[str]) -> None:
        """DNS lists exactly the apps on these hosts (the headless Service's ready pods)."""
        self.dns.set_backends([(a.host, a.port) for a in self.apps if a.host in hosts])


class Client:
    """One keep-alive connection to HAProxy from a chosen loopback source address."""

    def __init__(self, url: str, source: str | None = None, timeout: float = 10.0) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.args = (host, int(port))
        self.source = (source, 0) if source else None
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str = "/healthz") -> tuple[int, dict]:
        """(status, JSON body); raises OSError / HTTPException on a failed connection."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(*self.args, timeout=self.timeout, source_address=self.source)
        try:
            self.conn.request("GET", path)
            resp = self.conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if resp.getheader("connection", "").lower() == "close":
            self.close()
        try:
            return resp.status, json.loads(body)
        except ValueError:
            return resp.status, {}

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@contextlib.contextmanager
def apps_on(tmp_path: Path, hosts: Sequence[str]) -> Iterator[list[SampleApp]]:
    """One sample app (one worker) per loopback host; all stopped on exit."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(start_sample_app(tmp_path, workers=1, HOST=h)) for h in hosts]


@contextlib.contextmanager
def rig(
    tmp_path: Path,
    apps: list[SampleApp],
    strategy: str,
    serving: int | None = None,
    server_maxconn: int | None = None,
    cluster_domain: str = haproxy_config.DEFAULT_CLUSTER_DOMAIN,
) -> Iterator[Rig]:
    """dnsmasq listing the first `serving` apps (default all) under the Service's name in `cluster_domain`,
    and haproxy with the operator's config for that domain (per-pod maxconn replaced by `server_maxconn` if
    given)."""
    listed = apps[: serving or len(apps)]
    srv = haproxy_config.srv_name(NAMESPACE, NAME, cluster_domain)
    with start_dns(tmp_path, srv, [(a.host, a.port) for a in listed]) as dns:
        http_port, metrics_port = free_port(), free_port()
        cfg = rig_config(strategy, dns.address, http_port, metrics_port, server_maxconn, cluster_domain)
        with start_haproxy(cfg, tmp_path, ready_url=f"http://127.0.0.1:{metrics_port}/healthz") as lb:
            r = Rig(apps, dns, lb, http_port, metrics_port)
            r.wait_active(len(listed), timeout=20)
            yield r
