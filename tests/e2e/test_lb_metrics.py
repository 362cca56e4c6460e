"""Request rate and in-flight requests read at the load balancer, end to end: a real Prometheus scrapes the
built-in exporter of two real haproxy processes (the operator's rendered config) labelled as two apps by
the label contract, and the operator's PrometheusSource reads both apps in ONE query.

The two HAProxy processes stand for the HAProxy pods of apps `shop` and `api`; both balance over the same
three sample apps (DNS from dnsmasq). Load is paced: `shop` gets twice `api`'s rate, and its requests
take 300 ms, so a few are always in flight. Only ratios measured in one run are asserted."""

from __future__ import annotations

import contextlib
import time

import pytest
from webscale_local.dnsmasq import start_dns
from webscale_local.haproxy import start_haproxy
from webscale_local.lb_rig import APP_HOSTS, SRV, apps_on, rig_config
from webscale_local.load import Load
from webscale_local.ports import free_port
from webscale_local.prometheus import start_prometheus

from webscale.api.ref import AppRef
from webscale.metrics.prometheus import AppQuery, PrometheusSource
from webscale.promql import queries as promql

pytestmark = pytest.mark.e2e


def test_lb_request_rate_and_in_flight_for_all_apps_in_one_query(tmp_path):
    with contextlib.ExitStack() as stack:
        apps = stack.enter_context(apps_on(tmp_path, APP_HOSTS[:3]))
        dns = stack.enter_context(start_dns(tmp_path, SRV, [(a.host, a.port) for a in apps]))
        lbs = {}
        for name in ("shop", "api"):
            http_port, metrics_port = free_port(), free_port()
            cfg = rig_config("least-connections", dns.address, http_port, metrics_port)
            stack.enter_context(start_haproxy(cfg, tmp_path, ready_url=f"http://127.0.0.1:{metrics_port}/healthz"))
            lbs[name] = (http_port, metrics_port)
        targets = [
            (
                f"127.0.0.1:{metrics}",
                {"namespace": "default", "app": name, "pod": f"{name}-haproxy-0", "managed_by": "webscale"},
            )
            for name, (_http, metrics) in lbs.items()
        ]
        prom = stack.enter_context(start_prometheus(tmp_path, targets, scrape_interval="1s"))
        prom.wait_for_targets_up(2)
        shop = stack.enter_context(
            Load([f"http://127.0.0.1:{lbs['shop'][0]}"], rate=30, duration=20, path="/io?ms=300", connections=16)
        )
        api = stack.enter_context(Load([f"http://127.0.0.1:{lbs['api'][0]}"], rate=15, duration=20, path="/io?ms=1"))
        source = PrometheusSource(scrape_interval=1.0)
        queries = [
            AppQuery(AppRef("default", name), prom.url, cpu_source=None, request_rate_source="loadbalancer")
            for name in lbs
        ]
        seen = None
        try:
            deadline = time.monotonic() + 18
            while time.monotonic() < deadline:  # bounded: until both rates cover a full window under load
                got = source.observe(queries, now=time.time())
                assert source.last_poll_queries == 1, "one batched query for every app read at the LB"
                if all(o.ok and o.requests_per_second and o.requests_per_second > 0 for o in got.values()):
                    seen = got
                    if time.monotonic() > deadline - 10:
                        break
                time.sleep(1)  # one read per scrape interval, in a loop bounded by the 18 s deadline
        finally:
            shop.stop()
            api.stop()
            source.close()
        asked = [q for q in prom.queries() if "haproxy_backend" in q]
    assert seen is not None, "no request rate at the LB for both apps"
    shop_obs, api_obs = seen[AppRef("default", "shop")], seen[AppRef("default", "api")]
    ratio = shop_obs.requests_per_second / api_obs.requests_per_second
    print(
        f"\nat the LB: shop {shop_obs.requests_per_second:.1f} req/s, {shop_obs.in_flight_requests} in flight; "
        f"api {api_obs.requests_per_second:.1f} req/s, {api_obs.in_flight_requests} in flight; ratio {ratio:.2f}"
    )
    assert 1.4 <= ratio <= 2.8, "shop is offered twice api's rate"
    assert shop_obs.in_flight_requests is not None and api_obs.in_flight_requests is not None
    assert shop_obs.in_flight_requests >= 1, "300 ms requests at 30/s keep several in flight"
    assert set(asked) == {promql.lb_request_rate_query("4s", "2s")}
