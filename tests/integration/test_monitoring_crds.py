"""The chart's and the kustomize components' ServiceMonitor, PodMonitor and PrometheusRule, checked by the
real schema: the Prometheus Operator's CRDs (pinned, from its Go module: scripts/prometheus_operator_crds.sh)
applied to the local API server, then every monitoring object created for real, and a bad one refused.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from manifest_helpers import CHART, MANIFESTS, kubectl_bin, run_kubectl
from webscale_local.swa import wait_established

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
CRDS = ("servicemonitors", "podmonitors", "prometheusrules")


def script(name: str) -> str:
    proc = subprocess.run(["bash", str(ROOT / "scripts" / name)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"scripts/{name} failed:\n{proc.stderr}"
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def monitoring_crds(cluster) -> None:
    """The Prometheus Operator's CRDs on the local API server (server-side: they exceed the annotation
    limit of a client-side apply), Established."""
    crd_dir = Path(script("prometheus_operator_crds.sh"))
    for plural in CRDS:
        run_kubectl(cluster, "apply", "--server-side", "-f", str(crd_dir / f"monitoring.coreos.com_{plural}.yaml"))
    for plural in CRDS:
        wait_established(cluster.kubectl, f"{plural}.monitoring.coreos.com")


def chart_objects(namespace: str) -> list[dict]:
    sets = [
        "metrics.service.enabled=true",
        "serviceMonitor.enabled=true",
        "serviceMonitor.scrapeTimeout=10s",
        "podMonitor.enabled=true",
        "podMonitor.namespaces={apps,shop}",
        "prometheusRule.enabled=true",
        "grafanaDashboard.enabled=true",
    ]
    args = [a for s in sets for a in ("--set", s)]
    out = subprocess.run(
        [script("build_helm.sh"), "template", "mon", str(CHART), "-n", namespace, "--kube-version", "1.34.0", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] in KINDS | {"Service", "ConfigMap"}]


def component_objects(namespace: str) -> list[dict]:
    docs = []
    for path in (
        "service-monitor/servicemonitor.yaml",
        "pod-monitor/podmonitor.yaml",
        "prometheus-rule/prometheus-rule.yaml",
    ):
        doc = yaml.safe_load((MANIFESTS / "monitoring" / path).read_text())
        doc["metadata"]["namespace"] = namespace
        doc["metadata"]["name"] += "-component"
        docs.append(doc)
    return docs


def apply(cluster, docs: list[dict]) -> subprocess.CompletedProcess[str]:
    return run_kubectl(cluster, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(docs))


def test_chart_and_component_monitors_pass_the_real_schema(cluster, monitoring_crds, namespace):
    docs = chart_objects(namespace) + component_objects(namespace)
    assert sorted(d["kind"] for d in docs if d["kind"] in KINDS) == sorted([*KINDS, *KINDS])
    applied = apply(cluster, docs)
    for d in docs:
        if d["kind"] in KINDS:
            name = f"{d['kind'].lower()}.monitoring.coreos.com/{d['metadata']['name']}"
            assert f"{name} serverside-applied" in applied.stdout, applied.stdout
    # What the API server stored is what was sent: the schema pruned no field (a misspelt one would vanish).
    for d in docs:
        if d["kind"] in KINDS:
            stored = yaml.safe_load(
                cluster.kubectl("get", d["kind"].lower(), d["metadata"]["name"], "-n", namespace, "-o", "yaml")
            )
            assert stored["spec"] == d["spec"], d["kind"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda pm: pm["spec"]["podMetricsEndpoints"][0]["relabelings"][0].update(action="explode"), "action"),
        (lambda pm: pm["spec"]["podMetricsEndpoints"][0].update(interval="soon"), "interval"),
    ],
)
def test_a_bad_podmonitor_is_refused_by_the_schema(cluster, monitoring_crds, namespace, change, error):
    (pm,) = [d for d in component_objects(namespace) if d["kind"] == "PodMonitor"]
    change(pm)
    proc = subprocess.run(
        [kubectl_bin(cluster), "kubectl", f"--kubeconfig={cluster.kubeconfig}", "apply", "--server-side", "-f", "-"],
        input=yaml.safe_dump(pm),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and error in proc.stderr, proc.stderr
