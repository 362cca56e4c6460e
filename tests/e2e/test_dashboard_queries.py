"""Every query of the Grafana dashboard (manifests/grafana/webscale-dashboard.json) returns series from a
real Prometheus fed by real sample-app processes (the label contract) and the operator's own /metrics,
while the operator scales an app under load: panels as instant queries, annotations as the range queries
Grafana runs for them. The operator's per-app series (webscale_app_*) are scraped as its ServiceMonitor
scrapes them (honor_labels) and go from /metrics when the app is deleted.

The HAProxy queries run against a real haproxy with the operator's config (second test), which also checks
the at-max alert's expression on HAProxy's real metrics: between the two, every query of the dashboard runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import OPERATOR_ENV
from scenario import APP, LOAD_RPS, NEEDED, app_targets, load_on, rate_query, scaling_spec, wait_for_series
from waiting import eventually
from webscale_local.dnsmasq import start_dns
from webscale_local.haproxy import start_haproxy
from webscale_local.lb_rig import APP_HOSTS, NAME, NAMESPACE, SRV, apps_on
from webscale_local.load import Load
from webscale_local.operator_process import OperatorProcess
from webscale_local.ports import free_port
from webscale_local.prometheus import operator_job, start_prometheus
from webscale_local.swa import G, P, V

from webscale.api.app import App
from webscale.reconcile import haproxy_config
from webscale.reconcile.haproxy import build_lb_children

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "manifests" / "grafana" / "webscale-dashboard.json"
# $__rate_interval: Grafana makes it at least 4 scrape intervals; the rig scrapes every second
GRAFANA_VARS = {"$__rate_interval": "10s", "$namespace": ".*", "$app": ".*"}
RULES = ROOT / "manifests" / "helm" / "webscale-operator" / "files" / "prometheus-rules.yaml"
MAX_REPLICAS = 3
NOT_IN_THIS_RIG = re.compile(r"\bhaproxy_\w+")
SCALE_UP_REASONS = {"RequestRateAboveTarget", "CPUAboveTarget", "ScaleUpLimited", "BurstMode", "AtMaxReplicas"}


def dashboard_queries() -> list[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    out = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            out.append((f"{panel['title']} / {target['legendFormat']}", expr))
    return out


def annotation_queries() -> list[tuple[str, str, float]]:
    """(where, PromQL, step in s) of every annotation: Grafana runs each as a range query."""
    board = json.loads(DASHBOARD.read_text())
    out = []
    for a in board["annotations"]["list"]:
        expr = a["expr"]
        for var, value in GRAFANA_VARS.items():
            expr = expr.replace(var, value)
        step = float(a["step"][:-1]) * {"s": 1, "m": 60}[a["step"][-1]]
        out.append((f"annotation {a['name']}", expr, step))
    return out


def range_series(prom_url: str, promql: str, start: float, end: float, step: float) -> list[dict]:
    """A range query as Grafana runs an annotation's: the start aligned to the step."""
    query = urllib.parse.urlencode({"query": promql, "start": start // step * step, "end": end, "step": step})
    with urllib.request.urlopen(f"{prom_url}/api/v1/query_range?{query}", timeout=10) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]["result"]


def app_lines(operator_port: int, namespace: str, app: str) -> list[str]:
    """The webscale_app_* samples of one app on the operator's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{operator_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    ours = (f'namespace="{namespace}"', f'app="{app}"')
    return [line for line in text.splitlines() if line.startswith("webscale_app_") and all(o in line for o in ours)]


def series(prom_url: str, promql: str) -> list[dict]:
    query = urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(f"{prom_url}/api/v1/query?{query}", timeout=5) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]["result"]


def without_series(prom_url: str, queries: list[tuple[str, str]], timeout: float = 20) -> list[str]:
    """The queries that return no series, after waiting (bounded) for windows to fill."""
    deadline = time.monotonic() + timeout
    while True:
        empty = [where for where, q in queries if not series(prom_url, q)]
        if not empty or time.monotonic() > deadline:
            return empty
        time.sleep(1)


def test_every_dashboard_query_returns_series(
    cluster, crd_installed, namespace, sample_apps, prometheus_factory, swa_apps, tmp_path
):
    began = time.time()
    operator_port = free_port()
    scraped = operator_job(f"127.0.0.1:{operator_port}", {"namespace": "webscale-system", "pod": "webscale-operator-0"})
    prom = prometheus_factory(app_targets(sample_apps, namespace, APP), extra_scrape_configs=[scraped])
    env = {**OPERATOR_ENV, "WEBSCALE_PROMETHEUS_URLS": prom.url, "WEBSCALE_LIVENESS_PORT": str(operator_port)}
    operator = OperatorProcess(cluster, tmp_path / "operator.log", **env).start()
    try:
        wait_for_series(prom, namespace, APP)  # all targets up: the apps' processes and the operator
        swa_apps.create(APP, scaling_spec(prom.url))
        swa_apps.wait_running(APP, 1)
        with load_on(sample_apps, rate=LOAD_RPS, duration=60):
            eventually(lambda: (prom.value(rate_query(namespace, APP)) or 0) > 5, 20, "Prometheus to see load")
            eventually(lambda: (swa_apps.replicas(APP) or 0) > 1, 30, "a scale-up (a decision acted on)")
            eventually(lambda: swa_apps.replicas(APP) == NEEDED, 30, f"{NEEDED} replicas (the picture shows the ramp)")
            eventually(
                lambda: prom.value("sum(webscale_scaling_actions_total)") is not None, 15, "the scale-up in /metrics"
            )
            # the scale-up decision read load above one pod's capacity: time under capacity was counted
            mine = f'namespace="{namespace}", app="{APP}"'
            under = f"webscale_app_under_capacity_seconds_total{{{mine}}}"
            eventually(lambda: (prom.value(under) or 0) > 0, 15, "time under capacity in Prometheus")
            queries = dashboard_queries()
            checked = [(where, q) for where, q in queries if not NOT_IN_THIS_RIG.search(q)]
            assert len(checked) >= 15, checked
            empty = without_series(prom.url, checked)  # a counter born at the scale-up needs two samples
            annotations = [(w, q, step) for w, q, step in annotation_queries() if not NOT_IN_THIS_RIG.search(q)]
            assert annotations, "no annotation query runs in this rig"
            # evaluated at the step's grid points only: wait (bounded) for one after the reasons changed
            deadline = time.monotonic() + 2 * max(step for _, _, step in annotations)
            while (
                unmarked := [w for w, q, step in annotations if not range_series(prom.url, q, began, time.time(), step)]
            ) and time.monotonic() < deadline:
                time.sleep(1)
            empty += unmarked
            marked = {
                s["metric"]["reason"]
                for w, q, step in annotations
                if "reason" in q
                for s in range_series(prom.url, q, began, time.time(), step)
            }
            reasons = {s["metric"]["reason"] for s in series(prom.url, f"webscale_app_decisions_total{{{mine}}}")}
            picture = Path(os.environ.get("WEBSCALE_DASHBOARD_PNG") or tmp_path / "dashboard.png")
            draw = [sys.executable, str(ROOT / "scripts" / "dashboard_png.py"), "--prometheus", prom.url]
            drawn = subprocess.run(
                [
                    *draw,
                    "--minutes",
                    f"{(time.time() - began) / 60:.2f}",
                    "--rate-interval",
                    "10s",
                    "--out",
                    str(picture),
                ],
                capture_output=True,
                text=True,
                timeout=120,
            )
        assert empty == [], f"dashboard queries without series: {empty}"
        assert reasons & SCALE_UP_REASONS, reasons
        assert marked and marked <= reasons, (marked, reasons)  # annotated reasons are decisions' reasons
        assert app_lines(operator_port, namespace, APP), "the app's series on /metrics"
        swa_apps.custom.delete_namespaced_custom_object(G, V, namespace, P, APP)
        eventually(lambda: app_lines(operator_port, namespace, APP) == [], 20, "the app's series gone with it")
        assert drawn.returncode == 0 and "panels without data" not in drawn.stderr, drawn.stderr
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        print(
            f"{len(checked)} queries returned series; reasons {sorted(reasons)}, annotated {sorted(marked)}; "
            f"{prom.value(under)} s under capacity; not in this rig: "
            f"{[where for where, q in queries if NOT_IN_THIS_RIG.search(q)]}"
        )
    finally:
        operator.stop()
        print(f"--- operator log (tail) ---\n{operator.log()[-4000:]}")


def at_max_alert_expr() -> str:
    rules = yaml.safe_load(RULES.read_text())
    (rule,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "WebscaleAppAtMaxReplicasOverloaded"]
    return rule["expr"]


def overloadable_haproxy_config(dns_address: str, http_port: int, metrics_port: int) -> str:
    """The operator's haproxy.cfg for `shop` with replicas.max 3 (three server slots), one connection per
    pod instead of workers x 16 (so 300 ms requests at 30/s queue), the resolver and ports swapped."""
    spec = {
        "image": "registry.example/shop:1",
        "workers": {"mode": "fixed", "count": 1},
        "replicas": {"min": 1, "max": MAX_REPLICAS},
        "loadBalancer": {"strategy": "least-connections"},
    }
    app = App.from_body({"metadata": {"name": NAME, "namespace": NAMESPACE, "uid": "u"}, "spec": spec})
    assert app.valid, app.errors
    cfg = build_lb_children(app, {})[0]["data"]["haproxy.cfg"]
    swaps = [
        (f" maxconn {haproxy_config.CONNECTIONS_PER_WORKER} ", " maxconn 1 "),
        ("    parse-resolv-conf\n", f"    nameserver dns {dns_address}\n"),
        (f"    bind :{haproxy_config.HTTP_PORT}\n", f"    bind 127.0.0.1:{http_port}\n"),
        (f"    bind :{haproxy_config.METRICS_PORT}\n", f"    bind 127.0.0.1:{metrics_port}\n"),
    ]
    for old, new in swaps:
        assert cfg.count(old) == 1, old
        cfg = cfg.replace(old, new)
    return cfg


def test_haproxy_queries_and_the_at_max_alert_on_a_real_haproxy(tmp_path):
    """The dashboard's HAProxy queries return series from a real haproxy running the operator's config,
    and the WebscaleAppAtMaxReplicasOverloaded expression (its `for` aside) is empty while every slot
    serves without a queue and returns the app once requests queue."""
    with contextlib.ExitStack() as stack:
        apps = stack.enter_context(apps_on(tmp_path, APP_HOSTS[:MAX_REPLICAS]))
        dns = stack.enter_context(start_dns(tmp_path, SRV, [(a.host, a.port) for a in apps]))
        http_port, metrics_port = free_port(), free_port()
        cfg = overloadable_haproxy_config(dns.address, http_port, metrics_port)
        stack.enter_context(start_haproxy(cfg, tmp_path, ready_url=f"http://127.0.0.1:{metrics_port}/healthz"))
        labels = {"namespace": NAMESPACE, "app": NAME, "pod": f"{NAME}-haproxy-0", "managed_by": "webscale"}
        prom = stack.enter_context(start_prometheus(tmp_path, [(f"127.0.0.1:{metrics_port}", labels)], "1s"))
        prom.wait_for_targets_up(1)
        active = 'max(haproxy_backend_active_servers{proxy="pods"})'
        eventually(lambda: [float(s["value"][1]) for s in series(prom.url, active)] == [MAX_REPLICAS], 30, "3 pods")
        eventually(lambda: series(prom.url, 'haproxy_backend_current_queue{proxy="pods"}'), 10, "queue series")
        expr = at_max_alert_expr()
        assert series(prom.url, expr) == [], "every slot serving, nothing queued: not overloaded"
        with Load([f"http://127.0.0.1:{http_port}"], rate=30, duration=25, path="/io?ms=300", connections=16):
            fired = eventually(lambda: series(prom.url, expr), 20, "the at-max expression under overload")
            lb_queries = [(where, q) for where, q in dashboard_queries() if "haproxy_" in q]
            assert len(lb_queries) >= 3, lb_queries
            empty = without_series(prom.url, lb_queries)
    assert [s["metric"] for s in fired] == [{"namespace": NAMESPACE, "app": NAME}]
    assert empty == [], f"HAProxy dashboard queries without series: {empty}"
