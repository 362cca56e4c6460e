"""Real-node benchmark -> its own section of bench/results/node.md (the hand-made sections are kept).

    make bench-node     # builds/reuses the node and images, then runs this inside a fresh network namespace

Runs only inside a harness-made network namespace with no default route (webscale_local.netns), on a real
node (webscale_local.node.RealNode: containerd, kubelet, kube-proxy, CoreDNS beside the local control plane),
all in one run:

1. Pod create -> Ready: a bare pod of the sample app (its image already imported, readinessProbe on /readyz
   every 1 s, 50m request, 1 CPU limit) on the quiet node, SAMPLES_START times, each deleted (and gone)
   before the next; from the create call returning to Ready seen by polling every POLL s.
2. Replica decision -> new pod serving: the chart (2 operator replicas), Prometheus and shop installed as in
   tests/realnode (shop's pods ask 300m: one worker each, 2 pods). Under a steady, bounded load through
   shop's ClusterIP (SCALE_RATE req/s, below what 2 pods need, so the load itself never scales shop), shop's
   spec.replicas.min goes 2 -> 3; from the moment the Deployment's spec.replicas changes (polled every POLL
   s) to the new pod Ready, and to the first request it served through the Service (its own
   http_requests_total on its /metrics going above 0, polled every POLL s; nothing but the Service's
   traffic reaches it: /metrics, probes and health checks are not counted). Then min goes back to 2 and
   shop settles at 2 pods before the next sample.
3. Request latency through shop's ClusterIP (kube-proxy -> HAProxy -> pod) against straight to one app
   pod's IP:port, the same rate and count, back to back, ROUNDS times, with the failed requests counted.

Every wait is bounded; what it installs it uninstalls, and the RealNode context manager stops the node.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from webscale_local import netns
from webscale_local.load import Load, LoadStats
from webscale_local.node import RealNode, built_images
from webscale_local.node_report import millis, percentile, replace_section, seconds, served, table

from webscale.api.labels import selector_string

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "realnode"))  # the install helpers the real-node tests use
from installed import (  # noqa: E402
    get_json,
    helm,
    install_shop,
    sample_container,
    wait_node,
)

OUT = ROOT / "bench" / "results" / "node.md"
SYSTEM = "webscale-system"
POLL = 0.1
SAMPLES_START = 5
SAMPLES_SCALE = 3
SCALE_RATE = 30.0
LATENCY_RATE = 50.0
LATENCY_SECONDS = 30.0
ROUNDS = 2
PATH = "/"
"""What the load GETs: the app's trivial JSON answer, so the latency is the data path's."""


@dataclass
class ScaleSample:
    patched_to_decision: float
    decision_to_ready: float | None = None
    decision_to_served: float | None = None
    pod: str = ""


@dataclass
class Results:
    start: list[float] = field(default_factory=list)
    scale: list[ScaleSample] = field(default_factory=list)
    scale_load: list[LoadStats] = field(default_factory=list)
    latency: dict[str, list[LoadStats]] = field(default_factory=dict)
    """Each round's stats, by target."""
    pod_ip: str = ""
    service: str = ""
    uninstall_seconds: float | None = None
    left: list[str] = field(default_factory=list)


def poll(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Call `check` every POLL s until it returns something truthy; bounded by `timeout`. A call that fails
    (the API or a pod not answering for a moment) counts as "not yet"; the last failure is in the error."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            value = check()
        except (OSError, ValueError, ApiException) as exc:
            value, last = None, exc
        if value:
            return value
        time.sleep(POLL)
    raise TimeoutError(f"{what}: not within {timeout:g} s (last error: {last!r})")


def is_ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def bare_pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench-start"}},
        "spec": {
            "terminationGracePeriodSeconds": 5,
            "containers": [sample_container()],
        },
    }


def measure_start(core: client.CoreV1Api) -> list[float]:
    took = []
    for i in range(SAMPLES_START):
        name = f"bench-start-{i}"
        t0 = time.monotonic()
        core.create_namespaced_pod("default", bare_pod(name))

        def ready(n: str = name) -> client.V1Pod | None:
            pod = core.read_namespaced_pod(n, "default")
            return pod if is_ready(pod) else None

        pod = poll(ready, 120, f"{name} Ready")
        took.append(time.monotonic() - t0)
        answer = get_json(f"http://{pod.status.pod_ip}:3000/healthz")
        assert answer["status"] == "ok", answer
        print(f"node-bench: {name} create -> Ready {took[-1]:.2f} s", flush=True)
        core.delete_namespaced_pod(name, "default")
        poll(
            lambda n=name: not core.list_namespaced_pod("default", field_selector=f"metadata.name={n}").items,
            60,
            f"{name} gone",
        )
    return took


def install(node: RealNode) -> str:
    """The chart, Prometheus and shop as tests/realnode installs them; shop's URL (its ClusterIP)."""
    url = install_shop(node, SYSTEM)
    # a short scale-down window, outside the pod template: min 3 -> 2 takes effect within a poll or two
    patch_shop(node, {"autoscaling": {"behavior": {"scaleDown": {"stabilizationWindow": "10s"}}}})
    wait_node(lambda: get_json(f"{url}/"), 60, "a 200 from shop's ClusterIP", node)
    return url


def uninstall(node: RealNode) -> tuple[float, list[str]]:
    """Delete shop, `helm uninstall`, delete Prometheus; then wait (bounded) until no pod is left in any
    namespace. The seconds from the first delete to that, and the pods still there if it timed out."""
    t0 = time.monotonic()
    node.kubectl("delete", "scaledwebapp", "shop", "--ignore-not-found", "--wait=true", "--timeout=120s", check=False)
    helm(node, "uninstall", "webscale", "--namespace", SYSTEM, "--ignore-not-found", "--wait")
    with tempfile.TemporaryDirectory() as d:
        base = os.path.relpath(ROOT / "manifests" / "prometheus-kind", d)
        Path(d, "kustomization.yaml").write_text(yaml.safe_dump({"resources": [base]}))
        node.kubectl("delete", "-k", d, "--ignore-not-found", "--wait=true", "--timeout=120s", check=False)

    def pods() -> list[str]:
        return node.kubectl("get", "pods", "-A", "-o", "name").split()

    try:
        poll(lambda: not pods(), 180, "no pod left after the uninstall")
    except TimeoutError:
        return time.monotonic() - t0, pods()
    return time.monotonic() - t0, []


def patch_shop(node: RealNode, spec: dict) -> None:
    node.kubectl("patch", "scaledwebapp", "shop", "--type=merge", "-p", json.dumps({"spec": spec}))


def app_pods(core: client.CoreV1Api) -> list[client.V1Pod]:
    return core.list_namespaced_pod("default", label_selector=selector_string("shop")).items


def served_by(ip: str) -> float:
    with urllib.request.urlopen(f"http://{ip}:3000/metrics", timeout=2) as resp:
        return served(resp.read().decode())


def scale_sample(node: RealNode, core: client.CoreV1Api, apps: client.AppsV1Api) -> ScaleSample:
    """min 2 -> 3: the Deployment's spec.replicas change, the new pod Ready, its first request served."""
    old = {p.metadata.name for p in app_pods(core)}
    before = apps.read_namespaced_deployment("shop", "default").spec.replicas
    patched = time.monotonic()
    patch_shop(node, {"replicas": {"min": before + 1, "max": 10}})
    poll(lambda: apps.read_namespaced_deployment("shop", "default").spec.replicas > before, 60, "spec.replicas up")
    decided = time.monotonic()
    sample = ScaleSample(patched_to_decision=decided - patched)

    def new_ready() -> client.V1Pod | None:
        return next((p for p in app_pods(core) if p.metadata.name not in old and is_ready(p)), None)

    pod = poll(new_ready, 120, "the new shop pod Ready")
    sample.decision_to_ready, sample.pod = time.monotonic() - decided, pod.metadata.name
    poll(lambda: served_by(pod.status.pod_ip) > 0, 60, f"{pod.metadata.name} serving through the Service")
    sample.decision_to_served = time.monotonic() - decided
    return sample


def settle(core: client.CoreV1Api, apps: client.AppsV1Api, count: int) -> None:
    def settled() -> bool:
        pods = app_pods(core)
        replicas = apps.read_namespaced_deployment("shop", "default").spec.replicas
        return replicas == count and len(pods) == count and all(is_ready(p) for p in pods)

    poll(settled, 180, f"shop settled at {count} Ready pods")


def measure_scale(node: RealNode, core: client.CoreV1Api, apps: client.AppsV1Api, url: str, results: Results) -> None:
    settle(core, apps, 2)
    for i in range(SAMPLES_SCALE):
        with Load([url], rate=SCALE_RATE, duration=200, path=PATH, connections=2) as load:
            time.sleep(3)  # the load flows before the decision
            sample = scale_sample(node, core, apps)
            time.sleep(2)
            results.scale_load.append(load.stop())
        results.scale.append(sample)
        print(f"node-bench: scale {i + 1}: {sample} ({results.scale_load[-1].summary()})", flush=True)
        patch_shop(node, {"replicas": {"min": 2, "max": 10}})
        settle(core, apps, 2)


def measure_latency(core: client.CoreV1Api, url: str, results: Results) -> None:
    pod = next(p for p in app_pods(core) if is_ready(p))
    results.pod_ip, results.service = pod.status.pod_ip, url
    targets = {"service": url, "pod": f"http://{pod.status.pod_ip}:3000"}
    with Load([url], rate=LATENCY_RATE, duration=10, path=PATH) as warm:
        warm.wait()  # HAProxy's connections to both pods opened before anything counts
    for _ in range(ROUNDS):
        for name, target in targets.items():
            with Load([target], rate=LATENCY_RATE, duration=LATENCY_SECONDS, path=PATH) as load:
                stats = load.wait()
            results.latency.setdefault(name, []).append(stats)
            print(f"node-bench: latency {name}: {stats.summary()}", flush=True)


def render(results: Results, node: RealNode, started: datetime) -> str:
    scale_failed = sum(s.failed for s in results.scale_load)
    scale_ok = sum(s.ok for s in results.scale_load)
    ready = [s.decision_to_ready for s in results.scale if s.decision_to_ready is not None]
    serving = [s.decision_to_served for s in results.scale if s.decision_to_served is not None]
    reaction = [s.patched_to_decision for s in results.scale]
    lat = {key: [x for s in rounds for x in s.latencies] for key, rounds in results.latency.items()}
    rows_latency = [
        [
            what,
            str(sum(s.sent for s in results.latency[key])),
            str(sum(s.failed for s in results.latency[key])),
            millis(percentile(lat[key], 0.5)),
            millis(percentile(lat[key], 0.99)),
            millis(max(lat[key], default=float("nan"))),
            ", ".join(millis(percentile(s.latencies, 0.5)) for s in results.latency[key]),
            ", ".join(millis(percentile(s.latencies, 0.99)) for s in results.latency[key]),
        ]
        for key, what in (("service", "shop's ClusterIP (kube-proxy -> HAProxy -> pod)"), ("pod", "one pod's IP:3000"))
    ]
    ratio = percentile(lat["service"], 0.5) / percentile(lat["pod"], 0.5)
    timings = ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in node.timings.items())
    return "\n".join(
        [
            "## Benchmark: `make bench-node`",
            "",
            f"Generated by `bench/node_bench.py` on {started:%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
            f"{os.cpu_count()} cores, kernel {platform.release()}, `nice -n 10` beside other jobs on the same "
            f"machine. The node's start: {timings}. Times are polled every {POLL:g} s (plus an API call's "
            "time), so each is an upper bound to about 0.2 s.",
            "",
            f"**Pod create -> Ready** ({len(results.start)} samples; a bare sample-app pod, readinessProbe every "
            "1 s, on the node before anything else is installed): "
            f"p50 {seconds(percentile(results.start, 0.5))} s, max {seconds(max(results.start))} s "
            f"({', '.join(seconds(t) for t in results.start)}).",
            "",
            f"**Replica decision -> new pod serving** ({len(results.scale)} samples; shop 2 -> 3 pods by "
            f"spec.replicas.min under {SCALE_RATE:g} req/s through its ClusterIP; from the Deployment's "
            "spec.replicas changing):",
            "",
            table(
                ["", "p50 (s)", "max (s)", "samples (s)"],
                [
                    [what, seconds(percentile(v, 0.5)), seconds(max(v, default=None)), ", ".join(map(seconds, v))]
                    for what, v in (
                        ("patch of min -> spec.replicas changed (the operator)", reaction),
                        ("spec.replicas changed -> new pod Ready", ready),
                        ("spec.replicas changed -> its first request through the Service", serving),
                    )
                ],
            ),
            "",
            f"The load during those samples: {scale_ok} ok, {scale_failed} failed.",
            "",
            f"**Request latency** (GET {PATH}, {LATENCY_RATE:g} req/s open loop for {LATENCY_SECONDS:g} s per "
            f"round, 2 keep-alive connections, {ROUNDS} rounds each, back to back, after a 10 s warm-up; "
            "webscale_local.load.Load, from inside the node's namespace):",
            "",
            table(
                ["to", "requests", "failed", "p50 (ms)", "p99 (ms)", "max (ms)", "p50 by round", "p99 by round"],
                rows_latency,
            ),
            "",
            f"p50 through the Service is {ratio:.2f}x the pod's.",
            "",
            f"**Uninstall** (shop deleted, `helm uninstall`, Prometheus deleted, until no pod is left in any "
            f"namespace): {seconds(results.uninstall_seconds)} s"
            + (f"; still there: {', '.join(results.left)}." if results.left else ", nothing left."),
        ]
    )


@contextlib.contextmanager
def shop_installed(node: RealNode, results: Results) -> Iterator[str]:
    try:
        yield install(node)
    finally:
        results.uninstall_seconds, results.left = uninstall(node)


def main() -> int:
    netns.assert_inside()
    started = datetime.now(UTC)
    results = Results()
    with RealNode(name="node-0", images=built_images()) as node:
        api = config.new_client_from_config(config_file=str(node.kubeconfig))
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        results.start = measure_start(core)
        with shop_installed(node, results) as url:
            measure_latency(core, url, results)
            measure_scale(node, core, apps, url, results)
        section = render(results, node, started)
    OUT.write_text(replace_section(OUT.read_text(), section))
    print(section)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
