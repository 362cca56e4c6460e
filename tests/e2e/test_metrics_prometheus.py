"""The Prometheus adapter against a real Prometheus scraping real HTTP exposition endpoints.

Pods are simulated by one loopback HTTP server serving the text exposition
format: each "pod" path exposes counters that grow at a known rate, so the
rates Prometheus computes can be checked against the truth. Prometheus is the
Debian binary (tests/fixtures/prometheus.py), scraping every second.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from exposition_rig import API, BURST, GHOST, IDLE, RECENT, SCRAPE_INTERVAL, SHOP, TRUTH, WINDOW, close, query, settled
from fixtures.exposition import Exposition, targets
from waiting import eventually
from webscale_local.prometheus import PrometheusHandle, start_prometheus

from webscale.api.observation import Observation
from webscale.api.ref import AppRef
from webscale.metrics.prometheus import AppQuery, PrometheusSource
from webscale.promql import queries as promql
from webscale.promql import relabel as promql_relabel

pytestmark = pytest.mark.e2e

# ---- the batched queries ---------------------------------------------------------------------


def test_batched_observe_reads_real_rates(warm: PrometheusHandle):
    source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
    apps = [query(warm.url, key) for key in [*TRUTH, GHOST]]
    before = len(warm.queries())
    observed = eventually(lambda: settled(source, apps), timeout=30, what="rates close to the truth")
    for key, (rps, cores, pods) in TRUTH.items():
        observation = observed[key]
        assert observation.ok, observation
        assert close(observation.requests_per_second, rps), (key, observation)
        assert close(observation.recent_requests_per_second, rps), (key, observation)
        assert close(observation.cpu_cores, cores), (key, observation)
        assert observation.pods_reporting == pods, (key, observation)
    # Zero traffic is a reading of 0, not a failure...
    assert observed[IDLE].requests_per_second == 0.0 and observed[IDLE].ok
    # ...while an app without series is a failure with a reason, never 0 (keda#3064).
    assert observed[GHOST] == Observation.failed(
        observed[GHOST].at,
        'no series for app "ghost" in namespace "default" (http_requests_total{managed_by="webscale"})',
    )
    assert observed[GHOST].recent_requests_per_second is None
    assert source.last_poll_queries == 2
    logged = warm.queries()[before:]
    expected = [promql.request_rate_query(WINDOW, RECENT), promql.cpu_query("app", WINDOW)]
    assert len(logged) % 2 == 0 and logged[-2:] == expected


def test_the_seasonal_query_reads_the_same_series_back_in_time(warm: PrometheusHandle):
    """autoscaling.seasonal's query (PromQL offset and a subquery) on real Prometheus, shrunk to seconds:
    the load of "then" (6 s ago) and now, for every app with the setting, in one more query; an app
    without series has no prior and no other failure than its rate's."""
    source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
    setting = (6.0, 3.0, 4.0)  # offset, lookahead, level window (the spec's minimums are hours: see the unit tests)
    apps = [query(warm.url, key, cpu_source=None, seasonal=setting) for key in (SHOP, API, GHOST)]

    def read() -> dict[AppRef, Observation] | None:
        """Once Prometheus holds the level window 6 s back (the fixture's data starts a few seconds ago)."""
        got = source.observe(apps, now=time.time())
        seen = [(got[key].seasonal, TRUTH[key][0]) for key in (SHOP, API)]
        return got if all(s is not None and close(s.then_rps, rps) for s, rps in seen) else None

    observed = eventually(read, timeout=30, what="a seasonal reading of the truth for every app with series")
    assert source.last_poll_queries == 2
    assert warm.queries()[-1] == promql.seasonal_query("app", *setting, WINDOW, SCRAPE_INTERVAL)
    for key in (SHOP, API):
        reading, rps = observed[key].seasonal, TRUTH[key][0]
        assert reading is not None and (reading.offset, reading.lookahead, reading.level_window) == setting
        assert close(reading.ahead_rps, rps) and close(reading.then_rps, rps) and close(reading.now_rps, rps), reading
    assert observed[GHOST].seasonal is None and not observed[GHOST].ok


def test_one_app_and_ten_apps_cost_the_same_queries(warm: PrometheusHandle):
    source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
    one = [query(warm.url, SHOP)]
    ten = [query(warm.url, key) for key in TRUTH] + [query(warm.url, AppRef("default", f"g{i}")) for i in range(6)]
    assert len(ten) == 10

    def logged_by(apps: list[AppQuery]) -> int:
        before = len(warm.queries())
        source.observe(apps, now=time.time())
        return len(warm.queries()) - before

    assert logged_by(one) == logged_by(ten) == source.last_poll_queries == 2
    five_hundred = ten + [query(warm.url, AppRef(f"ns{i}", "app")) for i in range(490)]
    assert logged_by(five_hundred) == 2
    assert warm.queries()[-2:] == [promql.request_rate_query(WINDOW, RECENT), promql.cpu_query("app", WINDOW)]


def test_recent_rate_sees_a_burst_before_the_rate_window(warm: PrometheusHandle, exposition: Exposition):
    """The recent rate (2 scrapes) reaches a new load while the rate window (4 scrapes) still averages it down."""
    source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
    apps = [query(warm.url, BURST)]
    pod = exposition.pods["/pods/default/burst-1"]

    def steady() -> bool:
        observation = source.observe(apps, now=time.time())[BURST]
        return close(observation.requests_per_second, 10.0) and close(observation.recent_requests_per_second, 10.0)

    eventually(steady, timeout=30, what="a steady 10 req/s")
    readings: list[tuple[float | None, float | None]] = []

    def recent_leads() -> bool:
        observation = source.observe(apps, now=time.time())[BURST]
        recent, windowed = observation.recent_requests_per_second, observation.requests_per_second
        readings.append((recent, windowed))
        return recent is not None and windowed is not None and recent >= 150.0 and windowed <= 0.8 * recent

    pod.set_rps(200.0)
    try:
        eventually(recent_leads, timeout=15, interval=0.1, what="the recent rate to lead the rate window")
        eventually(
            lambda: close(source.observe(apps, now=time.time())[BURST].requests_per_second, 200.0),
            timeout=15,
            what="the rate window to catch up",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; (recent, windowed) readings: {readings}") from None
    finally:
        pod.set_rps(10.0)
    assert source.last_poll_queries == 2


def test_cadvisor_cpu_source(warm: PrometheusHandle):
    source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
    apps = [query(warm.url, SHOP, cpu_source="cadvisor"), query(warm.url, API, cpu_source="cadvisor")]

    def read() -> dict[AppRef, Observation] | None:
        observed = source.observe(apps, now=time.time())
        return observed if close(observed[SHOP].cpu_cores, 0.5) else None

    observed = eventually(read, timeout=30, what="cadvisor CPU of default/shop")
    # Only container "app" counts: the pod total ("") and the pause container ("POD") are excluded.
    assert observed[SHOP].pods_reporting == 2
    assert close(observed[SHOP].requests_per_second, 40.0)
    # api has no cadvisor series: its CPU is unknown, its request rate still good (keda#6887).
    assert observed[API].ok and observed[API].cpu_cores is None and close(observed[API].requests_per_second, 7.0)


# ---- failures --------------------------------------------------------------------------------


def test_prometheus_stopped_fails_every_app(exposition: Exposition, tmp_path: Path):
    with start_prometheus(tmp_path, targets(exposition)) as prom:
        source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
        apps = [query(prom.url, key) for key in [*TRUTH, GHOST]]
        assert len(source.observe(apps, now=1.0)) == len(apps)
        prom.stop()
        started = time.monotonic()
        observed = source.observe(apps, now=2.0)
    assert time.monotonic() - started < 5
    assert set(observed) == {app.key for app in apps}
    for observation in observed.values():
        assert observation == Observation.failed(2.0, f"Prometheus unreachable at {prom.url}: connection refused")


def test_concurrent_polls_are_safe(warm: PrometheusHandle):
    source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
    apps = [query(warm.url, key) for key in TRUTH]
    results: list[dict[AppRef, Observation]] = []
    lock = threading.Lock()

    def poll() -> None:
        for _ in range(3):
            observed = source.observe(apps, now=time.time())
            with lock:
                results.append(observed)

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 12 and source.queries_total == 24
    assert all(observed[SHOP].ok and observed[IDLE].ok for observed in results)


# ---- the scrape config for real clusters -----------------------------------------------------


def test_relabel_configs_in_a_real_prometheus(exposition: Exposition, tmp_path: Path):
    """Prometheus applies `relabel_configs` to targets carrying what kubernetes_sd would set.

    (Debian builds Prometheus without kubernetes_sd, so the __meta_kubernetes_* labels
    are given by static_configs; the relabelling itself is Prometheus's own.)
    """
    port = exposition.server_address[1]
    meta = {
        "__meta_kubernetes_namespace": "relabel-ns",
        "__meta_kubernetes_pod_name": "web-7d9f8b6c5d-x2k9p",
        "__meta_kubernetes_pod_ip": "127.0.0.1",
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_label_app_kubernetes_io_instance": "web",
        "__meta_kubernetes_pod_label_app_kubernetes_io_managed_by": "webscale",
        "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
        "__meta_kubernetes_pod_annotation_prometheus_io_port": str(port),
        "__meta_kubernetes_pod_annotation_prometheus_io_path": "/pods/default/api-1",
    }
    other = {**meta, "__meta_kubernetes_pod_label_app_kubernetes_io_managed_by": "helm"}
    job = {
        "job_name": "kubernetes-pods-as-static",
        "static_configs": [
            {"targets": ["127.0.0.1:1"], "labels": meta},  # port 1: only the annotation makes it scrapeable
            {"targets": ["127.0.0.1:2"], "labels": other},
        ],
        "relabel_configs": promql_relabel.relabel_configs(),
    }
    with start_prometheus(tmp_path, [], extra_scrape_configs=[job]) as prom:
        prom.wait_for_targets_up(1)
        active = prom.api("targets")["activeTargets"]
        assert len(active) == 1
        assert active[0]["scrapeUrl"] == f"http://127.0.0.1:{port}/pods/default/api-1"
        labels = active[0]["labels"]
        assert {k: labels[k] for k in ("namespace", "app", "pod", "managed_by")} == {
            "namespace": "relabel-ns",
            "app": "web",
            "pod": "web-7d9f8b6c5d-x2k9p",
            "managed_by": "webscale",
        }
        # The relabelled series answer the batched query like any other app (api-1 serves 7 rps).
        source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
        key = AppRef("relabel-ns", "web")
        observed = eventually(
            lambda: (
                (o := source.observe([query(prom.url, key)], now=time.time())[key]).ok
                and close(o.requests_per_second, 7.0)
                and o
            ),
            timeout=30,
            what="the relabelled pod's request rate",
        )
        assert observed.pods_reporting == 1


def test_query_log_records_the_exact_batched_queries(warm: PrometheusHandle):
    source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
    source.observe([query(warm.url, SHOP, cpu_source="cadvisor")], now=time.time())
    params = urllib.parse.urlencode({"query": promql.cpu_query("cadvisor", WINDOW)})
    with urllib.request.urlopen(f"{warm.url}/api/v1/query?{params}", timeout=5) as resp:
        assert json.load(resp)["status"] == "success"
    assert warm.queries()[-3:-1] == [promql.request_rate_query(WINDOW, RECENT), promql.cpu_query("cadvisor", WINDOW)]


# ---- the fixture itself ----------------------------------------------------------------------
