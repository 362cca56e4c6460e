"""The Prometheus scrape configuration that produces webscale's label contract (`webscale.promql.queries`).

Pods are scraped when labelled ``app.kubernetes.io/managed-by=webscale`` and
annotated ``prometheus.io/scrape: "true"``, on the port in ``prometheus.io/port``
(without it: each declared container port, so annotate pods that declare
several) and the path in ``prometheus.io/path`` (default ``/metrics``).
`relabel_configs` sets ``namespace``, ``app`` (from the pod label
``app.kubernetes.io/instance``), ``pod`` and ``managed_by``; `scrape_config` wraps
it in a kubernetes_sd job. The job keeps ``honor_labels: false`` (the default),
so a label of the same name exposed by the app cannot override these
(Prometheus renames the app's one to ``exported_app``).
"""

from __future__ import annotations

from typing import Any

from webscale.promql.queries import MANAGED_BY


def relabel_configs() -> list[dict[str, Any]]:
    """`relabel_configs` for a kubernetes_sd (role: pod) scrape job that honours the label contract.

    Keeps running pods labelled app.kubernetes.io/managed-by=webscale and
    annotated prometheus.io/scrape: "true"; scrapes prometheus.io/port (else
    the declared container port) and prometheus.io/path (else /metrics); sets
    namespace, app, pod and managed_by from the pod's metadata.
    """
    meta = "__meta_kubernetes_pod_"
    managed_by = f"{meta}label_app_kubernetes_io_managed_by"
    return [
        {"source_labels": [managed_by], "regex": MANAGED_BY, "action": "keep"},
        {"source_labels": [f"{meta}annotation_prometheus_io_scrape"], "regex": "true", "action": "keep"},
        {"source_labels": [f"{meta}phase"], "regex": "Pending|Succeeded|Failed", "action": "drop"},
        {
            "source_labels": [f"{meta}annotation_prometheus_io_path"],
            "regex": "(.+)",
            "target_label": "__metrics_path__",
            "replacement": "$1",
            "action": "replace",
        },
        {  # IPv4 pod IP + annotated port
            "source_labels": [f"{meta}ip", f"{meta}annotation_prometheus_io_port"],
            "regex": r"(\d+\.\d+\.\d+\.\d+);(\d+)",
            "target_label": "__address__",
            "replacement": "$1:$2",
            "action": "replace",
        },
        {  # IPv6 pod IP + annotated port
            "source_labels": [f"{meta}ip", f"{meta}annotation_prometheus_io_port"],
            "regex": r"([0-9a-fA-F]*:[0-9a-fA-F:.]*);(\d+)",
            "target_label": "__address__",
            "replacement": "[$1]:$2",
            "action": "replace",
        },
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace", "action": "replace"},
        {
            "source_labels": [f"{meta}label_app_kubernetes_io_instance"],
            "target_label": "app",
            "action": "replace",
        },
        {"source_labels": [f"{meta}name"], "target_label": "pod", "action": "replace"},
        {"source_labels": [managed_by], "target_label": "managed_by", "action": "replace"},
    ]


def scrape_config(job_name: str = "webscale-pods", namespaces: list[str] | None = None) -> dict[str, Any]:
    """A complete scrape_configs entry for webscale pods (all namespaces unless given)."""
    sd: dict[str, Any] = {"role": "pod"}
    if namespaces:
        sd["namespaces"] = {"names": list(namespaces)}
    return {
        "job_name": job_name,
        "honor_labels": False,
        "kubernetes_sd_configs": [sd],
        "relabel_configs": relabel_configs(),
    }
