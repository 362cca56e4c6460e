"""Fixtures for the autoscaling e2e tests: real sample apps, a restartable Prometheus, the operator.

The picture: a ScaledWebApp in the test namespace whose Deployment's pods are kwok
pods (they become Ready but run nothing). The app's real traffic is served by two
real sample-app processes on 127.0.0.1 that a real Prometheus scrapes every second
as static targets carrying the label contract (namespace, app, pod, managed_by),
so the operator reads true request rates for the app. Nothing ever contacts the
fake pod IPs: Prometheus has static loopback targets only.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from exposition_rig import SCRAPE_INTERVAL, TRUTH, query, settled
from fixtures.exposition import PODS, Exposition, targets
from kubernetes import client
from scenario import APP, app_targets, scaling_spec, wait_for_series
from waiting import eventually
from webscale_local.http_server import serving
from webscale_local.launcher import LocalCluster
from webscale_local.load import Load
from webscale_local.operator_process import OperatorProcess
from webscale_local.ports import free_port
from webscale_local.prometheus import PrometheusHandle, prometheus_binary, start_prometheus, wait_ready, write_config
from webscale_local.sample_app import SampleApp, start_sample_app
from webscale_local.swa import G, P, V

from webscale.metrics.prometheus import PrometheusSource

OPERATOR_ENV = {
    "WEBSCALE_SCALING_TICK_SECONDS": "0.5",
    "WEBSCALE_METRICS_SCRAPE_INTERVAL_SECONDS": "1",
    "WEBSCALE_RESYNC_SECONDS": "5",
}
START_TIMEOUT = 30.0


# ---- the real sample app -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[SampleApp]]:
    """Two real sample-app processes (one worker each), every request route already counted once.

    prom-client creates a labelled series on the first request only: without one, an app
    would have no http_requests_total series at all, which the operator rightly reports as
    a metrics failure. One request per process makes the series exist (with a rate of 0).
    """
    tmp = tmp_path_factory.mktemp("apps")
    with start_sample_app(tmp) as first, start_sample_app(tmp) as second:
        apps = [first, second]
        with Load([a.url for a in apps], rate=20, duration=2, max_requests=len(apps)) as load:
            stats = load.wait()
        assert stats.ok == len(apps), stats
        yield apps


# ---- a Prometheus that can be stopped and started again on the same port -----------------------


class RestartablePrometheus:
    """A real Prometheus (the Debian binary) on 127.0.0.1 that keeps its port, config and storage
    across stop() / start(), so an outage and the recovery look like the same server going away.

    tests/fixtures/prometheus.py picks a new port per start; this keeps one. Use it through the
    `prometheus_factory` fixture, which stops every process it started.
    """

    def __init__(
        self,
        workdir: Path,
        targets: Sequence[tuple[str, dict[str, str]]],
        scrape_interval: str,
        extra_scrape_configs: Sequence[dict[str, Any]] = (),
    ) -> None:
        workdir.mkdir(parents=True)
        self.workdir = workdir
        self.config_path = workdir / "prometheus.yml"
        self.query_log_path = workdir / "queries.log"
        self.log_path = workdir / "prometheus.log"
        self.targets = list(targets)
        self.extra_targets = sum(len(c["targets"]) for job in extra_scrape_configs for c in job["static_configs"])
        write_config(self.config_path, self.targets, scrape_interval, self.query_log_path, extra_scrape_configs)
        self.port: int | None = None
        self.handle: PrometheusHandle | None = None

    @property
    def url(self) -> str:
        assert self.port is not None, "never started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.handle is not None and self.handle.process.poll() is None

    def start(self) -> RestartablePrometheus:
        """Start it (on the port of the first start, if there was one) and wait until ready."""
        assert not self.running, "already running"
        binary = prometheus_binary()
        attempts = 3 if self.port is None else 1  # a restart must keep its port
        error = ""
        for _ in range(attempts):
            port = self.port or free_port()
            with self.log_path.open("ab") as log:
                process = subprocess.Popen(
                    [
                        binary,
                        f"--config.file={self.config_path}",
                        f"--storage.tsdb.path={self.workdir / 'data'}",
                        f"--web.listen-address=127.0.0.1:{port}",
                        "--log.level=info",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            self.handle = PrometheusHandle(
                url=f"http://127.0.0.1:{port}",
                port=port,
                config_path=self.config_path,
                query_log_path=self.query_log_path,
                log_path=self.log_path,
                process=process,
            )
            error = wait_ready(self.handle)
            if not error:
                self.port = port
                return self
            self.handle.stop()
        raise RuntimeError(f"Prometheus did not start: {error}\n{self.last_log_lines()}")

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.stop()

    def wait_for_targets_up(self, count: int | None = None, timeout: float = START_TIMEOUT) -> None:
        assert self.handle is not None
        self.handle.wait_for_targets_up(len(self.targets) + self.extra_targets if count is None else count, timeout)

    def value(self, promql: str) -> float | None:
        """The single value of an instant query (test-side; it shows in the query log)."""
        query = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=5) as resp:
            result = json.load(resp)["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def query_log(self) -> list[tuple[float, str]]:
        """(Unix time, PromQL) of every query evaluated so far, oldest first."""
        if not self.query_log_path.exists():
            return []
        out = []
        for line in self.query_log_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                ts = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp()
                out.append((ts, entry["params"]["query"]))
        return out

    def last_log_lines(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


@pytest.fixture()
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[..., RestartablePrometheus]]:
    """start(targets) -> a running RestartablePrometheus; every one is stopped at teardown.
    extra_scrape_configs: more jobs (`webscale_local.prometheus.operator_job` for the operator's /metrics)."""
    started: list[RestartablePrometheus] = []

    def start(
        targets: Sequence[tuple[str, dict[str, str]]],
        scrape_interval: str = "1s",
        extra_scrape_configs: Sequence[dict[str, Any]] = (),
    ) -> RestartablePrometheus:
        workdir = tmp_path / f"prometheus-{len(started)}"
        prom = RestartablePrometheus(workdir, targets, scrape_interval, extra_scrape_configs)
        started.append(prom)
        return prom.start()

    try:
        yield start
    finally:
        for prom in started:
            prom.stop()


# ---- the operator ------------------------------------------------------------------------------


@pytest.fixture()
def autoscaling_operator(
    cluster: LocalCluster, crd_installed: None, tmp_path: Path
) -> Iterator[Callable[[], OperatorProcess]]:
    """start(*prometheus_urls, **env) -> the operator with a fast scaling loop (tick 0.5 s, 1 s scrapes,
    resync 5 s), allowed to query the Prometheus URLs given (WEBSCALE_PROMETHEUS_URLS); `env`: more
    WEBSCALE_* settings.

    A factory, so a test can create apps before the operator runs. Every operator it started
    is stopped at teardown and the tail of its log printed (shown when the test fails).
    """
    started: list[OperatorProcess] = []

    def start(*prometheus_urls: str, **more: str) -> OperatorProcess:
        env = {**OPERATOR_ENV, "WEBSCALE_PROMETHEUS_URLS": ",".join(prometheus_urls), **more}
        op = OperatorProcess(cluster, tmp_path / f"operator-{len(started)}.log", **env)
        started.append(op)
        return op.start()

    try:
        yield start
    finally:
        for op in started:
            op.stop()
        for op in started:
            print(f"--- {op.log_path.name} (tail) ---\n{op.log()[-6000:]}")


# ---- ScaledWebApps -----------------------------------------------------------------------------


@dataclass
class Apps:
    """ScaledWebApps of one test namespace and what the test reads about them."""

    namespace: str
    api_client: client.ApiClient

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api_client)

    def create(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {"apiVersion": f"{G}/{V}", "kind": "ScaledWebApp", "metadata": {"name": name}, "spec": spec}
        return self.custom.create_namespaced_custom_object(G, V, self.namespace, P, body)

    def get(self, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(G, V, self.namespace, P, name)

    def status(self, name: str) -> dict[str, Any]:
        return self.get(name).get("status") or {}

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        return next((c for c in self.status(name).get("conditions", []) if c["type"] == type_), None)

    def replicas(self, name: str) -> int | None:
        """The Deployment's spec.replicas (None while there is no Deployment)."""
        try:
            return client.AppsV1Api(self.api_client).read_namespaced_deployment(name, self.namespace).spec.replicas
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def events(self, name: str, reason: str | None = None) -> list[client.CoreV1Event]:
        found = client.CoreV1Api(self.api_client).list_namespaced_event(self.namespace).items
        return [
            e
            for e in found
            if e.involved_object.kind == "ScaledWebApp"
            and e.involved_object.name == name
            and (reason is None or e.reason == reason)
        ]

    def wait_running(self, name: str, replicas: int, timeout: float = 60) -> None:
        """The Deployment has `replicas` ready kwok pods and the app read its metrics once."""

        def running() -> bool:
            status = self.status(name)
            ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
            metrics = next((c for c in status.get("conditions", []) if c["type"] == "MetricsAvailable"), {})
            return (
                self.replicas(name) == replicas
                and ready.get("status") == "True"
                and status.get("readyReplicas") == replicas
                and metrics.get("status") == "True"
            )

        eventually(running, timeout, f"{self.namespace}/{name} running with {replicas} ready pods and metrics")


@pytest.fixture()
def swa_apps(namespace: str, api_client: client.ApiClient) -> Apps:
    return Apps(namespace, api_client)


# ---- a running app ----------------------------------------------------------------------------


@pytest.fixture()
def running_app(namespace, sample_apps, prometheus_factory, autoscaling_operator, swa_apps):
    """APP with 1 pod, its real processes scraped, the operator reading its (zero) request rate."""
    prom = prometheus_factory(app_targets(sample_apps, namespace, APP))
    wait_for_series(prom, namespace, APP)
    autoscaling_operator(prom.url)
    swa_apps.create(APP, scaling_spec(prom.url))
    swa_apps.wait_running(APP, 1)
    return prom


# ---- a Prometheus scraping simulated pods of known rates (test_metrics_*.py) ----------------------


@pytest.fixture(scope="module")
def exposition() -> Iterator[Exposition]:
    with serving(Exposition(PODS)) as server:
        yield server


@pytest.fixture(scope="module")
def exposition_prometheus(
    exposition: Exposition, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusHandle]:
    with start_prometheus(tmp_path_factory.mktemp("prom"), targets(exposition), scrape_interval="1s") as prom:
        prom.wait_for_targets_up(len(PODS) + 1)
        yield prom


@pytest.fixture(scope="module")
def warm(exposition_prometheus: PrometheusHandle) -> PrometheusHandle:
    """Prometheus once it holds enough samples for rate() over WINDOW for every pod."""
    source = PrometheusSource(scrape_interval=SCRAPE_INTERVAL)
    apps = [query(exposition_prometheus.url, key) for key in TRUTH]
    eventually(lambda: settled(source, apps), timeout=30, what="rates close to the truth")
    return exposition_prometheus
