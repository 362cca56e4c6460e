"""The operator at 100, 1,000 and 5,000 ScaledWebApps on the local control plane (issue 8).

For each size, on fresh control planes (audit log on, kwok nodes sized for one pod per app):
  1. the floor: the same children (Deployment + entry Service + headless Service per app, built by the
     operator's own builders, without owner references) created directly by a concurrent client;
  2. the minimum: what any correct operator must send per app, sent with no operator by the same client
     (with and without the GETs that make sure a name is free), as the best ratio any operator could reach;
  3. the operator: `webscale run` with default settings; all apps created by the same concurrent client;
     time until every child exists; then a steady-state window (requests per poll and per resync and
     writes, from the audit log; decision lag from the operator's histogram; RSS and CPU from /proc);
     then a restart of the operator with the apps healthy (its writes in the first minute).

Writes bench/results/scale.md. Part of `make bench`; alone:

    .venv/bin/python bench/scale.py --apps 100,1000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines
from webscale_local.audit import AuditReader, Request
from webscale_local.histogram import quantiles
from webscale_local.launcher import LocalCluster, build
from webscale_local.operator_process import OperatorProcess
from webscale_local.ports import free_port
from webscale_local.procs import ClusterError
from webscale_local.procstat import cpu_seconds, rss_mib

from webscale.api.app import App
from webscale.api.status import now_iso
from webscale.kube.client import USER_AGENT, Kube
from webscale.reconcile.builders import build_children
from webscale.reconcile.status import ready_status
from webscale.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
G, V, P = "webscale.dev", "v1alpha1", "scaledwebapps"
NAMESPACE = "bench"
CONCURRENCY = 16
"""Requests the benchmark's client keeps in flight (for the apps and for the floor alike)."""
STEADY_SECONDS = 60
RESTART_SECONDS = 60
PODS_PER_NODE = 250
POLLING = "15s"
CONTROLLER_QPS = 300
"""controller-manager's and the scheduler's client limit once the operator has converged (their defaults,
20 and 50/s, take minutes to make thousands of pods Ready, and the steady-state window must see idle apps);
raised only then, so that every convergence (floor, minimum, operator) is timed with the defaults."""
GOALS = {1000: {"ratio": 1.5, "p99": 2.0, "rss": 150.0}, 5000: {"p99": 5.0, "rss": 300.0}}


# ---- the objects ------------------------------------------------------------------------------------


def app_body(name: str, prometheus: str) -> dict[str, Any]:
    """One app: one small pod (fits a kwok node by the hundred), the child set fixed at Deployment +
    two Services (provider service: no HAProxy tier), autoscaling on at 15 s polling against an
    allow-listed Prometheus that refuses connections (nothing to measure, so nothing changes)."""
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "ScaledWebApp",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "image": "registry.example/shop:1",
            "resources": {"cpu": "50m", "memory": "32Mi"},
            "replicas": {"min": 1, "max": 3},
            "loadBalancer": {"provider": "service"},
            "autoscaling": {"mode": "auto", "pollingInterval": POLLING},
            "metrics": {"prometheus": {"url": prometheus}},
        },
    }


def floor_children(name: str, prometheus: str) -> list[dict[str, Any]]:
    """What the operator would create for the app, as a plain client would (no owner: no app exists)."""
    app = App.from_body(app_body(name, prometheus), allowed_prometheus_urls=[prometheus])
    children = build_children(app)
    for child in children:
        child["metadata"].pop("ownerReferences", None)
    return children


def app_names(n: int) -> list[str]:
    return [f"app-{i:05d}" for i in range(n)]


def path_of(obj: dict[str, Any]) -> str:
    group_version, kind = obj["apiVersion"], obj["kind"]
    plural = {"Deployment": "deployments", "Service": "services", "ScaledWebApp": P}[kind]
    prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    return f"{prefix}/namespaces/{obj['metadata']['namespace']}/{plural}"


# ---- a concurrent client --------------------------------------------------------------------------


def send(
    api: client.ApiClient, method: str, path: str, body: Any = None, query: Any = (), timeout: float | None = 60
) -> Any:
    """One request, its answer not parsed into models (the client's models cost more than the server)."""
    method_, url, headers, payload, post = api.param_serialize(
        method=method,
        resource_path=path,
        query_params=list(query),
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    return api.rest_client.request(
        method_, url, headers=headers, body=payload, post_params=post, _request_timeout=timeout
    )


class Creator:
    """Creates objects with `CONCURRENCY` requests in flight; 429/5xx/connection errors are retried."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.local = threading.local()
        self.retries = 0
        self.failures: list[str] = []

    def _api(self) -> client.ApiClient:
        if not hasattr(self.local, "api"):
            self.local.api = config.new_client_from_config(config_file=str(self.kubeconfig))
        return self.local.api

    def _create(self, obj: dict[str, Any]) -> None:
        for attempt in range(6):
            try:
                resp = send(self._api(), "POST", path_of(obj), obj)
                resp.read()
                if resp.status < 300 or resp.status == 409:  # 409: an earlier attempt's answer was lost
                    return
                if resp.status not in (429, 500, 502, 503, 504) or attempt == 5:
                    self.failures.append(f"{obj['metadata']['name']}: {resp.status} {resp.reason}")
                    return
            except Exception as exc:  # connection reset, timeout
                if attempt == 5:
                    self.failures.append(f"{obj['metadata']['name']}: {exc}")
                    return
            self.retries += 1
            time.sleep(min(2.0, 0.1 * 2**attempt))

    def create_all(self, objects: list[dict[str, Any]]) -> float:
        """Create every object; returns the seconds it took."""
        started = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="create") as pool:
            list(pool.map(self._create, objects))
        return time.monotonic() - started


class Minimum(Creator):
    """What any correct operator has to send per app, sent with no operator by the same concurrent client:
    the user's create of the ScaledWebApp; per child, a GET that makes sure the name is free (a POST
    create leaves the fields it sets owned by an Update manager, so a field later removed from the spec
    would stay; an apply to a name someone else holds changes their object) and a server-side apply
    with the owner reference; one status apply. `name_checks=False` leaves the GETs out (writes only).
    Requests go through the operator's own `Kube` adapter, its rate limit lifted."""

    def __init__(self, kubeconfig: Path, prometheus: str, name_checks: bool) -> None:
        super().__init__(kubeconfig)
        self.prometheus = prometheus
        self.name_checks = name_checks
        self.settings = Settings(api_qps=1_000_000, api_burst=1_000_000)

    def _kube(self) -> Kube:
        if not hasattr(self.local, "kube"):
            self.local.kube = Kube(self._api(), self.settings)
        return self.local.kube

    def _one(self, name: str) -> None:
        kube, body = self._kube(), app_body(name, self.prometheus)
        try:
            resp = send(self._api(), "POST", path_of(body), body)
            if resp.status >= 300:
                raise ClusterError(f"create: {resp.status} {resp.reason}")
            app = App.from_body(json.loads(resp.read()), allowed_prometheus_urls=[self.prometheus])
            for child in build_children(app):
                meta = child["metadata"]
                if self.name_checks and kube.get(child["apiVersion"], child["kind"], NAMESPACE, meta["name"]):
                    raise ClusterError(f"{child['kind']}/{meta['name']} exists")
                kube.apply(child)
            kube.apply_status(NAMESPACE, name, ready_status(app, None, now_iso()), self.settings.status_field_manager)
        except (ApiException, ClusterError) as exc:
            self.failures.append(f"{name}: {exc}")

    def run(self, names: list[str]) -> float:
        started = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="minimum") as pool:
            list(pool.map(self._one, names))
        return time.monotonic() - started


# ---- counting children as they appear ---------------------------------------------------------------


class Arrivals:
    """Distinct Deployments and Services in the namespace, counted from one watch per kind (no polling)."""

    KINDS = (("/apis/apps/v1", "deployments"), ("/api/v1", "services"))

    def __init__(self, kubeconfig: Path, target: int) -> None:
        self.api = config.new_client_from_config(config_file=str(kubeconfig))
        self.target = target
        self.seen: dict[str, set[str]] = {plural: set() for _, plural in self.KINDS}
        self.done_at: float | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._watch, args=kind, daemon=True, name=f"arrivals-{kind[1]}")
            for kind in self.KINDS
        ]

    def start(self) -> Arrivals:
        for t in self.threads:
            t.start()
        return self

    def count(self) -> int:
        with self.lock:
            return sum(len(s) for s in self.seen.values())

    def _add(self, plural: str, name: str) -> None:
        with self.lock:
            self.seen[plural].add(name)
            if self.done_at is None and sum(len(s) for s in self.seen.values()) >= self.target:
                self.done_at = time.monotonic()

    def _watch(self, prefix: str, plural: str) -> None:
        url = f"{prefix}/namespaces/{NAMESPACE}/{plural}"
        while not self.stop.is_set():
            try:
                listed = json.loads(send(self.api, "GET", url).read())
                for item in listed["items"]:
                    self._add(plural, item["metadata"]["name"])
                rv = listed["metadata"]["resourceVersion"]
                query = [("watch", "true"), ("resourceVersion", rv), ("timeoutSeconds", 3600)]
                resp = send(self.api, "GET", url, query=query, timeout=None).response
                for line in iter_resp_lines(resp):
                    if self.stop.is_set():
                        resp.release_conn()
                        return
                    event = json.loads(line)
                    if event["type"] == "ADDED":
                        self._add(plural, event["object"]["metadata"]["name"])
                    elif event["type"] == "ERROR":
                        break  # 410 Gone: list again
            except Exception:
                time.sleep(1)

    def wait(self, timeout: float) -> float | None:
        """Monotonic time when the target was reached (None: not within `timeout`)."""
        deadline = time.monotonic() + timeout
        while self.done_at is None and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.done_at

    def close(self) -> None:
        self.stop.set()


# ---- the operator's resources over time --------------------------------------------------------------


class Sampler:
    """RSS of the operator process every half second (peak and latest)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.peak = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="sampler")

    def _run(self) -> None:
        while not self.stop.is_set():
            if self.pid:
                self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.5)


Metrics = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def total(m: Metrics, name: str, **match: str) -> float:
    return sum(v for (n, labels), v in m.items() if n == name and match.items() <= dict(labels).items())


# ---- one size ---------------------------------------------------------------------------------------


@dataclass
class Result:
    apps: int
    nodes: int = 0
    notes: list[str] = field(default_factory=list)
    floor_s: float | None = None
    floor_client_s: float | None = None
    concurrency: int = 16
    """Requests the benchmark's client kept in flight."""
    minimum_s: dict[str, float] = field(default_factory=dict)
    """`Minimum`'s time to all children, with and without the name checks."""
    converge_s: float | None = None
    apps_created_s: float | None = None
    converge_writes: Counter[str] = field(default_factory=Counter)
    converge_requests: Counter[str] = field(default_factory=Counter)
    converge_mark: int = 0
    settle_writes: Counter[str] = field(default_factory=Counter)
    ready_apps: int | None = None
    settle_s: float | None = None
    steady: dict[str, Any] = field(default_factory=dict)
    restart: dict[str, Any] = field(default_factory=dict)
    rss_peak: float | None = None
    cpu_converge_s: float | None = None
    load: list[float] = field(default_factory=list)
    started: str = ""
    bin_dir: str = ""
    commit: str = ""
    operator_env: dict[str, str] = field(default_factory=dict)
    """Operator settings that are not the defaults (empty: all defaults)."""
    client: str = "API QPS 50, burst 100, 8 workers"
    """The operator's client settings in this run (the default is what rows measured before it was recorded ran with)."""
    """The operator's code: the commit of the checkout the benchmark ran from."""

    @property
    def ratio(self) -> float | None:
        return self.converge_s / self.floor_s if self.converge_s and self.floor_s else None


def client_settings(env: dict[str, str]) -> str:
    """The operator's API rate limit and workers with these environment overrides."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        s = Settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return f"API QPS {s.api_qps:g}, burst {s.api_burst}, {s.workers} workers"


def sizing(n: int) -> tuple[int, str]:
    """kwok nodes and their CPU so that one 50m pod per app fits with room to spare."""
    nodes = max(3, math.ceil(n * 1.2 / PODS_PER_NODE))
    return nodes, "64"


@contextmanager
def control_plane(bin_dir: Path, n: int) -> Iterator[LocalCluster]:
    nodes, cpu = sizing(n)
    with LocalCluster(bin_dir=bin_dir, audit=True, nodes=nodes, node_cpu=cpu, node_pods=PODS_PER_NODE) as cluster:
        cluster.kubectl("create", "namespace", NAMESPACE)
        yield cluster


def wait_for(check: Callable[[], bool], timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:
            pass
        time.sleep(step)
    return False


def measure_floor(bin_dir: Path, n: int, prometheus: str, res: Result) -> None:
    objects = [c for name in app_names(n) for c in floor_children(name, prometheus)]
    with control_plane(bin_dir, n) as cluster:
        arrivals = Arrivals(cluster.kubeconfig, len(objects)).start()
        creator = Creator(cluster.kubeconfig)
        started = time.monotonic()
        res.floor_client_s = creator.create_all(objects)
        done = arrivals.wait(max(120.0, 5 * res.floor_client_s))
        arrivals.close()
        if creator.failures:
            res.notes.append(f"floor: {len(creator.failures)} creates failed, e.g. {creator.failures[0]}")
        if done is None:
            res.notes.append(f"floor: only {arrivals.count()}/{len(objects)} children seen")
            return
        res.floor_s = done - started


def crd_established(cluster: LocalCluster) -> None:
    cluster.kubectl("apply", "-f", str(ROOT / "crds"))
    crd = "crd/scaledwebapps.webscale.dev"
    jsonpath = "jsonpath={.status.conditions[?(@.type=='Established')].status}"
    if not wait_for(lambda: "True" in cluster.kubectl("get", crd, "-o", jsonpath, check=False), 60):
        raise ClusterError("the ScaledWebApp CRD was not established in 60 s")


def measure_minimum(bin_dir: Path, n: int, prometheus: str, res: Result, name_checks: bool) -> None:
    """The `Minimum` client on its own control plane: seconds from the first app create until a watch
    has seen every child (as the operator is timed)."""
    with control_plane(bin_dir, n) as cluster:
        crd_established(cluster)
        arrivals = Arrivals(cluster.kubeconfig, 3 * n).start()
        client_ = Minimum(cluster.kubeconfig, prometheus, name_checks)
        started = time.monotonic()
        client_s = client_.run(app_names(n))
        done = arrivals.wait(max(120.0, 5 * client_s))
        arrivals.close()
        label = "minimum" if name_checks else "minimum without name checks"
        if client_.failures:
            res.notes.append(f"{label}: {len(client_.failures)} apps failed, e.g. {client_.failures[0]}")
        if done is None:
            res.notes.append(f"{label}: only {arrivals.count()}/{3 * n} children seen")
            return
        res.minimum_s[label] = done - started


def operator_writes(reqs: list[Request]) -> Counter[str]:
    """Writes but the Lease's, by verb, resource and field manager."""
    return Counter(
        f"{r.verb} {r.resource}" + (f" ({r.manager})" if r.manager else "")
        for r in reqs
        if r.write and r.resource != "leases"
    )


def by_kind(reqs: list[Request]) -> Counter[str]:
    return Counter(f"{r.verb} {r.resource}" for r in reqs)


def measure_operator(bin_dir: Path, n: int, prometheus: str, res: Result, workdir: Path) -> None:
    env = {**res.operator_env, "WEBSCALE_PROMETHEUS_URLS": prometheus}
    sampler = Sampler()
    sampler.thread.start()
    try:
        with control_plane(bin_dir, n) as cluster:
            crd_established(cluster)
            audit = AuditReader(cluster.audit_log)
            op = OperatorProcess(cluster, workdir / f"operator-{n}.log", **env).start()
            assert op.proc is not None
            sampler.pid = op.proc.pid
            try:
                if not wait_for(lambda: op.metric("webscale_leader") == 1, 60):
                    raise ClusterError(f"the operator did not lead within 60 s:\n{op.log()[-2000:]}")
                _converge(cluster, op, audit, n, prometheus, res)
                if res.converge_s is None:
                    return
                cluster.set_controller_qps(CONTROLLER_QPS)
                _settle(cluster, audit, n, res)
                _steady(op, audit, n, res)
                res.rss_peak = sampler.peak
                _restart(cluster, op, audit, n, res, workdir, env, sampler)
            finally:
                op.stop()
    finally:
        sampler.stop.set()


def _converge(
    cluster: LocalCluster, op: OperatorProcess, audit: AuditReader, n: int, prometheus: str, res: Result
) -> None:
    assert op.proc is not None
    mark, cpu0 = audit.offset(), cpu_seconds(op.proc.pid)
    arrivals = Arrivals(cluster.kubeconfig, 3 * n).start()
    creator = Creator(cluster.kubeconfig)
    started = time.monotonic()
    res.apps_created_s = creator.create_all([app_body(name, prometheus) for name in app_names(n)])
    # generous: a ratio to the floor of up to 6 is measured, whatever the machine's load
    bound = max(600.0, 6 * (res.floor_s or 0.0), 10 * res.apps_created_s, 0.25 * n)
    try:
        done = arrivals.wait(bound)
    except KeyboardInterrupt:
        elapsed = time.monotonic() - started
        res.notes.append(
            f"operator: stopped by hand while converging, {elapsed:.0f} s after the first create: "
            f"{arrivals.count()}/{3 * n} children, apps created in {res.apps_created_s:.0f} s, operator RSS "
            f"{rss_mib(op.proc.pid):.0f} MiB, its CPU {cpu_seconds(op.proc.pid) - cpu0:.0f} s, "
            f"its API requests {total(op.metrics(), 'webscale_api_requests_total'):.0f}; control plane RSS "
            f"{sum(rss_mib(pid) for pid in cluster.pids()):.0f} MiB; load average {os.getloadavg()[0]:.1f}"
        )
        raise
    finally:
        arrivals.close()
    res.cpu_converge_s = cpu_seconds(op.proc.pid) - cpu0
    res.converge_mark = mark
    converging = audit.requests(mark, agents=(USER_AGENT,))
    res.converge_writes = operator_writes(converging)
    res.converge_requests = by_kind([r for r in converging if r.resource != "leases"])
    if creator.failures:
        res.notes.append(f"operator: {len(creator.failures)} app creates failed, e.g. {creator.failures[0]}")
    if done is None:
        res.notes.append(f"operator: only {arrivals.count()}/{3 * n} children after {bound:.0f} s")
        return
    res.converge_s = done - started


def _ready_count(cluster: LocalCluster) -> int:
    out = cluster.kubectl("get", P, "-n", NAMESPACE, "-o", "json", check=False)
    items = json.loads(out or "{}").get("items", [])
    return sum(
        1
        for item in items
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (item.get("status") or {}).get("conditions", [])
        )
    )


def _settle(cluster: LocalCluster, audit: AuditReader, n: int, res: Result) -> None:
    """Wait (bounded) until every app is Ready and the operator has made no write for 20 s."""
    started = time.monotonic()
    bound = 120 + n * 0.25
    wait_for(lambda: _ready_count(cluster) >= n, bound, step=5)
    quiet_since, mark = time.monotonic(), audit.offset()
    while time.monotonic() - started < bound and time.monotonic() - quiet_since < 20:
        time.sleep(5)
        now_mark = audit.offset()
        if operator_writes(audit.requests(mark, now_mark, agents=(USER_AGENT,))):
            quiet_since = time.monotonic()
        mark = now_mark
    res.ready_apps = _ready_count(cluster)
    res.settle_writes = operator_writes(audit.requests(res.converge_mark, agents=(USER_AGENT,)))
    res.settle_s = time.monotonic() - started
    if res.ready_apps < n:
        res.notes.append(f"steady state: only {res.ready_apps}/{n} apps Ready after {res.settle_s:.0f} s")
    if time.monotonic() - quiet_since < 20:
        res.notes.append(f"steady state: the operator was still writing {res.settle_s:.0f} s after convergence")


def _steady(op: OperatorProcess, audit: AuditReader, n: int, res: Result) -> None:
    assert op.proc is not None
    pid = op.proc.pid
    m0, mark, cpu0, t0 = op.metrics(), audit.offset(), cpu_seconds(pid), time.monotonic()
    res.load.append(os.getloadavg()[0])
    time.sleep(STEADY_SECONDS)
    m1, end, cpu1, t1 = op.metrics(), audit.offset(), cpu_seconds(pid), time.monotonic()
    res.load.append(os.getloadavg()[0])
    minutes = (t1 - t0) / 60
    reqs = audit.requests(mark, end, agents=(USER_AGENT,))
    app_reqs = [r for r in reqs if r.resource != "leases"]
    lease = [r for r in reqs if r.resource == "leases"]
    polls = total(m1, "webscale_polls_total") - total(m0, "webscale_polls_total")
    polled_apps = total(m1, "webscale_poll_apps_total") - total(m0, "webscale_poll_apps_total")
    reconciles = total(m1, "webscale_reconciles_total") - total(m0, "webscale_reconciles_total")
    resyncs = reconciles / n
    lag = quantiles(m0, m1, "webscale_decision_lag_seconds")
    res.steady = {
        "seconds": t1 - t0,
        "polls": polls,
        "polled_apps": polled_apps,
        "reconciles": reconciles,
        "resyncs": resyncs,
        "requests": len(app_reqs),
        "requests_by_kind": by_kind(app_reqs),
        "writes_per_min": sum(operator_writes(reqs).values()) / minutes,
        "lease_requests_per_min": len(lease) / minutes,
        "lease_writes_per_min": sum(1 for r in lease if r.write) / minutes,
        "own_api_requests": total(m1, "webscale_api_requests_total") - total(m0, "webscale_api_requests_total"),
        "lag_p50": lag[0.5],
        "lag_p99": lag[0.99],
        "lag_count": total(m1, "webscale_decision_lag_seconds_count")
        - total(m0, "webscale_decision_lag_seconds_count"),
        "poll_seconds": (
            total(m1, "webscale_poll_duration_seconds_sum") - total(m0, "webscale_poll_duration_seconds_sum")
        )
        / max(polls, 1),
        "cpu_percent": 100 * (cpu1 - cpu0) / (t1 - t0),
        "rss": rss_mib(pid),
    }


def _restart(
    cluster: LocalCluster,
    op: OperatorProcess,
    audit: AuditReader,
    n: int,
    res: Result,
    workdir: Path,
    env: dict[str, str],
    sampler: Sampler,
) -> None:
    started = time.monotonic()
    op.stop()
    stopped = time.monotonic() - started
    mark = audit.offset()
    second = OperatorProcess(cluster, workdir / f"operator-{n}-restarted.log", **env).start()
    assert second.proc is not None
    sampler.pid, began = second.proc.pid, time.monotonic()
    try:
        led = wait_for(lambda: second.metric("webscale_leader") == 1, RESTART_SECONDS)
        led_s = time.monotonic() - began
        time.sleep(max(0.0, RESTART_SECONDS - (time.monotonic() - began)))
        m = second.metrics()
        reqs = audit.requests(mark, agents=(USER_AGENT,))
        res.restart = {
            "shutdown_s": stopped,
            "leading_s": led_s if led else None,
            "writes": operator_writes(reqs),
            "lease_writes": sum(1 for r in reqs if r.write and r.resource == "leases"),
            "requests_by_kind": by_kind([r for r in reqs if r.resource != "leases"]),
            "reconciles": total(m, "webscale_reconciles_total"),
            "polled_apps": total(m, "webscale_poll_apps_total"),
            "rss": rss_mib(second.proc.pid),
            "cpu_s": cpu_seconds(second.proc.pid),
        }
        # the minute after: is the restarted operator as quiet as the first one was at steady state?
        mark, t0 = audit.offset(), time.monotonic()
        time.sleep(STEADY_SECONDS)
        after = audit.requests(mark, agents=(USER_AGENT,))
        res.restart["after_writes_per_min"] = sum(operator_writes(after).values()) / ((time.monotonic() - t0) / 60)
        res.restart["after_writes"] = operator_writes(after)
    finally:
        second.stop()


def run_size(bin_dir: Path, res: Result, workdir: Path, floor: bool = True, operator: bool = True) -> Result:
    n = res.apps
    prometheus = f"http://127.0.0.1:{free_port()}"  # allow-listed; nothing listens: connection refused
    res.load.append(os.getloadavg()[0])
    if not floor:
        res.notes.append("floor not measured in this run (--no-floor)")
    steps: list[tuple[str, Callable[[], None]]] = []
    if floor:
        steps += [
            ("floor", lambda: measure_floor(bin_dir, n, prometheus, res)),
            ("minimum", lambda: measure_minimum(bin_dir, n, prometheus, res, name_checks=True)),
            ("minimum without name checks", lambda: measure_minimum(bin_dir, n, prometheus, res, name_checks=False)),
        ]
    if operator:
        steps.append(("operator", lambda: measure_operator(bin_dir, n, prometheus, res, workdir)))
    else:
        res.notes.append("operator not measured in this run (--no-operator)")
    for label, step in steps:
        try:
            step()
        except (ClusterError, OSError, ApiException, AssertionError) as exc:
            res.notes.append(f"{label}: {type(exc).__name__}: {str(exc)[:600]}")
        print(f"scale: {n} apps: {label} done", flush=True)
    return res


# ---- the report -------------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".1f", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:{spec}}{unit}"


def goal_lines(res: Result) -> list[str]:
    goals = GOALS.get(res.apps)
    if not goals:
        return []
    s, lines = res.steady, []

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("**met**" if ok else "**NOT met**")

    if "ratio" in goals:
        r = res.ratio
        lines.append(
            f"- converge within {goals['ratio']}x the floor: {verdict(None if r is None else r <= goals['ratio'])} "
            f"({fmt(res.converge_s)} s vs floor {fmt(res.floor_s)} s = {fmt(r, '.2f')}x)"
        )
        for label, seconds in res.minimum_s.items():
            lines.append(
                f"  - the {label} (no operator: a client sends what any correct operator must, see How): "
                f"{fmt(seconds)} s = {fmt(seconds / res.floor_s if res.floor_s else None, '.2f')}x the floor"
            )
    p99 = s.get("lag_p99")
    lines.append(
        f"- p99 decision lag <= {goals['p99']:.0f} s at 15 s polling: "
        f"{verdict(None if p99 is None or math.isnan(p99) else p99 <= goals['p99'])} (p99 {fmt(p99, '.2f')} s)"
    )
    w = s.get("writes_per_min")
    lines.append(
        f"- 0 writes at steady state: {verdict(None if w is None else w == 0)} "
        f"({fmt(w, '.1f')} writes/min, Lease renewals not counted)"
    )
    restart = float(sum(res.restart["writes"].values())) if res.restart else None
    lines.append(
        f"- restart with healthy apps, 0 writes in the first minute: "
        f"{verdict(None if restart is None else restart == 0)} ({fmt(restart, '.0f')} writes, Lease not counted)"
    )
    rss = max(s.get("rss") or 0.0, res.rss_peak or 0.0) or None
    lines.append(
        f"- RSS <= {goals['rss']:.0f} MiB: {verdict(None if rss is None else rss <= goals['rss'])} "
        f"(peak {fmt(res.rss_peak, '.0f')} MiB, steady {fmt(s.get('rss'), '.0f')} MiB)"
    )
    settings = f" with {', '.join(f'{k}={v}' for k, v in res.operator_env.items())}" if res.operator_env else ""
    return [f"At {res.apps:,} apps{settings}:", *lines, ""]


def render(results: list[Result], bin_dir: Path, started: datetime) -> str:
    head = (
        "| apps | operator at | kwok nodes | floor: children by a client (s) | operator: apps created (s) | "
        "operator: all children (s) | ratio | writes/app while converging | "
        "steady: requests/poll | steady: requests/resync | steady: writes/min | lag p50 / p99 (s) | "
        "RSS steady / peak (MiB) | CPU steady (%) | restart: writes in 1st min | restart: writes/min in 2nd min |"
    )
    rows = [head, "|" + " --- |" * 16]
    for r in results:
        s, rs = r.steady, r.restart
        writes_app = sum(r.converge_writes.values()) / r.apps if r.converge_writes else None
        per_poll = s["requests"] / s["polls"] if s.get("polls") else None
        per_resync = s["requests"] / s["resyncs"] if s.get("resyncs") else None
        rows.append(
            f"| {r.apps:,} | {r.commit or '?'}{' (settings not default)' if r.operator_env else ''} | {r.nodes} | {fmt(r.floor_s)} | {fmt(r.apps_created_s)} | {fmt(r.converge_s)} | "
            f"{fmt(r.ratio, '.2f')} | {fmt(writes_app, '.2f')} | {fmt(per_poll, '.1f')} | {fmt(per_resync, '.1f')} | "
            f"{fmt(s.get('writes_per_min'), '.1f')} | {fmt(s.get('lag_p50'), '.2f')} / {fmt(s.get('lag_p99'), '.2f')} | "
            f"{fmt(s.get('rss'), '.0f')} / {fmt(r.rss_peak, '.0f')} | {fmt(s.get('cpu_percent'), '.1f')} | "
            f"{fmt(float(sum(rs['writes'].values())) if rs else None, '.0f')} | "
            f"{fmt(rs.get('after_writes_per_min'), '.0f')} |"
        )
    details = []
    for r in results:
        s, rs = r.steady, r.restart
        details.append(
            f"### {r.apps:,} apps (run started {r.started[:16].replace('T', ' ')} UTC, operator at {r.commit or '?'})\n"
        )
        details.append(
            f"- floor: {3 * r.apps:,} children seen {fmt(r.floor_s)} s after the first create "
            f"(the client's own creates took {fmt(r.floor_client_s)} s; {r.concurrency} requests in flight)"
        )
        for label, seconds in r.minimum_s.items():
            details.append(f"- {label}: {3 * r.apps:,} children seen {fmt(seconds)} s after the first app create")
        details.append(
            f"- operator: {r.apps:,} apps created in {fmt(r.apps_created_s)} s; all {3 * r.apps:,} children "
            f"{fmt(r.converge_s)} s after the first; operator CPU while converging {fmt(r.cpu_converge_s, '.0f')} s; "
            f"its writes: {dict(r.converge_writes.most_common())}; all its requests but the Lease's: "
            f"{sum(r.converge_requests.values())} {dict(r.converge_requests.most_common())}"
        )
        details.append(
            f"- settled (all Ready, 20 s without a write) {fmt(r.settle_s, '.0f')} s after that: {r.ready_apps} "
            f"Ready; the operator's writes from the first app create until then: "
            f"{sum(r.settle_writes.values())} {dict(r.settle_writes.most_common())}"
        )
        if s:
            details.append(
                f"- steady window {s['seconds']:.0f} s: {s['polls']:.0f} polls ({s['polled_apps']:.0f} app decisions, "
                f"{s['lag_count']:.0f} lag samples, {s['poll_seconds'] * 1000:.0f} ms per poll), "
                f"{s['reconciles']:.0f} reconciles (= {s['resyncs']:.2f} resyncs); requests but the Lease's: "
                f"{s['requests']} {dict(s['requests_by_kind'].most_common())}; the operator's own count of "
                f"API requests (Lease included): {s['own_api_requests']:.0f}; Lease: "
                f"{s['lease_requests_per_min']:.0f} requests/min ({s['lease_writes_per_min']:.0f} writes/min)"
            )
        if rs:
            details.append(
                f"- restart: SIGTERM to exit {rs['shutdown_s']:.1f} s; the new process led after "
                f"{fmt(rs['leading_s'])} s; in its first {RESTART_SECONDS} s: {rs['reconciles']:.0f} reconciles, "
                f"{rs['polled_apps']:.0f} app decisions, writes {dict(rs['writes'].most_common())} "
                f"(+{rs['lease_writes']} Lease), all requests but the Lease's "
                f"{dict(rs['requests_by_kind'].most_common())}; RSS {rs['rss']:.0f} MiB, CPU {rs['cpu_s']:.0f} s"
            )
        if rs.get("after_writes") is not None:
            details.append(
                f"- the restarted operator's next {STEADY_SECONDS} s (apps still idle): "
                f"{rs['after_writes_per_min']:.0f} writes/min {dict(rs['after_writes'].most_common())}"
            )
        details.append(f"- operator client: {r.client}")
        if r.operator_env:
            details.append(f"- **non-default operator settings**: {r.operator_env}")
        details.append(
            f"- machine load (1-min average) at start, steady start, steady end: {[round(x, 1) for x in r.load]}"
        )
        details += [f"- **note**: {note}" for note in r.notes]
        details.append("")
    goals = [line for r in results for line in goal_lines(r)]
    return f"""# The operator at scale

Measured {started:%Y-%m-%d %H:%M} UTC on {platform.machine()}, {len(os.sched_getaffinity(0))} cores shared with
other work (the 1-minute load average during each run is in the details), control plane binaries in
`{bin_dir}`. `make bench` runs it; alone:
`.venv/bin/python bench/scale.py --apps 100,1000,5000`.

How (`bench/scale.py`):

- Each size gets fresh control planes (etcd, kube-apiserver with the audit log on, controller-manager,
  scheduler, kwok), with kwok nodes of {PODS_PER_NODE} pods and 64 CPUs each, enough for one pod per app.
- Apps: one replica (`replicas.min: 1`), `50m` CPU, `loadBalancer.provider: service`, so each app has
  exactly three children (Deployment, entry Service, headless Service) whatever the load-balancer
  default is. The benchmark's client creates with 16 requests in flight (`--concurrency`; a row's
  details say when it was not 16).
- **floor**: on its own control plane, the same 3 children per app (from the operator's builders, without
  owner references) created directly by that client; timed from the first create until a watch has seen
  every one. **operator**: `webscale run` with default settings (its API client's rate limit and workers
  are in each row's details: the defaults changed over time), resync 60 s, leader election on; timed from the first app create until a watch has seen all children.
- **minimum** (from the runs at 23:00 UTC on): on its own control plane, no operator; the same client
  sends, per app, what any correct operator must: the user's create of the ScaledWebApp, then per child
  a GET that makes sure the name is free and a server-side apply with the owner reference, then one
  status apply — through the operator's own `Kube` adapter with its rate limit lifted. Why the GETs: a
  POST create leaves the fields it sets owned by an Update manager (a field later removed from the spec
  would stay: checked on this API server, even with `managedFields` sent in the POST), an apply to a
  name someone else holds changes their object, and an apply guarded by a made-up `metadata.uid` is
  refused when nothing exists ("uid mismatch ... no existing object was found"). "without name checks"
  drops the GETs: the writes alone. Its ratio to the floor is the best any operator could reach here.
- controller-manager and scheduler keep their defaults (20 and 50 requests/s) while anything converges;
  once the operator's children all exist they are restarted with a limit of 300 requests/s (from the runs
  at 23:00 UTC on; before, 1,000 pods took minutes to become Ready and the steady-state window still saw
  apps become Ready). A 1,000-app run with 300/s from the start (22:30 UTC) is in the details: the floor
  then took 55 s instead of 7.6 s, the API server busy with the controllers' pods, and is not comparable.
- **steady state** ("idle, nothing changing"): autoscaling is on (`mode: auto`, polling 15 s) against an
  allow-listed Prometheus URL on loopback where nothing listens: every 15 s every app is polled (one batched
  query, refused at once), decided and its status compared — and nothing changes, so nothing should be
  written. The window is {STEADY_SECONDS} s, after every app is Ready and the operator made no write for 20 s.
  Requests come from the audit log (user agent `{USER_AGENT} (...)`); the Lease's are reported apart
  (leader election renews it every 2 s whatever the number of apps). "requests/poll" and
  "requests/resync" both divide the same window's requests, so each is an upper bound.
- **lag**: `webscale_decision_lag_seconds` buckets, difference over the window, interpolated as
  `histogram_quantile` does. Its floor is the scaling tick (1 s): an app due at t is decided at the
  first tick after t.
- **RSS / CPU**: `/proc` of the operator process (peak sampled every 0.5 s).
- **restart**: SIGTERM, then a new operator; its writes in its first {RESTART_SECONDS} s (audit log).

{chr(10).join(rows)}

Goals (issue 8):

{chr(10).join(goals) if goals else "(no size with goals was measured)"}
## Details

{chr(10).join(details)}"""


FINDINGS = "\n## Findings"


def write(out: Path, text: str) -> None:
    """Write the report, keeping the hand-written findings section of the previous one (read the new
    numbers against it: they may no longer hold)."""
    old = out.read_text() if out.exists() else ""
    if FINDINGS in old:
        text = text.rstrip("\n") + "\n" + old[old.index(FINDINGS) :]
    out.write_text(text)


def by_size(results: list[Result]) -> list[Result]:
    """Rows by number of apps, earlier runs first."""
    return sorted(results, key=lambda r: (r.apps, r.started))


def save(results: list[Result], path: Path) -> None:
    path.write_text(json.dumps([vars(r) for r in results], indent=1, default=str) + "\n")


def load(path: Path) -> list[Result]:
    out = []
    for raw in json.loads(path.read_text()):
        res = Result(**{k: v for k, v in raw.items() if k in Result.__dataclass_fields__})
        for name in ("converge_writes", "converge_requests", "settle_writes"):
            setattr(res, name, Counter(getattr(res, name)))
        for part, names in (
            (res.steady, ("requests_by_kind",)),
            (res.restart, ("writes", "requests_by_kind", "after_writes")),
        ):
            for name in names:
                if name in part:
                    part[name] = Counter(part[name])
        out.append(res)
    return out


def main(argv: list[str] | None = None) -> int:
    global CONCURRENCY
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", default="100,1000,5000", help="comma-separated sizes (default 100,1000,5000)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.md")
    parser.add_argument("--render", action="store_true", help="only rewrite the .md from the saved .json")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor (the direct-client run)")
    parser.add_argument("--fresh", action="store_true", help="drop the rows of earlier runs (default: keep them)")
    parser.add_argument("--no-operator", action="store_true", help="only the floor and the minimum")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=CONCURRENCY,
        help=f"requests the client keeps in flight (default {CONCURRENCY})",
    )
    parser.add_argument(
        "--operator-env",
        action="append",
        default=[],
        metavar="WEBSCALE_X=V",
        help="a non-default operator setting (repeatable); reported with the results",
    )
    args = parser.parse_args(argv)
    CONCURRENCY = args.concurrency
    raw = args.out.with_suffix(".json")
    if args.render:
        saved = json.loads(raw.read_text())
        write(args.out, render(load(raw), Path(saved[0]["bin_dir"]), datetime.fromisoformat(saved[0]["started"])))
        return 0
    sizes = [int(x) for x in args.apps.split(",") if x]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    started = datetime.now(UTC)
    bin_dir = build()
    earlier = load(raw) if raw.exists() and not args.fresh else []
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="webscale-bench-scale-") as tmp:
        workdir = Path(os.environ.get("WEBSCALE_BENCH_KEEP", tmp))
        workdir.mkdir(parents=True, exist_ok=True)
        for n in sizes:
            print(f"scale: {n} apps", flush=True)
            res = Result(apps=n, nodes=sizing(n)[0], started=started.isoformat(), bin_dir=str(bin_dir), commit=commit)
            res.operator_env = dict(kv.split("=", 1) for kv in args.operator_env)
            res.client = client_settings(res.operator_env)
            res.concurrency = CONCURRENCY
            results.append(res)
            began = time.monotonic()
            try:
                run_size(bin_dir, res, workdir, floor=not args.no_floor, operator=not args.no_operator)
            except KeyboardInterrupt:
                res.notes.append(f"stopped by hand {time.monotonic() - began:.0f} s into this size")
                save(by_size(earlier + results), raw)
                write(args.out, render(by_size(earlier + results), bin_dir, started))
                raise
            save(by_size(earlier + results), raw)
            text = render(by_size(earlier + results), bin_dir, started)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            write(args.out, text)  # after each size: a later failure keeps what was measured
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
