"""Checks the CRD schema cannot express; a failing spec marks the app Invalid and changes nothing."""

from __future__ import annotations

from kubernetes.utils import parse_quantity

from webscale.api.models import ScaledWebAppSpec
from webscale.promql.template import template_error

RESERVED_ENV = {
    "PORT": "spec.port",
    "WEB_CONCURRENCY": "spec.workers",
    "REDIS_URL": "spec.state.redisURL",
    "WEBSCALE_ANNOTATIONS_FILE": "the operator",
}


def semantic_errors(spec: ScaledWebAppSpec) -> list[str]:
    """Every problem found, each naming the field: an empty list means valid."""
    errors: list[str] = []
    r = spec.resources
    for what, request, limit in (("cpu", r.cpu, r.limits.cpu), ("memory", r.memory, r.limits.memory)):
        if request and limit and parse_quantity(request) > parse_quantity(limit):
            errors.append(f"spec.resources.{what}: request {request} is above spec.resources.limits.{what} {limit}")
    if r.cpu and parse_quantity(r.cpu) <= 0:
        errors.append(f"spec.resources.cpu: must be above zero, got {r.cpu}")
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
    if spec.metrics.request_rate is not None:
        problem = template_error(spec.metrics.request_rate)  # starts with "spec.metrics.requestRate"
        if problem:
            errors.append(problem)
    return errors
