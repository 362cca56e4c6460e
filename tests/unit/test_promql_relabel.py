"""The scrape configuration: its relabelling yields the label contract (pure)."""

from __future__ import annotations

import re

import pytest

from webscale.promql import relabel as promql_relabel


def apply_relabel(labels: dict[str, str], configs: list[dict]) -> dict[str, str] | None:
    """Prometheus relabelling (keep/drop/replace) as documented, for checking the rules' effect."""
    labels = dict(labels)
    for cfg in configs:
        value = cfg.get("separator", ";").join(labels.get(name, "") for name in cfg.get("source_labels", []))
        match = re.fullmatch(cfg.get("regex", "(.*)"), value)
        action = cfg.get("action", "replace")
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            result = re.sub(r"\$(\d+)", lambda g, m=match: m.group(int(g.group(1))) or "", cfg.get("replacement", "$1"))
            if result:
                labels[cfg["target_label"]] = result
            else:
                labels.pop(cfg["target_label"], None)
    return {k: v for k, v in labels.items() if not k.startswith("__meta_")}


POD = {
    "__address__": "10.1.2.3:3000",
    "__metrics_path__": "/metrics",
    "__meta_kubernetes_namespace": "shop-ns",
    "__meta_kubernetes_pod_name": "web-7d9f8b6c5d-x2k9p",
    "__meta_kubernetes_pod_ip": "10.1.2.3",
    "__meta_kubernetes_pod_phase": "Running",
    "__meta_kubernetes_pod_label_app_kubernetes_io_instance": "web",
    "__meta_kubernetes_pod_label_app_kubernetes_io_managed_by": "webscale",
    "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
    "__meta_kubernetes_pod_annotation_prometheus_io_port": "9100",
    "__meta_kubernetes_pod_annotation_prometheus_io_path": "/custom-metrics",
}


def test_relabel_configs_produce_the_label_contract():
    assert apply_relabel(POD, promql_relabel.relabel_configs()) == {
        "__address__": "10.1.2.3:9100",
        "__metrics_path__": "/custom-metrics",
        "namespace": "shop-ns",
        "app": "web",
        "pod": "web-7d9f8b6c5d-x2k9p",
        "managed_by": "webscale",
    }


def test_relabel_defaults_and_ipv6():
    pod = {k: v for k, v in POD.items() if "prometheus_io_path" not in k and "prometheus_io_port" not in k}
    out = apply_relabel(pod, promql_relabel.relabel_configs())
    assert out is not None
    assert (out["__address__"], out["__metrics_path__"]) == ("10.1.2.3:3000", "/metrics")
    v6 = dict(POD, __address__="[fd00::5]:3000", __meta_kubernetes_pod_ip="fd00::5")
    assert apply_relabel(v6, promql_relabel.relabel_configs())["__address__"] == "[fd00::5]:9100"


@pytest.mark.parametrize(
    "change",
    [
        {"__meta_kubernetes_pod_label_app_kubernetes_io_managed_by": "helm"},
        {"__meta_kubernetes_pod_annotation_prometheus_io_scrape": "false"},
        {"__meta_kubernetes_pod_phase": "Pending"},
        {"__meta_kubernetes_pod_phase": "Succeeded"},
    ],
)
def test_relabel_drops_other_pods(change):
    assert apply_relabel(dict(POD, **change), promql_relabel.relabel_configs()) is None


def test_scrape_config():
    config = promql_relabel.scrape_config(namespaces=["a", "b"])
    assert config["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": ["a", "b"]}}]
    assert config["honor_labels"] is False
    assert config["relabel_configs"] == promql_relabel.relabel_configs()
