"""Workers per pod: one per whole CPU core the pod may use, never the node's core count."""

from __future__ import annotations

import math
from decimal import Decimal

from kubernetes.utils import parse_quantity

from webscale.api.models import ScaledWebAppSpec


def cpu_cores(spec: ScaledWebAppSpec) -> Decimal | None:
    """The CPU a pod may use: its limit when set, else its request; None when neither is."""
    cpu = spec.resources.limits.cpu or spec.resources.cpu
    return parse_quantity(cpu) if cpu else None


def workers_per_pod(spec: ScaledWebAppSpec) -> int:
    """Cluster workers for each pod of this app.

    fixed: workers.count. auto: whole cores of the pod's CPU (limit, else request),
    at least 1, then clamped to workers.min..workers.max. "1500m" gives 1 worker: a
    second worker on half a core would only add context switches.
    """
    w = spec.workers
    if w.mode == "fixed" and w.count is not None:
        wanted = w.count
    else:
        cores = cpu_cores(spec)
        wanted = max(1, math.floor(cores)) if cores is not None else 1
    return max(w.min, min(w.max, wanted))
