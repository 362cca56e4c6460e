"""The operator's own metrics (served on /metrics by `runtime.http`), so anyone can see it fall behind.

Defined in one registry at the bottom layer: `kube` counts API requests, `metrics` counts Prometheus
queries, `runtime` counts polls, lag, actions, the queue and leadership. Their labels are bounded sets
(verbs, codes, outcomes). The `webscale_app_*` series below are the one exception, on purpose: one series
set per live app (`namespace`, `app` and a closed set of decision reasons — never other text from a spec),
removed with the app (`autoscaling.app_metrics`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60)
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

APPS = Gauge("webscale_apps", "ScaledWebApps known to the operator, by validity", ["state"], registry=REGISTRY)
POLLS = Counter("webscale_polls_total", "Scaling loop ticks that polled at least one app", registry=REGISTRY)
POLL_APPS = Counter("webscale_poll_apps_total", "Apps measured and decided by the scaling loop", registry=REGISTRY)
POLL_DURATION = Histogram(
    "webscale_poll_duration_seconds",
    "Time of one poll: the batched metrics query and scheduling the apps' act steps",
    buckets=_DURATION_BUCKETS,
    registry=REGISTRY,
)
DECISION_LAG = Histogram(
    "webscale_decision_lag_seconds",
    "From an app's due time (its polling grid point) to its decision being acted on, by how the app was "
    "measured: batched (the shared queries), template (its own spec.metrics.requestRate), none (autoscaling off)",
    ["measured"],
    buckets=_LAG_BUCKETS,
    registry=REGISTRY,
)
SCALING_ACTIONS = Counter(
    "webscale_scaling_actions_total", "Replica changes written, by direction", ["direction"], registry=REGISTRY
)
WORKER_RESIZES = Counter("webscale_worker_resizes_total", "Pods whose worker count was changed live", registry=REGISTRY)
RECONCILES = Counter("webscale_reconciles_total", "Reconciles of one app, by outcome", ["outcome"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("webscale_queue_depth", "Apps waiting to be reconciled", registry=REGISTRY)
API_REQUESTS = Counter(
    "webscale_api_requests_total", "Kubernetes API requests, by verb and HTTP code", ["verb", "code"], registry=REGISTRY
)
API_RETRIES = Counter(
    "webscale_api_retries_total", "Kubernetes API requests retried (429, 5xx, connection errors)", registry=REGISTRY
)
WATCH_EVENTS = Counter(
    "webscale_watch_events_total", "Watch events received, by resource", ["resource"], registry=REGISTRY
)
WATCH_RELISTS = Counter(
    "webscale_watch_relists_total",
    "Full relists of a watched resource (start, 410 Gone, errors)",
    ["resource"],
    registry=REGISTRY,
)
PROMETHEUS_QUERIES = Histogram(
    "webscale_prometheus_query_duration_seconds",
    "Prometheus queries, by outcome",
    ["outcome"],
    buckets=_DURATION_BUCKETS,
    registry=REGISTRY,
)
LEADER = Gauge("webscale_leader", "1 while this replica holds the leader Lease", registry=REGISTRY)
LAST_TICK = Gauge(
    "webscale_scaling_loop_last_tick_timestamp_seconds",
    "When the scaling loop last completed a tick",
    registry=REGISTRY,
)

# Per app: one series set per app the scaling loop decides for (labels `namespace` and `app`, the
# ScaledWebApp's own names, and for decisions `reason`, a closed set), set by `autoscaling.app_metrics`
# and removed when the app is forgotten (deleted) or this replica stops leading. The Prometheus scrape
# must keep the exported `namespace` (honorLabels: true, as for kube-state-metrics).
APP_LABELS = ("namespace", "app")
APP_DESIRED = Gauge(
    "webscale_app_desired_replicas",
    "Replicas the app's last decision asked for (recommend mode: what it would ask for)",
    APP_LABELS,
    registry=REGISTRY,
)
APP_READY = Gauge(
    "webscale_app_ready_replicas",
    "Ready pods of the app's Deployment when its last decision was made (the pods that carry load)",
    APP_LABELS,
    registry=REGISTRY,
)
APP_CAPACITY = Gauge(
    "webscale_app_capacity_requests_per_second",
    "Ready capacity at the app's last decision: ready pods x workers per pod x "
    "autoscaling.target.requestsPerSecondPerWorker",
    APP_LABELS,
    registry=REGISTRY,
)
APP_OFFERED = Gauge(
    "webscale_app_offered_requests_per_second",
    "Request rate the app's last decision read (over the metrics rate window); absent while its metrics "
    "are unavailable or autoscaling is off",
    APP_LABELS,
    registry=REGISTRY,
)
APP_DECISIONS = Counter(
    "webscale_app_decisions_total",
    "Scaling decisions made for the app, by reason (the reason of status.lastScale and of the Events: "
    "RequestRateAboveTarget, WithinTolerance, BurstMode, ScaledToZero, Waking, ...)",
    (*APP_LABELS, "reason"),
    registry=REGISTRY,
)
APP_REASON = Gauge(
    "webscale_app_decision_reason",
    "1 for the reason of the app's last decision (one series per app: the previous reason's goes), so a "
    "change of reason shows as a new series (the dashboard's annotation)",
    (*APP_LABELS, "reason"),
    registry=REGISTRY,
)
APP_UNDER_CAPACITY = Counter(
    "webscale_app_under_capacity_seconds",
    "Seconds the app ran under capacity: at each decision whose reading is above the ready capacity "
    "(webscale_app_offered_requests_per_second > webscale_app_capacity_requests_per_second), the time since "
    "the app's previous decision, at most one polling interval",
    APP_LABELS,
    registry=REGISTRY,
)
