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
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, field_validator
from pydantic.alias_generators import to_camel

from webscale.api.bounds import (
    DURATION_MAX_LENGTH,
    ENV_MAX_ITEMS,
    ENV_VALUE_MAX_LENGTH,
    ENV_VAR_SOURCE_SCHEMA,
    NAME_MAX_LENGTH,
    QUANTITY_MAX_LENGTH,
    QUANTITY_PATTERN,
    URL_MAX_LENGTH,
)

GROUP = "webscale.dev"
VERSION = "v1alpha1"
KIND = "ScaledWebApp"
PLURAL = "scaledwebapps"
SINGULAR = "scaledwebapp"
SHORT_NAMES = ["swa"]

_DURATION_RE = re.compile(r"^(\d+)(ms|s|m|h)$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_PATTERN = _DURATION_RE.pattern

Duration = Annotated[
    str,
    Field(pattern=DURATION_PATTERN, max_length=DURATION_MAX_LENGTH, json_schema_extra={"x-webscale-duration": True}),
]
"""A duration such as "500ms", "15s", "5m" or "1h"."""


def duration_at_least(minimum: str, field: str) -> tuple[Any, ...]:
    """A Duration of at least `minimum`, checked by the API server (CEL) and by the model
    (the metadata of an `Annotated[str, ...]`)."""

    def check(value: str) -> str:
        if seconds(value) < seconds(minimum):
            raise ValueError(f"{field} must be at least {minimum}, got {value}")
        return value

    rule = {"rule": f"duration(self) >= duration('{minimum}')", "message": f"{field} must be at least {minimum}"}
    return _checked_duration(rule, check)


def _checked_duration(rule: dict[str, str], check: Callable[[str], str]) -> tuple[Any, ...]:
    """A Duration string's metadata: a CEL rule for the API server and the same check in the model."""
    rules: list[JsonValue] = [dict(rule)]
    return (
        Field(
            pattern=DURATION_PATTERN,
            max_length=DURATION_MAX_LENGTH,
            json_schema_extra={"x-webscale-duration": True, "x-kubernetes-validations": rules},
        ),
        AfterValidator(check),
    )


MIN_POLLING_INTERVAL = "5s"
"""The shortest autoscaling.pollingInterval: a tenant cannot make the operator poll its Prometheus faster."""
MIN_PERIOD = "1s"
"""The shortest period a scaling rate limit applies to."""


def duration_within(minimum: str, maximum: str, field: str, off: bool = False) -> tuple[Any, ...]:
    """A Duration within minimum..maximum (or 0s, when `off` allows it), checked by the API server (CEL)
    and by the model (the metadata of an `Annotated[str, ...]`)."""
    what = f"{'0s or ' if off else ''}between {minimum} and {maximum}"

    def check(value: str) -> str:
        if not (off and seconds(value) == 0) and not seconds(minimum) <= seconds(value) <= seconds(maximum):
            raise ValueError(f"{field} must be {what}, got {value}")
        return value

    within = f"duration(self) >= duration('{minimum}') && duration(self) <= duration('{maximum}')"
    rule = {
        "rule": f"duration(self) == duration('0s') || ({within})" if off else within,
        "message": f"{field} must be {what}",
    }
    return _checked_duration(rule, check)


PollingInterval = Annotated[str, *duration_at_least(MIN_POLLING_INTERVAL, "autoscaling.pollingInterval")]
ScaleUpPeriod = Annotated[str, *duration_at_least(MIN_PERIOD, "autoscaling.behavior.scaleUp.period")]
ScaleDownPeriod = Annotated[str, *duration_at_least(MIN_PERIOD, "autoscaling.behavior.scaleDown.period")]
SeasonalOffset = Annotated[str, *duration_within("1h", "168h", "autoscaling.seasonal.offset", off=True)]
SeasonalLookahead = Annotated[str, *duration_within("15s", "1h", "autoscaling.seasonal.lookahead")]
SeasonalLevelWindow = Annotated[str, *duration_within("1m", "24h", "autoscaling.seasonal.levelWindow")]
IdleAfter = Annotated[str, *duration_within("30s", "168h", "autoscaling.scaleToZero.idleAfter")]
HoldRequestsFor = Annotated[str, *duration_within("1s", "5m", "autoscaling.scaleToZero.holdRequestsFor")]
FastWindow = Annotated[str, *duration_within("2s", "1m", "autoscaling.burst.fastSignal.window")]


def seconds(duration: str) -> float:
    """Seconds in a Duration string ("15s" -> 15.0)."""
    match = _DURATION_RE.match(duration)
    if not match:
        raise ValueError(f"not a duration: {duration!r} (use a number and a unit: 500ms, 15s, 5m, 1h)")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _quantity(value: Any) -> Any:
    """Accept a bare number (cpu: 2) as Kubernetes does and keep it as a string."""
    if isinstance(value, bool):
        raise ValueError("a quantity must be a number or a string such as 500m or 512Mi")
    if isinstance(value, int | float):
        return str(value)
    return value


Quantity = Annotated[
    str,
    Field(pattern=QUANTITY_PATTERN, max_length=QUANTITY_MAX_LENGTH, json_schema_extra={"x-webscale-quantity": True}),
]


class Model(BaseModel):
    """Base: camelCase on the wire, unknown fields rejected, docstrings as descriptions."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
        frozen=True,
    )


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

    _cpu = field_validator("cpu", "memory", mode="before")(_quantity)


class Resources(Model):
    """Per-pod resources. The CPU decides how many cluster workers each pod runs."""

    cpu: Quantity | None = "1"
    """CPU request per pod (e.g. "2", "500m"). CPU utilisation is measured against it."""
    memory: Quantity | None = "256Mi"
    """Memory request per pod."""
    limits: Limits = Field(default_factory=Limits)
    """Optional limits; a CPU limit takes precedence over the request for sizing workers."""

    _cpu = field_validator("cpu", "memory", mode="before")(_quantity)


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
            ]
        }
    )

    mode: Literal["auto", "fixed"] = "auto"
    """auto: one worker per whole CPU core of the pod (limit, else request), at least 1; fixed: count."""
    count: int | None = Field(default=None, ge=1, le=256)
    """Workers per pod when mode is fixed."""
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


class Target(Model):
    """What one unit of capacity should carry. The larger need of the two signals wins."""

    requests_per_second_per_worker: float = Field(default=50.0, gt=0, le=1_000_000)
    """Requests per second one worker process should serve."""
    cpu_utilization: int | None = Field(default=70, ge=1, le=100)
    """Percent of the pod's requested CPU to aim for; null scales on request rate alone."""
    in_flight_per_worker: float | None = Field(default=None, gt=0, le=100_000)
    """Requests in flight at the load balancer per worker to aim for (HAProxy's current sessions to
    the app's pods, summed over its HAProxy pods): a third signal, pods needed = ceil(in flight /
    (workers per pod x this)), and the largest need of the signals wins. By Little's law in flight =
    rate x latency, so it grows with the rate and also with the latency that rises as the pods near
    saturation: an overload shows at the next scrape, not a rate window later. Needs
    metrics.requestRateSource loadbalancer (and no metrics.requestRate). null (the default): off; on
    the simulated real traces of bench/results/scaling.md it did not win (see there)."""


class ScaleUp(Model):
    """How fast replicas may rise."""

    stabilization_window: Duration = "0s"
    """Use the lowest recommendation seen in this window (0s: react at once)."""
    max_pods: int | None = Field(default=4, ge=1)
    """Add at most this many pods per period."""
    max_percent: int | None = Field(default=100, ge=1)
    """Add at most this percent of current pods per period (the larger of the two limits applies)."""
    period: ScaleUpPeriod = "15s"
    """The period the limits apply to."""
    tolerance: float | None = Field(default=None, ge=0, le=1)
    """Dead band for scaling up; defaults to autoscaling.tolerance."""
    lead_time: Duration = "30s"
    """How long a new pod takes to serve (start-up plus readiness). While load rises steadily, scale-up
    sizes for the load expected leadTime + pollingInterval ahead; 0s turns the forecast off."""
    learn_lead_time: bool = True
    """Use the start-up time measured on the app's own pods (creation to Ready) instead of leadTime
    once the operator has measured it; leadTime stays the value until then (and 0s still turns the
    forecast off)."""
    checked_forecast: bool = True
    """The trend forecast acts only while it has been right: every forecast is compared with the
    reading when its time comes, and it sizes scale-up only while its average error is smaller than
    that of no forecast (the reading it started from). On real traces an unchecked forecast fires on
    noise and adds pod-seconds for no less time under capacity (bench/results/scaling.md)."""
    recent_rate: bool = False
    """Also scale up on the rate over the last two scrapes (a surge answered in one poll); the
    scale-down side reads only the rate window (or the headroom quantile), so noise never sheds
    pods. Off by default: on the real traces of bench/results/scaling.md it added pod-seconds (each
    noisy scrape asks for pods the scale-down window then keeps) for little less time under capacity."""


class ScaleDown(Model):
    """How fast replicas may fall."""

    stabilization_window: Duration = "60s"
    """Use the highest recommendation seen in this window before scaling down. The Kubernetes HPA's
    default is 300s; webscale's is 60s because rateWindow (10m) already keeps pods through the lulls
    between bursts, which is what a long window of maxima is for, and a mean falls sooner after a
    drop than the highest recommendation of five minutes: on the real traces of
    bench/results/scaling.md (chosen on two of them, checked on three held out), 300s cost 1-9 %
    more pod-seconds on the held-out traces for the same time under capacity (on the two tuning
    traces it bought less time under capacity for 7-22 % more). Set 300s, rateWindow 0s and
    maxPercent 100 for the HPA's behaviour."""
    rate_window: Duration = "10m"
    """Scale down only as far as the mean request rate over this longer window allows (the mean
    of the per-scrape rates of the last polls; at most 64 polls are remembered). The short rate
    window answers a surge; this one decides when load has really gone, so a lull between two
    bursts does not shed pods (scale up on the short window, down on the long one). 0s: the rate
    window alone (and the stabilizationWindow) decide."""
    max_pods: int | None = Field(default=None, ge=1)
    """Remove at most this many pods per period."""
    max_percent: int | None = Field(default=25, ge=1, le=100)
    """Remove at most this percent of current pods per period (the larger of the two limits applies).
    25 (the HPA's default is 100): with the short stabilizationWindow, pods go in steps of a quarter
    every period, so a drop that reverses within a minute costs little."""
    period: ScaleDownPeriod = "15s"
    """The period the limits apply to."""
    tolerance: float | None = Field(default=None, ge=0, le=1)
    """Dead band for scaling down; defaults to autoscaling.tolerance."""


class Behavior(Model):
    """Stabilisation windows and rate limits, per direction."""

    scale_up: ScaleUp = Field(default_factory=ScaleUp)
    """Scale-up policy."""
    scale_down: ScaleDown = Field(default_factory=ScaleDown)
    """Scale-down policy."""


class FastSignal(Model):
    """Burst mode on the in-band signal: the operator reads the request rate straight from the app's
    HAProxy pods (their exporter's haproxy_backend_http_requests_total) every few seconds (the operator
    setting fast_poll_seconds, 2s), without waiting for Prometheus's scrape and rate window. When that
    rate needs at least `threshold` x the ready pods, the Deployment is scaled to the pods it needs at
    once (within replicas.max, no rate limit), and no poll scales below that while the condition lasts;
    the polls decide everything else, Prometheus staying the source of record and the fallback.
    Applies with loadBalancer.provider haproxy, autoscaling.mode auto and no metrics.requestRate (the
    target is then requests per second, the unit HAProxy counts); otherwise burst mode reads Prometheus
    alone. On the simulated real traces of bench/results/scaling.md, 3x with no hold lowered webscale's
    cost/time-under-capacity curve on the tuning and the held-out traces (2x with a 60s hold did not)."""

    enabled: bool = True
    """false: burst mode reads Prometheus alone."""
    threshold: float = Field(default=3.0, gt=1, le=100)
    """In-band load at or above threshold x the ready pods' capacity scales up at once."""
    window: FastWindow = "6s"
    """The in-band rate is the requests of about this long (2s..1m) over its length."""


class Burst(Model):
    """Panic mode: load far above capacity scales up at once and blocks scale-down for a while."""

    threshold: float = Field(default=2.0, gt=1, le=100)
    """Load at or above threshold x capacity starts burst mode."""
    hold: Duration = "60s"
    """How long burst mode blocks scale-down after load was last that high."""
    fast_signal: FastSignal = Field(default_factory=FastSignal)
    """Burst mode on the request rate read straight from the app's HAProxy pods every few seconds."""


class Headroom(Model):
    """Headroom that follows the app's measured burstiness instead of a fixed target.

    With `quantile` set, replicas are sized so that the given quantile of the recent per-scrape
    request rates (the rate between two consecutive scrapes, one per poll, over `window`) runs at
    `percentOfTarget` % of target.requestsPerSecondPerWorker, instead of sizing the rate window's
    mean at the target. Smooth load then runs nearer the target, bursty load gets the headroom its
    bursts need. The same factor applies to the recent rate and the forecast. null: the mean over
    the rate window at the target (the HPA's way)."""

    quantile: float | None = Field(default=0.9, gt=0, le=1)
    """Quantile of the per-scrape rates to size for (0.9, the default: the p90); null turns this off
    and sizes on the rate window's mean."""
    window: Duration = "3m"
    """How far back the per-scrape rates reach (at most 64 polls are remembered)."""
    percent_of_target: int = Field(default=100, ge=50, le=500)
    """The quantile may reach this percent of the target (the target itself stays what the mean of
    steady load runs at)."""


class Seasonal(Model):
    """A seasonal prior: pre-warm for the load the app had at the same time a day (or a week) ago.

    With `offset` set (24h: yesterday; 168h: last week), each poll also reads, in one batched query
    per setting (PromQL `offset`), the highest rate of the `lookahead` that starts at now - offset,
    and the mean rate over `levelWindow` then and now. Scale-up then sizes for at least that highest
    rate scaled by today's level over then's (the same shape, at today's size), so pods are started
    before a peak that comes at the same time every day, not one start-up after it. It only ever
    raises a scale-up (scale-down never reads it); with no data at now - offset (a new app) it does
    nothing. Needs no metrics.requestRate (it reads the same series as the request rate)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.offset) || duration(self.offset) == duration('0s') || "
                    "!has(self.lookahead) || duration(self.lookahead) < duration(self.offset)",
                    "message": "autoscaling.seasonal.lookahead must be shorter than autoscaling.seasonal.offset",
                }
            ]
        }
    )

    offset: SeasonalOffset = "0s"
    """How far back the same time is: 24h (yesterday) or 168h (last week); 0s (the default) turns the
    prior off. Off by default: the real traces of bench/results/scaling.md are a day or less, and on
    the one three-day trace there it did not win (see there)."""
    lookahead: SeasonalLookahead = "5m"
    """How much of the load that followed the same time then is read: the highest rate of the
    lookahead from now - offset on. Set it to at least the pods' start-up plus a polling interval,
    so the pods asked for now are ready when that load comes."""
    level_window: SeasonalLevelWindow = "1h"
    """The window whose mean rate today over then scales the prior (today is busier or quieter)."""


class Fallback(Model):
    """What to do when metrics cannot be read."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.action != 'replicas' || has(self.replicas)",
                    "message": "autoscaling.fallback.replicas is required when action is replicas",
                }
            ]
        }
    )

    after_failures: int = Field(default=3, ge=1, le=1000)
    """Consecutive failed polls before the fallback applies."""
    action: Literal["hold", "replicas"] = "hold"
    """hold: keep the last good replica count; replicas: go to fallback.replicas."""
    replicas: int | None = Field(default=None, ge=1, le=1000)
    """Replica count for action replicas (never below the current count's last good recommendation)."""


class ScaleToZero(Model):
    """No pods while the app is idle; the load balancer holds the first requests while a pod starts.

    Needs replicas.min 0 to act and loadBalancer.provider haproxy (the HAProxy tier holds the
    requests; a kube-proxy Service has nowhere to hold them). After idleAfter without a request the
    app goes to 0 pods; a request that comes then waits in HAProxy until a pod is ready and is
    served, or after holdRequestsFor gets 503 with Retry-After. The operator wakes the app within
    about a second of the first held request (it asks the HAProxy pods of apps at zero only)."""

    idle_after: IdleAfter = "5m"
    """No request for this long: scale to 0 pods (at least the pollingInterval, 30s..168h)."""
    hold_requests_for: HoldRequestsFor = "30s"
    """How long the load balancer holds a request while the app has no ready pod (1s..5m); then 503
    with Retry-After."""


class Autoscaling(Model):
    """Horizontal scaling from request rate and CPU read from Prometheus."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.scaleToZero) || !has(self.scaleToZero.idleAfter) || "
                    "!has(self.pollingInterval) || "
                    "duration(self.scaleToZero.idleAfter) >= duration(self.pollingInterval)",
                    "message": "autoscaling.scaleToZero.idleAfter must be at least autoscaling.pollingInterval "
                    "(idleness is measured once per poll)",
                }
            ]
        }
    )

    mode: Literal["auto", "recommend", "off"] = "auto"
    """auto: scale the Deployment; recommend: write the decision to status only; off: replicas.count."""
    polling_interval: PollingInterval = "15s"
    """How often metrics are read and a decision is made (at least 5s)."""
    target: Target = Field(default_factory=Target)
    """Per-worker request rate and CPU utilisation to aim for."""
    tolerance: float = Field(default=0.1, ge=0, le=1)
    """Dead band: no change while the load/capacity ratio is within 1 +- tolerance."""
    behavior: Behavior = Field(default_factory=Behavior)
    """Stabilisation and rate limits."""
    burst: Burst = Field(default_factory=Burst)
    """Burst (panic) mode."""
    headroom: Headroom = Field(default_factory=Headroom)
    """Size for a quantile of the recent per-scrape rates instead of the windowed mean."""
    seasonal: Seasonal = Field(default_factory=Seasonal)
    """Pre-warm for the load of the same time yesterday or last week (off by default)."""
    fallback: Fallback = Field(default_factory=Fallback)
    """Behaviour while metrics are unavailable."""
    scale_to_zero: ScaleToZero | None = Field(default=None, json_schema_extra={"x-webscale-no-default": True})
    """Scale to no pods while idle (with replicas.min 0 and loadBalancer.provider haproxy); unset (the
    default): replicas.min stays at least 1."""


class Prometheus(Model):
    """Where to read metrics."""

    url: str = Field(
        default="http://prometheus.monitoring:9090", max_length=URL_MAX_LENGTH, pattern=r"^https?://[^\s]+$"
    )
    """Base URL of the Prometheus HTTP API."""


class Metrics(Model):
    """Metric sources."""

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
    Ignored when requestRate is set."""


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
    balancer in front (its settings go in annotations)."""
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
    """How requests are spread over pods."""
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
    """One line per problem: `spec.workers.count: Input should be ...`."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for err in errors():
        loc = ".".join(str(p) for p in ("spec", *err["loc"]))
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
