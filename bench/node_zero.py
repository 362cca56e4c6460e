"""Cold starts from zero on the real node -> their own section of bench/results/node.md (others kept).

    make bench-node     # runs bench/node_bench.py, then this, each on a fresh node in its own namespace

Runs only inside a harness-made network namespace with no default route (webscale_local.netns), on a real
node (webscale_local.node.RealNode), all in one run:

1. The chart (2 operator replicas) and Prometheus as tests/realnode installs them, and APPS apps of the
   sample app that may scale to zero (tests/realnode/installed.zero_manifest: replicas.min 0, idleAfter
   30s, the shortest, pollingInterval 5s, HAProxy holding requests up to 30 s). A new app starts at zero.
2. Bare pod create -> Ready, BARE times each, alternating: a pod with the app's own pod template (copied
   from its Deployment: the operator's readinessProbe, resources, volumes) and the bare sample-app pod of
   bench/node_bench.py (readinessProbe every 1 s), each deleted (and gone) before the next.
3. COLD_STARTS cold starts, round-robin over the apps (several apps, so one idles back to zero while the
   others are woken): an app with no pod at all (it went idle -> 0 by itself), BURST requests sent to its
   ClusterIP at once from inside the namespace (kube-proxy -> HAProxy, held there), each timed from
   sending to its 200, sent as soon as the last pod is gone. Meanwhile a poll every POLL s notes each
   step (cold_start_report.STEPS; the DNS step asks CoreDNS the SRV name HAProxy asks, webscale_local.dns_probe).

Every loop is bounded in count and time; what it installs it uninstalls; the RealNode context manager
stops the node.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from kubernetes import client, config
from node_bench import OUT, POLL, SYSTEM, bare_pod, is_ready, poll, uninstall
from webscale_local import netns
from webscale_local.cold_start_report import END, START, ColdStart, active_servers, created_after, render
from webscale_local.dns_probe import has_records
from webscale_local.node import RealNode, built_images
from webscale_local.node_config import CLUSTER_DOMAIN, NODE_IP
from webscale_local.node_report import replace_section

from webscale.api.labels import lb_selector_labels, selector_string
from webscale.reconcile.haproxy_config import BACKEND, METRICS_PORT, srv_name

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "realnode"))
from installed import install_operator_and_prometheus, zero_manifest  # noqa: E402

APPS = 3
BARE = 8
COLD_STARTS = 20
BURST = 5
HOLD = 30.0
BUDGET = 30 * 60.0
"""Seconds the cold-start loop may take in all (it stops early, with what it has, after that)."""
NAMES = [f"cold-{i}" for i in range(APPS)]


def selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items())


def pod_start(core: client.CoreV1Api, body: dict) -> float:
    """Create `body`, wait for Ready (bounded), delete it and wait until it is gone; create -> Ready."""
    name = body["metadata"]["name"]
    t0 = time.monotonic()
    core.create_namespaced_pod("default", body)
    poll(lambda: is_ready(core.read_namespaced_pod(name, "default")), 120, f"{name} Ready")
    took = time.monotonic() - t0
    core.delete_namespaced_pod(name, "default")
    gone = f"metadata.name={name}"
    poll(lambda: not core.list_namespaced_pod("default", field_selector=gone).items, 60, f"{name} gone")
    return took


def template_pod(apps: client.AppsV1Api, app: str, name: str) -> dict:
    """A pod with `app`'s own pod template, labelled so that no Service of the app selects it."""
    api = apps.api_client
    deployment = api.sanitize_for_serialization(apps.read_namespaced_deployment(app, "default"))
    spec = deployment["spec"]["template"]["spec"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench-zero"}},
        "spec": spec,
    }


OWN = "the app's own pod template (readinessProbe every 5 s)"
QUICK = "node_bench.py's sample-app pod (readinessProbe every 1 s)"


def measure_bare(core: client.CoreV1Api, apps: client.AppsV1Api) -> dict[str, list[float]]:
    """BARE create -> Ready samples of each pod (OWN first: the goal's reference), alternating."""
    out: dict[str, list[float]] = {OWN: [], QUICK: []}
    for i in range(BARE):
        out[OWN].append(pod_start(core, template_pod(apps, NAMES[0], f"bench-zero-own-{i}")))
        out[QUICK].append(pod_start(core, bare_pod(f"bench-zero-quick-{i}")))
        print(f"node-zero: bare {i + 1}: own template {out[OWN][-1]:.2f} s, quick {out[QUICK][-1]:.2f} s", flush=True)
    return out


def at_zero(core: client.CoreV1Api, apps: client.AppsV1Api, name: str) -> bool:
    replicas = apps.read_namespaced_deployment(name, "default").spec.replicas or 0
    return replicas == 0 and not core.list_namespaced_pod("default", label_selector=selector_string(name)).items


def get_text(url: str, timeout: float) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


class Tracker(threading.Thread):
    """Notes when each step of one cold start is first seen, every POLL s, until stopped (bounded)."""

    def __init__(self, core: client.CoreV1Api, apps: client.AppsV1Api, disc: client.DiscoveryV1Api, sample: ColdStart):
        super().__init__(daemon=True)
        self.core, self.apps, self.disc, self.sample = core, apps, disc, sample
        lb = core.list_namespaced_pod("default", label_selector=selector(lb_selector_labels(sample.app))).items
        self.lb_ips = [p.status.pod_ip for p in lb if p.status.pod_ip]
        self.srv = srv_name("default", sample.app, CLUSTER_DOMAIN)
        self.qid = 0
        self.counted_none = False
        self.t0 = time.monotonic()
        self.done = threading.Event()

    def seen(self, step: str) -> None:
        if getattr(self.sample, step) is None:
            setattr(self.sample, step, time.monotonic() - self.t0)

    def run(self) -> None:
        name, deadline = self.sample.app, self.t0 + HOLD + 30
        while not self.done.is_set() and time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # one failed read is "not seen yet"; the next poll retries
                self.step(name)
            self.done.wait(POLL)

    def step(self, name: str) -> None:
        if (self.apps.read_namespaced_deployment(name, "default").spec.replicas or 0) > 0:
            self.seen("decided")
        pods = self.core.list_namespaced_pod("default", label_selector=selector_string(name)).items
        if pods:
            self.seen("created")
            self.sample.pod = pods[0].metadata.name
            if any(is_ready(p) for p in pods):
                self.seen("ready")
            ip = pods[0].status.pod_ip
            if ip and self.sample.listening is None:
                with contextlib.suppress(OSError):
                    get_text(f"http://{ip}:3000/readyz", 0.5)
                    self.seen("listening")
        slices = self.disc.list_namespaced_endpoint_slice(
            "default", label_selector=f"kubernetes.io/service-name={name}-pods"
        ).items
        if any(e.conditions and e.conditions.ready for s in slices for e in (s.endpoints or [])):
            self.seen("endpoint")
        if self.sample.dns is None:
            self.qid += 1
            with contextlib.suppress(OSError, ValueError):  # no answer in time: not seen yet
                if has_records(NODE_IP, self.srv, self.qid):
                    self.seen("dns")
        usable = sum(active_servers(get_text(f"http://{ip}:{METRICS_PORT}/metrics?scope=backend", 0.5), BACKEND)
                     for ip in self.lb_ips)  # fmt: skip
        if usable == 0:
            self.counted_none = True
        elif self.counted_none:
            self.seen("usable")  # the new pod (HAProxy had counted none before)
        else:
            self.sample.stale = True  # HAProxy still counted the pod that left: the request is not held


def first_requests(url: str, sample: ColdStart, t0: float) -> None:
    """BURST requests at once; the first thread's 200 is the cold start's `served` (its own clock)."""

    def one(i: int) -> None:
        try:
            with urllib.request.urlopen(url, timeout=HOLD + 10) as resp:
                resp.read()
                ok = resp.status == 200
        except OSError:
            ok = False
        took = time.monotonic() - t0
        if not ok:
            sample.failed += 1
            return
        sample.latencies.append(took)
        if i == 0:
            sample.served = took

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(BURST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HOLD + 15)


def cold_start(
    core: client.CoreV1Api, apps: client.AppsV1Api, disc: client.DiscoveryV1Api, name: str, url: str
) -> ColdStart:
    sample = ColdStart(app=name)
    tracker = Tracker(core, apps, disc, sample)
    sent_epoch = time.time()
    tracker.t0 = time.monotonic()
    tracker.start()
    first_requests(url, sample, tracker.t0)
    time.sleep(1)  # the steps the poll had not seen by the 200 (HAProxy's count, the EndpointSlice) land
    tracker.done.set()
    tracker.join(5)
    pod = core.read_namespaced_pod(sample.pod, "default") if sample.pod else None
    sample.pod_after_request = pod is not None and created_after(
        pod.metadata.creation_timestamp.isoformat(), sent_epoch
    )
    return sample


def order(samples: list[ColdStart]) -> list[str]:
    """The apps, the one woken longest ago first (never woken: first of all), so each takes its turn."""
    last = {s.app: i for i, s in enumerate(samples)}
    return sorted(NAMES, key=lambda n: last.get(n, -1))


def measure_cold(
    node: RealNode, core: client.CoreV1Api, apps: client.AppsV1Api, urls: dict[str, str]
) -> list[ColdStart]:
    disc, samples = client.DiscoveryV1Api(core.api_client), []
    deadline = time.monotonic() + BUDGET
    while len(samples) < COLD_STARTS and time.monotonic() < deadline:
        try:
            name = poll(
                lambda: next((n for n in order(samples) if at_zero(core, apps, n)), None),
                max(1.0, min(300.0, deadline - time.monotonic())),
                "an app at zero",
            )
        except TimeoutError as exc:  # reported with the samples taken so far
            print(f"node-zero: stopped after {len(samples)} cold starts: {exc}", flush=True)
            break
        # sent as soon as the last pod is gone: a request then must be held for the next one, not lost
        sample = cold_start(core, apps, disc, name, urls[name])
        samples.append(sample)
        print(f"node-zero: cold start {len(samples)}: {sample}", flush=True)
    for name in NAMES:  # why an app did or did not come back to zero (its last decision, its metrics)
        status = json.loads(node.kubectl("get", "scaledwebapp", name, "-o", "json")).get("status", {})
        conditions = {c["type"]: f"{c['status']} {c.get('reason')}" for c in status.get("conditions", [])}
        print(f"node-zero: {name}: {status.get('lastScale')} {status.get('observed')} {conditions}", flush=True)
    return samples


def main() -> int:
    netns.assert_inside()
    started = datetime.now(UTC)
    with RealNode(name="node-0", images=built_images()) as node:
        api = config.new_client_from_config(config_file=str(node.kubeconfig))
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        try:
            install_operator_and_prometheus(node, SYSTEM)
            for name in NAMES:
                node.kubectl("apply", "-f", "-", stdin=zero_manifest(name, hold_for=f"{HOLD:g}s"))
            urls = {}
            for name in NAMES:
                lb = selector(lb_selector_labels(name))
                poll(lambda lb=lb: len([p for p in core.list_namespaced_pod("default", label_selector=lb).items
                                        if is_ready(p)]) == 2, 180, f"{name}'s HAProxy pods Ready")  # fmt: skip
                service = core.read_namespaced_service(name, "default").spec
                urls[name] = f"http://{service.cluster_ip}:{service.ports[0].port}/"
            bare = measure_bare(core, apps)
            samples = measure_cold(node, core, apps, urls)
        finally:
            for name in NAMES:
                node.kubectl("delete", "scaledwebapp", name, "--ignore-not-found", "--wait=true", check=False)
            took, left = uninstall(node)
        timings = ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in node.timings.items())
    header = (
        f"Generated by `bench/node_zero.py` on {started:%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
        f"{os.cpu_count()} cores, kernel {platform.release()}, `nice -n 19` beside other jobs on the same machine. "
        f"The node's start: {timings}. Steps are polled every {POLL:g} s (plus the calls' time), so each is an "
        f"upper bound to about 0.3 s; the requests' times are their own clocks. Uninstall: {took:.1f} s"
        + (f", left: {', '.join(left)}." if left else ", nothing left.")
    )
    setup = (
        f"{len(NAMES)} apps of the sample app (one worker, 100m) with replicas.min 0, idleAfter 30s, "
        f"pollingInterval 5s, holdRequestsFor {HOLD:g}s, 2 HAProxy pods each; each cold start waits for an app "
        f"with no pod left (it went idle -> 0 by itself; the first round's apps were created at zero), then "
        f"sends {BURST} requests to its ClusterIP at once from inside the node's namespace. Bare pods: {BARE} "
        "of each, alternating, on the same node before the cold starts."
    )
    section = render(samples, bare, header, setup)
    OUT.write_text(replace_section(OUT.read_text(), section, (START, END)))
    print(section)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
