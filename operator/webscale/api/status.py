"""The ScaledWebApp status written by the operator (part of the generated CRD schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from webscale.api.models import Model


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
    conditions: list[Condition] = Field(default_factory=list)
