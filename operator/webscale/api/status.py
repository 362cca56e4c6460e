"""The ScaledWebApp status written by the operator (part of the generated CRD schema)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from webscale.api.model_base import Model


class Condition(Model):
    """A standard Kubernetes condition."""

    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


class Observed(Model):
    """The last metrics read."""

    requests_per_second: float | None = None
    cpu_utilization: float | None = None
    at: str | None = None


class LastScale(Model):
    """The last replica change and why it happened."""

    at: str
    from_: int = Field(alias="from")
    to: int
    reason: str
    message: str


class LoadBalancerStatus(Model):
    """The load-balancer tier as it runs."""

    provider: str | None = None
    strategy: str | None = None
    address: str | None = None
    """Where clients reach the app: the LoadBalancer Service's ingress IP or hostname, else its ClusterIP."""
    replicas: int | None = None
    """HAProxy pods (provider haproxy)."""
    ready_replicas: int | None = None
    """HAProxy pods ready (provider haproxy)."""


class Memory(Model):
    """What the scaling decision must remember across operator restarts (written only when it changes)."""

    last_good: int | None = None
    """Replicas decided from the last good metrics reading (what a hold fallback keeps)."""
    burst_until: str | None = None
    """Burst mode blocks scale-down until this time."""


class ScaledWebAppStatus(Model):
    """Observed state, written by the operator."""

    observed_generation: int | None = None
    replicas: int | None = None
    ready_replicas: int | None = None
    selector: str | None = None
    """Label selector of the pods (for the scale subresource)."""
    workers_per_pod: int | None = None
    capacity_requests_per_second: float | None = None
    observed: Observed | None = None
    desired_replicas: int | None = None
    last_scale: LastScale | None = None
    load_balancer: LoadBalancerStatus | None = None
    """The load-balancer tier: address, HAProxy pods (condition LoadBalancerReady says whether it serves)."""
    memory: Memory | None = None
    """What the scaling decision remembers across operator restarts."""
    conditions: list[Condition] = Field(default_factory=list)


# ---- who writes what --------------------------------------------------------------------------
# Status is written by server-side apply with one field manager per writer; a writer always sends
# its whole part (a field it leaves out is deleted), and never a field of the other's.

RECONCILER_FIELDS = ("observedGeneration", "replicas", "readyReplicas", "selector", "workersPerPod", "loadBalancer")
RECONCILER_CONDITIONS = ("Invalid", "Ready", "LoadBalancerReady")
SCALER_FIELDS = ("desiredReplicas", "capacityRequestsPerSecond", "observed", "lastScale", "memory")
SCALER_CONDITIONS = ("MetricsAvailable", "ScalingActive", "ScalingLimited")


def iso(ts: float) -> str:
    """A Unix time as the API's timestamp format (seconds, UTC)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    return iso(time.time())


def parse_iso(value: str | None) -> float | None:
    """The API's timestamp as a Unix time; None when absent or not a timestamp."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
