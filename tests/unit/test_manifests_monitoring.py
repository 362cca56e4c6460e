"""The monitoring switches of the chart (metrics.service, serviceMonitor, podMonitor, prometheusRule,
grafanaDashboard) and the kustomize components under manifests/monitoring and manifests/grafana.

The PodMonitor's relabelings must be `webscale.promql.relabel.relabel_configs()` (the label contract
the operator's batched queries group by); the copies of the rules and of the dashboard must be equal.
helm renders the chart (WEBSCALE_HELM or on PATH); kubectl (on PATH) renders the components.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from manifest_helpers import BASE, CHART, MANIFESTS, base_container, one
from test_manifests_helm import helm, render_chart

from webscale.promql.relabel import relabel_configs

MONITORING = MANIFESTS / "monitoring"
GRAFANA = MANIFESTS / "grafana"
RULES_FILE = CHART / "files" / "prometheus-rules.yaml"
MONITORING_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
ALL_ON = [
    *("--set", "metrics.service.enabled=true", "--set", "serviceMonitor.enabled=true"),
    *("--set", "podMonitor.enabled=true", "--set", "prometheusRule.enabled=true"),
    *("--set", "grafanaDashboard.enabled=true"),
]


def operator_format(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prometheus relabel_configs in the Prometheus Operator's spelling (sourceLabels, targetLabel)."""
    names = {"source_labels": "sourceLabels", "target_label": "targetLabel"}
    return [{names.get(k, k): v for k, v in c.items()} for c in configs]


def by_kind(docs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


# ---- the files, no binary needed ------------------------------------------------------------------
def test_component_podmonitor_relabels_as_the_queries_expect():
    pm = one(MONITORING / "pod-monitor" / "podmonitor.yaml", "PodMonitor")
    (endpoint,) = pm["spec"]["podMetricsEndpoints"]
    assert endpoint["relabelings"] == operator_format(relabel_configs())
    assert endpoint["honorLabels"] is False and "port" not in endpoint  # the address comes from the annotation
    assert pm["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/managed-by": "webscale"}}
    assert pm["spec"]["namespaceSelector"] == {"any": True}


def test_component_service_selects_the_operator_pods_on_their_metrics_port():
    svc = one(MONITORING / "metrics-service" / "service.yaml", "Service")
    pod = one(BASE / "deployment.yaml")["spec"]["template"]
    assert matches(svc["spec"]["selector"], pod["metadata"]["labels"])
    (port,) = svc["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in base_container()["ports"]}
    sm = one(MONITORING / "service-monitor" / "servicemonitor.yaml", "ServiceMonitor")
    assert matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"])
    assert [e["port"] for e in sm["spec"]["endpoints"]] == [port["name"]]
    assert [e["honorLabels"] for e in sm["spec"]["endpoints"]] == [True]  # webscale_app_*'s namespace is the app's
    assert sm["metadata"]["namespace"] == svc["metadata"]["namespace"] == "webscale-system"


def test_rule_copies_are_equal():
    rule = one(MONITORING / "prometheus-rule" / "prometheus-rule.yaml", "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(RULES_FILE.read_text())
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert len(alerts) == len(set(alerts)) >= 6


def test_dashboard_copies_are_equal():
    assert (CHART / "files" / "webscale-dashboard.json").read_bytes() == (
        GRAFANA / "webscale-dashboard.json"
    ).read_bytes()


# ---- helm template: each switch ---------------------------------------------------------------------
def test_monitoring_is_off_by_default():
    # the wake Service (settings.wakePort) is not monitoring's: HAProxy pods ask it for ready pods
    kinds = {d["kind"] for d in render_chart() if not d["metadata"]["name"].endswith("-wake")}
    assert not kinds & (MONITORING_KINDS | {"Service", "ConfigMap"})


@pytest.mark.parametrize(
    ("sets", "kinds"),
    [
        (["metrics.service.enabled=true"], ["Service"]),
        (["metrics.service.enabled=true", "serviceMonitor.enabled=true"], ["Service", "ServiceMonitor"]),
        (["podMonitor.enabled=true"], ["PodMonitor"]),
        (["prometheusRule.enabled=true"], ["PrometheusRule"]),
        (["grafanaDashboard.enabled=true"], ["ConfigMap"]),
    ],
)
def test_each_switch_adds_its_objects_only(sets: list[str], kinds: list[str]):
    base = [d["kind"] for d in render_chart()]
    rendered = [d["kind"] for d in render_chart(*[a for s in sets for a in ("--set", s)])]
    assert sorted(rendered) == sorted(base + kinds)


def test_servicemonitor_scrapes_the_metrics_service_of_the_operator_pods():
    docs = by_kind(render_chart(*ALL_ON, "--set", "serviceMonitor.labels.release=kps"))
    (svc,) = [d for d in docs["Service"] if d["metadata"]["name"].endswith("-metrics")]
    (sm,), (dep,) = docs["ServiceMonitor"], docs["Deployment"]
    pod = dep["spec"]["template"]
    assert matches(svc["spec"]["selector"], pod["metadata"]["labels"])
    (port,) = svc["spec"]["ports"]
    container_ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
    assert container_ports[port["targetPort"]] == 8080
    assert matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"])
    assert sm["spec"]["namespaceSelector"] == {"matchNames": ["webscale-system"]}
    assert sm["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "honorLabels": True, "interval": "30s"}]
    assert sm["metadata"]["labels"]["release"] == "kps"


def test_podmonitor_relabels_as_the_queries_expect_and_scrapes_at_the_operators_interval():
    (pm,) = by_kind(render_chart("--set", "podMonitor.enabled=true"))["PodMonitor"]
    (endpoint,) = pm["spec"]["podMetricsEndpoints"]
    assert endpoint["relabelings"] == operator_format(relabel_configs())
    assert endpoint["interval"] == "15s"  # settings.metricsScrapeIntervalSeconds: the rate windows' base
    assert pm["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/managed-by": "webscale"}}
    assert pm["spec"]["namespaceSelector"] == {"any": True}
    component = one(MONITORING / "pod-monitor" / "podmonitor.yaml", "PodMonitor")
    assert pm["spec"] == component["spec"]


@pytest.mark.parametrize(
    ("sets", "selector", "interval"),
    [
        (["settings.namespace=apps"], {"matchNames": ["apps"]}, "15s"),
        (["podMonitor.namespaces={a,b}", "settings.namespace=apps"], {"matchNames": ["a", "b"]}, "15s"),
        (["settings.metricsScrapeIntervalSeconds=30"], {"any": True}, "30s"),
        (["podMonitor.interval=1m", "settings.metricsScrapeIntervalSeconds=30"], {"any": True}, "1m"),
    ],
)
def test_podmonitor_namespaces_and_interval(sets: list[str], selector: dict, interval: str):
    args = ["--set", "podMonitor.enabled=true", *[a for s in sets for a in ("--set", s)]]
    (pm,) = by_kind(render_chart(*args))["PodMonitor"]
    assert pm["spec"]["namespaceSelector"] == selector
    assert pm["spec"]["podMetricsEndpoints"][0]["interval"] == interval


def test_prometheusrule_and_dashboard_carry_the_files():
    docs = by_kind(render_chart(*ALL_ON, "--set", "grafanaDashboard.namespace=monitoring"))
    (rule,), (cm,) = docs["PrometheusRule"], docs["ConfigMap"]
    assert rule["spec"] == yaml.safe_load(RULES_FILE.read_text())
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == "monitoring"
    assert json.loads(cm["data"]["webscale-dashboard.json"]) == json.loads(
        (GRAFANA / "webscale-dashboard.json").read_text()
    )


@pytest.mark.parametrize(
    ("sets", "error"),
    [
        (["serviceMonitor.enabled=true"], "serviceMonitor.enabled needs metrics.service.enabled=true"),
        (["metrics.service.enabled=true", "settings.livenessPort=0"], "needs settings.livenessPort > 0"),
        (["podMonitor.interval=soon", "podMonitor.enabled=true"], "/podMonitor/interval"),
        (["podMonitor.namespaces={Bad_Name}", "podMonitor.enabled=true"], "/podMonitor/namespaces/0"),
        (["prometheusRule.enable=true"], "enable"),
    ],
)
def test_bad_monitoring_values_are_refused_with_the_field(sets: list[str], error: str):
    args = [a for s in sets for a in ("--set", s)]
    refused = helm("template", "rel", str(CHART), "--kube-version", "1.34.0", *args, check=False)
    assert refused.returncode != 0 and error in refused.stderr, refused.stderr


# ---- kustomize: the components compose with the base ------------------------------------------------
def kustomize(tmp_path: Path, components: list[str]) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("no kubectl on PATH (kubectl kustomize renders the components)")
    rel = Path(*[".."] * len(tmp_path.parts[1:])) / MANIFESTS.relative_to("/")
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [str(rel / "base")],
        "components": [str(rel / c) for c in components],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    out = subprocess.run([kubectl, "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_components_compose_with_the_base(tmp_path: Path):
    docs = kustomize(
        tmp_path, ["monitoring/service-monitor", "monitoring/pod-monitor", "monitoring/prometheus-rule", "grafana"]
    )
    added = {(d["kind"], d["metadata"]["name"]) for d in docs} - {
        (d["kind"], d["metadata"]["name"]) for d in kustomize(tmp_path, [])
    }
    assert added == {
        ("Service", "webscale-operator-metrics"),
        ("ServiceMonitor", "webscale-operator"),
        ("PodMonitor", "webscale-apps"),
        ("PrometheusRule", "webscale-operator"),
        ("ConfigMap", "webscale-operator-dashboard"),
    }
    for d in docs:
        if (d["kind"], d["metadata"]["name"]) in added:
            assert d["metadata"]["namespace"] == "webscale-system", d["kind"]
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["webscale-dashboard.json"])["uid"] == "webscale-operator"
