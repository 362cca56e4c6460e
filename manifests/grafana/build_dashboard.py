"""Writes the Grafana dashboard (webscale-dashboard.json here and the chart's copy) from the panels below.

    .venv/bin/python manifests/grafana/build_dashboard.py

tests/unit/test_grafana_dashboard.py fails when either file differs from what this writes, parses every
query with promtool, and tests/e2e/test_dashboard_queries.py runs them against a real Prometheus.

Per app: series from the app's pods and HAProxy pods (README "Prometheus label contract": `namespace`,
`app`, `pod`, `managed_by`) and the operator's per-app series (`webscale_app_*`: what each decision asked for,
read and why, and the time under capacity; labelled with the app's `namespace` and `app`): nothing else, so
the dashboard needs no kube-state-metrics. For the operator: its own /metrics (operator/webscale/telemetry.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUTS = (
    HERE / "webscale-dashboard.json",
    HERE.parent / "helm" / "webscale-operator" / "files" / "webscale-dashboard.json",
)
UID = "webscale-operator"
DS = {"type": "prometheus", "uid": "${datasource}"}
APP = 'managed_by="webscale", namespace=~"$namespace", app=~"$app"'
LB = f'{APP}, proxy="pods"'
OP = 'namespace=~"$namespace", app=~"$app"'
"""The operator's per-app series (webscale_app_*): `max by (namespace, app)` merges the two replicas'
scrapes across a leadership change (only the leader exports them)."""
STEADY = "WithinTolerance|ReplicasMatchLoad|AutoscalingOff"
"""Reasons of decisions that keep the count: not worth an annotation of their own."""
WINDOW = "$__rate_interval"

# (title, unit, [(expr, legend)], description); 4 panels per row, 6 units high
APP_PANELS: list[tuple[str, str, list[tuple[str, str]], str]] = [
    (
        "Offered load vs ready capacity",
        "reqps",
        [
            (f"sum by (namespace, app) (rate(http_requests_total{{{APP}}}[{WINDOW}]))", "{{app}} req/s at the pods"),
            (
                f"sum by (namespace, app) (rate(haproxy_backend_http_requests_total{{{LB}}}[{WINDOW}]))",
                "{{app}} req/s at HAProxy",
            ),
            (
                f"max by (namespace, app) (webscale_app_offered_requests_per_second{{{OP}}})",
                "{{app}} req/s the operator read",
            ),
            (
                f"max by (namespace, app) (webscale_app_capacity_requests_per_second{{{OP}}})",
                "{{app}} ready capacity",
            ),
        ],
        "Requests per second the app receives (at its pods, at HAProxy, and as the operator's last decision "
        "read it), against its ready capacity: ready pods x workers per pod x "
        "autoscaling.target.requestsPerSecondPerWorker. Load above capacity is time under capacity.",
    ),
    (
        "Load per ready worker",
        "reqps",
        [
            (
                f"sum by (namespace, app) (rate(http_requests_total{{{APP}}}[{WINDOW}]))"
                f" / sum by (namespace, app) (webscale_workers{{{APP}}})",
                "{{app}}",
            )
        ],
        "Compare with the app's autoscaling.target.requestsPerSecondPerWorker: above it, the app runs under capacity.",
    ),
    (
        "Replicas: desired, ready, scraped",
        "short",
        [
            (f"max by (namespace, app) (webscale_app_desired_replicas{{{OP}}})", "{{app}} desired (operator)"),
            (f"max by (namespace, app) (webscale_app_ready_replicas{{{OP}}})", "{{app}} ready (operator)"),
            (f"count by (namespace, app) (webscale_workers{{{APP}}})", "{{app}} pods reporting workers"),
        ],
        "Desired replicas as the operator's last decision asked (recommend mode: would ask) and the ready pods it "
        "counted; pods reporting workers from the app's own metrics.",
    ),
    (
        "Workers per pod",
        "short",
        [
            (f"max by (namespace, app, pod) (webscale_workers{{{APP}}})", "{{pod}} listening"),
            (f"max by (namespace, app, pod) (webscale_workers_desired{{{APP}}})", "{{pod}} desired"),
        ],
        "Cluster workers listening in each pod, and the count the operator asked for (webscale.dev/workers).",
    ),
    (
        "Decisions by reason",
        "short",
        [
            (
                f"sum by (namespace, app, reason) (increase(webscale_app_decisions_total{{{OP}}}[{WINDOW}]))",
                "{{app}} {{reason}}",
            ),
            (
                f"sum by (direction) (increase(webscale_scaling_actions_total[{WINDOW}]))",
                "all apps: scale {{direction}}",
            ),
        ],
        "The operator's decisions per app, by reason (the words of status.lastScale and the Events: "
        "kubectl describe swa has each one's numbers), and the replica changes written. A change of reason "
        "is also an annotation on every panel.",
    ),
    (
        "Time under capacity",
        "percentunit",
        [
            (
                f"max by (namespace, app) (rate(webscale_app_under_capacity_seconds_total{{{OP}}}[{WINDOW}]))",
                "{{app}} share of time under capacity",
            ),
        ],
        "The share of time the app ran under capacity: at each decision whose reading was above the ready "
        "capacity, the time since the previous decision (at most one pollingInterval) "
        "(webscale_app_under_capacity_seconds_total).",
    ),
    (
        "Symptoms of too little capacity: queued requests and p99 latency",
        "short",
        [
            (f"sum by (namespace, app) (haproxy_backend_current_queue{{{LB}}})", "{{app}} queued at HAProxy"),
            (
                "histogram_quantile(0.99, sum by (namespace, app, le) "
                f"(rate(http_request_duration_seconds_bucket{{{APP}}}[{WINDOW}])))",
                "{{app}} p99 latency (s)",
            ),
        ],
        "Requests waiting in HAProxy for a free slot (every pod at maxconn) and the pods' p99 latency: "
        "what running under capacity costs the app's users.",
    ),
    (
        "In flight",
        "short",
        [
            (f"sum by (namespace, app) (http_requests_in_flight{{{APP}}})", "{{app}} at the pods"),
            (f"sum by (namespace, app) (haproxy_backend_current_sessions{{{LB}}})", "{{app}} at HAProxy"),
        ],
        "Requests in progress (Little's law: rate x latency); autoscaling.target.inFlightPerWorker scales on it.",
    ),
    (
        "CPU",
        "short",
        [(f"sum by (namespace, app) (rate(process_cpu_seconds_total{{{APP}}}[{WINDOW}]))", "{{app}} cores")],
        "CPU cores used by the app's pods (every worker and the primary).",
    ),
]

OPERATOR_PANELS: list[tuple[str, str, list[tuple[str, str]], str]] = [
    (
        "Decision lag",
        "s",
        [
            (
                f"histogram_quantile({q}, sum by (le) (rate(webscale_decision_lag_seconds_bucket[{WINDOW}])))",
                f"p{int(q * 100)}",
            )
            for q in (0.5, 0.99)
        ],
        "From an app's due time (its polling grid point) to its decision being acted on.",
    ),
    (
        "Poll duration",
        "s",
        [
            (
                f"histogram_quantile({q}, sum by (le) (rate(webscale_poll_duration_seconds_bucket[{WINDOW}])))",
                f"p{int(q * 100)}",
            )
            for q in (0.5, 0.99)
        ],
        "One poll: the batched Prometheus queries and scheduling the apps' act steps.",
    ),
    (
        "API requests by verb and code",
        "reqps",
        [(f"sum by (verb, code) (rate(webscale_api_requests_total[{WINDOW}]))", "{{verb}} {{code}}")],
        "Kubernetes API requests the operator sends; a steady cluster costs ~0.",
    ),
    (
        "Work queue depth",
        "short",
        [("max by (pod) (webscale_queue_depth)", "{{pod}}")],
        "Apps waiting to be reconciled.",
    ),
    (
        "Leadership",
        "short",
        [("max by (pod) (webscale_leader)", "{{pod}}")],
        "1 while the replica holds the leader Lease; exactly one should.",
    ),
    (
        "Reconciles by outcome",
        "ops",
        [(f"sum by (outcome) (rate(webscale_reconciles_total[{WINDOW}]))", "{{outcome}}")],
        "Reconciles of one app: changed, unchanged, not-leader, error.",
    ),
    (
        "Prometheus queries by outcome",
        "ops",
        [
            (
                f"sum by (outcome) (rate(webscale_prometheus_query_duration_seconds_count[{WINDOW}]))",
                "{{outcome}}",
            )
        ],
        "The operator's batched metric queries; failed ones hold the apps they cover.",
    ),
    (
        "Apps",
        "short",
        [("max by (state) (webscale_apps)", "{{state}}")],
        "ScaledWebApps known to the operator, by validity.",
    ),
]


def panel(pid: int, x: int, y: int, spec: tuple[str, str, list[tuple[str, str]], str]) -> dict[str, Any]:
    title, unit, queries, description = spec
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"h": 8, "w": 6, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(queries)
        ],
    }


def row(pid: int, y: int, title: str) -> dict[str, Any]:
    return {"id": pid, "type": "row", "title": title, "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}}


def variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    for title, specs in (("Apps", APP_PANELS), ("Operator", OPERATOR_PANELS)):
        panels.append(row(len(panels) + 1, y, title))
        y += 1
        for i, spec in enumerate(specs):
            panels.append(panel(len(panels) + 1, (i % 4) * 6, y + (i // 4) * 8, spec))
        y += ((len(specs) + 3) // 4) * 8
    return {
        "uid": UID,
        "title": "webscale operator",
        "description": "Apps scaled by the webscale operator, and the operator itself.",
        "tags": ["webscale", "autoscaling"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                },
                variable("namespace", "Namespace", 'label_values(up{managed_by="webscale"}, namespace)'),
                variable("app", "App", 'label_values(up{managed_by="webscale", namespace=~"$namespace"}, app)'),
            ]
        },
        "annotations": {
            "list": [
                {
                    "name": "Decision reasons",
                    "datasource": DS,
                    "enable": True,
                    "iconColor": "purple",
                    # a reason the app's decisions gave in the last 30 s that was not the reason 30 s ago (the
                    # steady ones aside): every change of reason that lasted one scrape, at steps of 15 s
                    "expr": (
                        "max by (namespace, app, reason) (max_over_time(webscale_app_decision_reason"
                        f'{{{OP}, reason!~"{STEADY}"}}[30s])) '
                        f"unless max by (namespace, app, reason) (webscale_app_decision_reason{{{OP}}} offset 30s)"
                    ),
                    "titleFormat": "{{app}}: {{reason}}",
                    "textFormat": "kubectl describe swa -n {{namespace}} {{app}}: the decision's numbers",
                    "step": "15s",
                },
                {
                    "name": "Replica changes",
                    "datasource": DS,
                    "enable": True,
                    "iconColor": "orange",
                    "expr": f"changes(webscale_app_desired_replicas{{{OP}}}[2m]) > 0",
                    "titleFormat": "{{app}} rescaled",
                    "step": "1m",
                },
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def main() -> None:
    text = render()
    for path in OUTPUTS:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
