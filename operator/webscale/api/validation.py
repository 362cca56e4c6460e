"""Checks the CRD schema cannot express; a failing spec marks the app Invalid and changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from kubernetes.utils import parse_quantity

from webscale.api import scale_to_zero
from webscale.api.autoscaling_spec import FALLBACK_UNREAD, REMEMBERED_POLLS, REMEMBERED_WORDS
from webscale.api.durations import seconds
from webscale.api.models import RATE_SOURCE_UNREAD, WORKERS_COUNT_UNREAD, ScaledWebAppSpec
from webscale.promql.template import template_error
from webscale.settings import Settings

RESERVED_ENV = {
    "PORT": "spec.port",
    "WEB_CONCURRENCY": "spec.workers",
    "REDIS_URL": "spec.state.redisURL",
    "WEBSCALE_ANNOTATIONS_FILE": "the operator",
}


@lru_cache(maxsize=1)
def installed_prometheus_urls() -> tuple[str, ...]:
    """The allow-list the operator was installed with (WEBSCALE_PROMETHEUS_URLS), read once."""
    return Settings().prometheus_urls


DEFAULT_PORTS = {"http": 80, "https": 443}
MILLICORE = Decimal("0.001")


def normalize_url(url: str) -> str:
    """`url` as the canonical spelling of its endpoint: scheme and host in lower case, no default
    port, no trailing slash, no fragment; two spellings of one Prometheus compare equal (and share
    one client and one batched query)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    user = parts.netloc.rpartition("@")[0]
    netloc = (f"{user}@" if user else "") + host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def prometheus_url_error(url: str, allowed: Sequence[str]) -> str | None:
    """Why the app may not read `url`, or None when the installer allowed it."""
    if normalize_url(url) in {normalize_url(a) for a in allowed}:
        return None
    listed = ", ".join(allowed) if allowed else "none"
    return (
        f"spec.metrics.prometheus.url: {url} is not a Prometheus this operator may query "
        f"(allowed: {listed}; the installer sets them with WEBSCALE_PROMETHEUS_URLS)"
    )


def semantic_errors(spec: ScaledWebAppSpec, allowed_prometheus_urls: Sequence[str] | None = None) -> list[str]:
    """Every problem found, each naming the field: an empty list means valid.

    allowed_prometheus_urls: the Prometheus URLs the installer allows (None: `installed_prometheus_urls`).
    """
    allowed = installed_prometheus_urls() if allowed_prometheus_urls is None else allowed_prometheus_urls
    errors: list[str] = []
    url_problem = prometheus_url_error(spec.metrics.prometheus.url, allowed)
    if url_problem:
        errors.append(url_problem)
    r = spec.resources
    for what, request, limit in (("cpu", r.cpu, r.limits.cpu), ("memory", r.memory, r.limits.memory)):
        if request and limit and parse_quantity(request) > parse_quantity(limit):
            errors.append(f"spec.resources.{what}: request {request} is above spec.resources.limits.{what} {limit}")
    for where, cpu in (("spec.resources.cpu", r.cpu), ("spec.resources.limits.cpu", r.limits.cpu)):
        if cpu and parse_quantity(cpu) <= 0:
            errors.append(f"{where}: must be above zero, got {cpu}")
        elif cpu and parse_quantity(cpu) < MILLICORE:
            errors.append(f"{where}: {cpu} is below 1m (Kubernetes counts CPU in whole millicores)")
    auto = spec.autoscaling
    if r.cpu is None and r.limits.cpu is None and auto.target.cpu_utilization is not None and auto.mode != "off":
        errors.append(
            f"spec.autoscaling.target.cpuUtilization: {auto.target.cpu_utilization}% of no CPU request "
            "(spec.resources.cpu is null and there is no spec.resources.limits.cpu); set one, or set "
            "cpuUtilization to null to scale on the request rate alone"
        )
    seen: set[str] = set()
    for i, var in enumerate(spec.env):
        where = f"spec.env[{i}] ({var.name})"
        if var.name in seen:
            errors.append(f"{where}: duplicate variable name")
        seen.add(var.name)
        if var.name in RESERVED_ENV:
            errors.append(f"{where}: set by the operator from {RESERVED_ENV[var.name]}; remove it from env")
        if var.value is not None and var.value_from is not None:
            errors.append(f"{where}: give value or valueFrom, not both")
    if spec.metrics.request_rate_source == "loadbalancer" and spec.load_balancer.provider != "haproxy":
        errors.append("spec.metrics.requestRateSource: loadbalancer needs spec.loadBalancer.provider haproxy")
    errors.extend(scale_to_zero.errors(spec))
    errors.extend(window_errors(spec))
    errors.extend(cross_field_errors(spec))
    if spec.metrics.request_rate is not None:
        problem = template_error(spec.metrics.request_rate)  # starts with "spec.metrics.requestRate"
        if problem:
            errors.append(problem)
    return errors


def window_errors(spec: ScaledWebAppSpec) -> list[str]:
    """The windows over the per-poll readings that reach further back than the `REMEMBERED_POLLS` polls
    the operator remembers: each would be cut short without a word, so each marks the app Invalid."""
    auto = spec.autoscaling
    interval = seconds(auto.polling_interval)
    reach = REMEMBERED_POLLS * interval
    windows = [("autoscaling.behavior.scaleDown.rateWindow", auto.behavior.scale_down.rate_window)]
    if auto.headroom.quantile is not None:
        windows.append(("autoscaling.headroom.window", auto.headroom.window))
    return [
        f"spec.{REMEMBERED_WORDS.format(where)}: {value} is more than {REMEMBERED_POLLS} x "
        f"{auto.polling_interval} ({reach:g}s); shorten it, or poll less often"
        for where, value in windows
        if seconds(value) > reach
    ]


def cross_field_errors(spec: ScaledWebAppSpec) -> list[str]:
    """The CRD's rules across fields (CEL), checked again here with the same words: an object stored
    before a rule existed, or by a client the API server did not validate, is refused by the operator
    too, not used as it is. (The rules the other checks above already make are not repeated.)"""
    w, r, auto, lb = spec.workers, spec.replicas, spec.autoscaling, spec.load_balancer
    fallback, seasonal = auto.fallback, auto.seasonal
    checks = [
        (w.min <= w.max, "workers.min must be <= workers.max"),
        (w.mode != "fixed" or w.count is not None, "workers.count is required when workers.mode is fixed"),
        (w.count is None or w.min <= w.count <= w.max, "workers.count must lie within workers.min..workers.max"),
        (r.min <= r.max, "replicas.min must be <= replicas.max"),
        (r.count is None or r.min <= r.count <= r.max, "replicas.count must lie within replicas.min..replicas.max"),
        (
            fallback.action != "replicas" or fallback.replicas is not None,
            "autoscaling.fallback.replicas is required when action is replicas",
        ),
        (fallback.action == "replicas" or fallback.replicas is None, FALLBACK_UNREAD),
        (w.mode == "fixed" or w.count is None, WORKERS_COUNT_UNREAD),
        (spec.metrics.request_rate is None or spec.metrics.request_rate_source != "loadbalancer", RATE_SOURCE_UNREAD),
        (
            fallback.replicas is None or r.min <= fallback.replicas <= r.max,
            "autoscaling.fallback.replicas must lie within replicas.min..replicas.max",
        ),
        (
            auto.target.in_flight_per_worker is None
            or (spec.metrics.request_rate_source == "loadbalancer" and spec.metrics.request_rate is None),
            "autoscaling.target.inFlightPerWorker needs metrics.requestRateSource loadbalancer and no "
            "metrics.requestRate (the in-flight count is read at the load balancer)",
        ),
        (
            seconds(seasonal.offset) == 0 or spec.metrics.request_rate is None,
            "autoscaling.seasonal.offset needs no metrics.requestRate (the prior reads the request-rate series "
            "the operator queries itself)",
        ),
        (
            seconds(seasonal.offset) == 0 or seconds(seasonal.lookahead) < seconds(seasonal.offset),
            "autoscaling.seasonal.lookahead must be shorter than autoscaling.seasonal.offset",
        ),
        (
            not (lb.provider == "service" and lb.strategy == "least-connections"),
            "loadBalancer.strategy least-connections needs provider haproxy (kube-proxy Services cannot balance "
            "by connections)",
        ),
    ]
    return [f"spec.{message}" for holds, message in checks if not holds]
