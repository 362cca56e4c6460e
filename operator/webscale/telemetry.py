"""The operator's own metrics (served on /metrics by `runtime.http`), so anyone can see it fall behind.

Defined in one registry at the bottom layer: `kube` counts API requests, `metrics` counts Prometheus
queries, `runtime` counts polls, lag, actions, the queue and leadership. Labels are bounded sets (verbs,
codes, outcomes) — never app names, so the series count does not grow with the number of apps.
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
    "From an app's due time (its polling grid point) to its decision being acted on",
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
