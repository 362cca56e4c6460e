"""The ScaledWebApp resource: pydantic models of spec and status.

These models are the one source of truth for the schema: `webscale crd`
generates the CRD from them (see crd.py). Attribute docstrings become the
field descriptions users see in `kubectl explain swa.spec`.

Rules the API server can check (types, bounds, enums, cross-field rules in
CEL) live in the schema; rules it cannot (see `semantic_errors`) are checked
by the operator, which then marks the resource Invalid and changes nothing.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from webscale.api.autoscaling_spec import Autoscaling
from webscale.api.bounds import (
    ENV_MAX_ITEMS,
    ENV_VALUE_MAX_LENGTH,
    ENV_VAR_SOURCE_SCHEMA,
    NAME_MAX_LENGTH,
    QUANTITY_PATTERN,
    URL_MAX_LENGTH,
)
from webscale.api.durations import DURATION_PATTERN
from webscale.api.model_base import Model, Quantity, as_quantity

GROUP = "webscale.dev"
VERSION = "v1alpha1"
KIND = "ScaledWebApp"
PLURAL = "scaledwebapps"
SINGULAR = "scaledwebapp"
SHORT_NAMES = ["swa"]


class EnvVar(Model):
    """One environment variable passed through to the app container."""

    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
    """Variable name."""
    value: str | None = Field(default=None, max_length=ENV_VALUE_MAX_LENGTH)
    """Literal value, at most 4096 characters (a larger one belongs in a ConfigMap or Secret: valueFrom)."""
    value_from: dict[str, Any] | None = Field(default=None, json_schema_extra=ENV_VAR_SOURCE_SCHEMA)
    """A Kubernetes EnvVarSource: exactly one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef."""


class Limits(Model):
    """Per-pod resource limits."""

    cpu: Quantity | None = None
    """CPU limit (e.g. "2", "1500m"). When set, workers follow it rather than the request."""
    memory: Quantity | None = None
    """Memory limit (e.g. 1Gi)."""

    _cpu = field_validator("cpu", "memory", mode="before")(as_quantity)


class Resources(Model):
    """Per-pod resources. The CPU decides how many cluster workers each pod runs."""

    cpu: Quantity | None = "1"
    """CPU request per pod (e.g. "2", "500m"; at least 1m). CPU utilisation is measured against it, or
    against limits.cpu when it is null (Kubernetes then requests the limit); with neither, an app that
    scales on CPU (autoscaling.target.cpuUtilization set) is marked Invalid."""
    memory: Quantity | None = "256Mi"
    """Memory request per pod."""
    limits: Limits = Field(default_factory=Limits)
    """Optional limits; a CPU limit takes precedence over the request for sizing workers."""

    _cpu = field_validator("cpu", "memory", mode="before")(as_quantity)


WORKERS_COUNT_UNREAD = (
    "workers.count is read only when workers.mode is fixed (mode auto sizes workers from the pod's CPU)"
)
RATE_SOURCE_UNREAD = (
    "metrics.requestRateSource loadbalancer is not read when metrics.requestRate is set (the template is the "
    "request rate): remove one"
)


class Workers(Model):
    """Cluster-mode worker processes per pod (passed to the app as WEB_CONCURRENCY)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "self.min <= self.max", "message": "workers.min must be <= workers.max"},
                {
                    "rule": "self.mode != 'fixed' || has(self.count)",
                    "message": "workers.count is required when workers.mode is fixed",
                },
                {
                    "rule": "!has(self.count) || (self.count >= self.min && self.count <= self.max)",
                    "message": "workers.count must lie within workers.min..workers.max",
                },
                {"rule": "self.mode == 'fixed' || !has(self.count)", "message": WORKERS_COUNT_UNREAD},
            ]
        }
    )

    mode: Literal["auto", "fixed"] = "auto"
    """auto: one worker per whole CPU core of the pod (limit, else request), at least 1; fixed: count."""
    count: int | None = Field(default=None, ge=1, le=256)
    """Workers per pod when mode is fixed (and only then: with mode auto it is refused)."""
    min: int = Field(default=1, ge=1, le=256)
    """Fewest workers per pod."""
    max: int = Field(default=16, ge=1, le=256)
    """Most workers per pod."""
    live: bool = True
    """Change workers in running pods (via a pod annotation) without a restart."""


class Replicas(Model):
    """Bounds for the number of pods."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "self.min <= self.max", "message": "replicas.min must be <= replicas.max"},
                {
                    "rule": "!has(self.count) || (self.count >= self.min && self.count <= self.max)",
                    "message": "replicas.count must lie within replicas.min..replicas.max",
                },
            ]
        }
    )

    min: int = Field(default=2, ge=0, le=1000)
    """Fewest pods; autoscaling never goes below it. 0 only with autoscaling.scaleToZero (and
    loadBalancer.provider haproxy): the app then goes to no pods after scaleToZero.idleAfter without
    a request, and the load balancer holds the first requests while a pod starts."""
    max: int = Field(default=20, ge=1, le=1000)
    """Most pods; autoscaling never goes above it."""
    count: int | None = Field(default=None, ge=1, le=1000)
    """Pods when autoscaling is off, and the starting count on create (default: min).
    `kubectl scale swa` writes this field."""


class Prometheus(Model):
    """Where to read metrics."""

    url: str = Field(
        default="http://prometheus.monitoring:9090", max_length=URL_MAX_LENGTH, pattern=r"^https?://[^\s]+$"
    )
    """Base URL of the Prometheus HTTP API."""


class Metrics(Model):
    """Metric sources."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.requestRate) || !has(self.requestRateSource) || "
                    "self.requestRateSource != 'loadbalancer'",
                    "message": RATE_SOURCE_UNREAD,
                }
            ]
        }
    )

    prometheus: Prometheus = Field(default_factory=Prometheus)
    """Prometheus server."""
    request_rate: str | None = Field(default=None, max_length=4096)
    """Optional PromQL for this app's request rate, e.g. sum(rate(x{namespace={namespace},app={app}}[{window}])).
    Placeholders go bare, never quoted: {namespace}/{app} as = or != matcher values, {window} as a range or offset."""
    cpu_source: Literal["app", "cadvisor"] = "app"
    """app: the app's process_cpu_seconds_total; cadvisor: container_cpu_usage_seconds_total."""
    request_rate_source: Literal["app", "loadbalancer"] = "app"
    """app: the app's http_requests_total; loadbalancer: the requests HAProxy sent to the app's pods
    (haproxy_backend_http_requests_total from the HAProxy pods' exporter; needs loadBalancer.provider haproxy).
    loadbalancer cannot be combined with requestRate (the template is then the request rate)."""


ANNOTATION_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
"""A Kubernetes annotation key: an optional DNS-subdomain prefix and '/', then a name of up to 63 characters."""


class LoadBalancerService(Model):
    """The Service clients reach the app through."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.annotations) || self.annotations.all(k, k.matches(r'"
                    + ANNOTATION_KEY_PATTERN
                    + "') && size(k) <= 317)",
                    "message": "loadBalancer.service.annotations keys must be Kubernetes annotation keys "
                    "([prefix/]name, name up to 63 letters, digits, '-', '_' or '.')",
                }
            ]
        }
    )

    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    """ClusterIP: inside the cluster only; NodePort: also on every node's port; LoadBalancer: a cloud load
    balancer in front (its settings go in annotations). With strategy ip-hash, NodePort and LoadBalancer
    get externalTrafficPolicy Local, which keeps the client's address to hash on: a node's port then
    answers only on the nodes running one of the app's entry pods (HAProxy pods, or the app's own with
    provider service)."""
    annotations: dict[str, Annotated[str, Field(max_length=4096)]] = Field(default_factory=dict, max_length=64)
    """Annotations put on the Service as they are, e.g. the ones a cloud load balancer reads
    (service.beta.kubernetes.io/aws-load-balancer-type: nlb)."""

    @field_validator("annotations")
    @classmethod
    def _annotation_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            prefix, _, name = key.rpartition("/")
            if not re.match(ANNOTATION_KEY_PATTERN, key) or len(prefix) > 253:
                raise ValueError(f"annotation key {key!r} is not a Kubernetes annotation key ([prefix/]name)")
            if len(name) > 63:
                raise ValueError(f"annotation key {key!r}: the name after '/' is longer than 63 characters")
        return value


class LoadBalancer(Model):
    """The load-balancer tier in front of the pods."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!(self.provider == 'service' && self.strategy == 'least-connections')",
                    "message": "loadBalancer.strategy least-connections needs provider haproxy "
                    "(kube-proxy Services cannot balance by connections)",
                }
            ]
        }
    )

    strategy: Literal["round-robin", "least-connections", "ip-hash"] = "round-robin"
    """How requests are spread over pods. With provider service it is what kube-proxy does: round-robin
    is kube-proxy's choice (random in its iptables and nftables modes, round-robin in IPVS), ip-hash is
    sessionAffinity ClientIP, least-connections is refused."""
    provider: Literal["haproxy", "service"] = "haproxy"
    """haproxy: an operator-managed HAProxy tier; service: the Kubernetes Service (kube-proxy)."""
    replicas: int = Field(default=2, ge=1, le=10)
    """HAProxy pods (provider haproxy). Two or more get a PodDisruptionBudget and are spread over nodes."""
    service: LoadBalancerService = Field(default_factory=LoadBalancerService)
    """The app's entry Service (named after the app): in front of HAProxy, or of the pods with provider service."""


class State(Model):
    """Where shared state lives, so replicas stay interchangeable."""

    redis_url: str | None = Field(default=None, max_length=URL_MAX_LENGTH, pattern=r"^rediss?://\S+$", alias="redisURL")
    """Injected into the app as REDIS_URL."""


class ScaledWebAppSpec(Model):
    """Desired state of a web app: image, workers per pod, replicas, autoscaling, load balancing."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.autoscaling) || !has(self.autoscaling.fallback) || "
                    "!has(self.autoscaling.fallback.replicas) || !has(self.replicas) || "
                    "(self.autoscaling.fallback.replicas >= self.replicas.min && "
                    "self.autoscaling.fallback.replicas <= self.replicas.max)",
                    "message": "autoscaling.fallback.replicas must lie within replicas.min..replicas.max",
                },
                {
                    "rule": "!has(self.metrics) || !has(self.metrics.requestRateSource) || "
                    "self.metrics.requestRateSource != 'loadbalancer' || !has(self.loadBalancer) || "
                    "!has(self.loadBalancer.provider) || self.loadBalancer.provider == 'haproxy'",
                    "message": "metrics.requestRateSource loadbalancer needs loadBalancer.provider haproxy",
                },
                {
                    "rule": "!has(self.autoscaling) || !has(self.autoscaling.target) || "
                    "!has(self.autoscaling.target.inFlightPerWorker) || (has(self.metrics) && "
                    "has(self.metrics.requestRateSource) && self.metrics.requestRateSource == 'loadbalancer' && "
                    "!has(self.metrics.requestRate))",
                    "message": "autoscaling.target.inFlightPerWorker needs metrics.requestRateSource loadbalancer "
                    "and no metrics.requestRate (the in-flight count is read at the load balancer)",
                },
                {
                    "rule": "!has(self.autoscaling) || !has(self.autoscaling.seasonal) || "
                    "!has(self.autoscaling.seasonal.offset) || duration(self.autoscaling.seasonal.offset) == "
                    "duration('0s') || !has(self.metrics) || !has(self.metrics.requestRate)",
                    "message": "autoscaling.seasonal.offset needs no metrics.requestRate (the prior reads the "
                    "request-rate series the operator queries itself)",
                },
                {
                    "rule": "!has(self.replicas) || !has(self.replicas.min) || self.replicas.min >= 1 || "
                    "(has(self.autoscaling) && has(self.autoscaling.scaleToZero))",
                    "message": "replicas.min 0 needs an autoscaling.scaleToZero section (idleAfter, "
                    "holdRequestsFor): without it an app keeps at least one pod",
                },
                {
                    "rule": "!has(self.autoscaling) || !has(self.autoscaling.scaleToZero) || "
                    "!has(self.loadBalancer) || !has(self.loadBalancer.provider) || "
                    "self.loadBalancer.provider == 'haproxy'",
                    "message": "autoscaling.scaleToZero needs loadBalancer.provider haproxy: at zero the HAProxy "
                    "tier holds requests until a pod is ready, a kube-proxy Service would refuse them",
                },
            ]
        }
    )

    image: str = Field(min_length=1, max_length=512, pattern=r"^\S+$")
    """Container image of the app."""
    port: int = Field(default=3000, ge=1, le=65535)
    """Port the app listens on."""
    env: list[EnvVar] = Field(default_factory=list, max_length=ENV_MAX_ITEMS)
    """Environment variables passed through to the container."""
    resources: Resources = Field(default_factory=Resources)
    """Per-pod CPU and memory; the CPU decides workers per pod."""
    workers: Workers = Field(default_factory=Workers)
    """Cluster workers per pod."""
    replicas: Replicas = Field(default_factory=Replicas)
    """Replica bounds."""
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    """Horizontal scaling."""
    metrics: Metrics = Field(default_factory=Metrics)
    """Metric sources."""
    load_balancer: LoadBalancer = Field(default_factory=LoadBalancer)
    """Load-balancer tier."""
    state: State = Field(default_factory=State)
    """Shared state."""
    service_account_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    )
    """ServiceAccount the app's pods run as, with its API token mounted.
    Unset: the namespace's default account, and no API token in the pods."""


def parse_spec(spec: dict[str, Any]) -> ScaledWebAppSpec:
    """Parse and default a spec dict (raises pydantic.ValidationError with field paths)."""
    return ScaledWebAppSpec.model_validate(spec)


def format_validation_error(exc: Exception) -> str:
    """One line per problem, in the resource's words: `spec.env[0].name: ...`, `spec.x: unknown field`,
    a duration or a quantity described, not its regular expression."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for err in errors():
        loc = "spec" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        parts.append(f"{loc}: {_plain(err)}")
    return "; ".join(parts)


_PATTERN_WORDS = {
    DURATION_PATTERN: "must be a duration: a whole number and ms, s, m or h (15s, 5m, 1h)",
    QUANTITY_PATTERN: "must be a Kubernetes quantity such as 500m, 2, 1.5 or 256Mi",
    r"^[-._a-zA-Z][-._a-zA-Z0-9]*$": "must be a variable name: letters, digits, '-', '.' and '_', not starting "
    "with a digit",
    r"^https?://[^\s]+$": "must be an http:// or https:// URL without spaces",
    r"^rediss?://\S+$": "must be a redis:// or rediss:// URL without spaces",
    r"^\S+$": "must have no spaces",
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$": "must be a lowercase DNS name: "
    "letters, digits, '-' and '.', starting and ending with a letter or digit",
}
"""What each pattern of the models means, for a message without the regular expression."""


def _plain(err: Any) -> str:
    """A pydantic error's message without its internals (the pattern, the class name, "Value error")."""
    kind, message = err.get("type"), str(err.get("msg", ""))
    if kind == "string_pattern_mismatch":
        pattern = str((err.get("ctx") or {}).get("pattern"))
        return (
            f"{_PATTERN_WORDS.get(pattern, f'does not have the expected form ({pattern})')}, got {err.get('input')!r}"
        )
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in ("model_type", "dict_type"):
        return "must be an object (a mapping of fields)"
    return message.removeprefix("Value error, ")
