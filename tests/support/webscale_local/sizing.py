"""How big the local control plane's kwok nodes must be for some ScaledWebApps (pure).

The pods the operator would run for each app are built by the operator's own builders, so the
requests are exactly those of the Deployments it applies: the app's at `replicas.max`, and its
HAProxy tier (provider haproxy) at `loadBalancer.replicas`. The nodes share the sum, with headroom
for anything else applied meanwhile, plus the largest pod on each node: whatever the scheduler's
choice of nodes, a pod can then be left Pending only if every node has less free than it needs,
which would mean more than the sum is in use. So every pod of every app, at its maximum, fits.

    cpu, memory = node_size([yaml.safe_load(open("examples/shop.yaml"))], nodes=3)   # ("11", "16Gi")
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes.utils import parse_quantity

from webscale.api import models
from webscale.api.app import App
from webscale.reconcile.builders import build_children

HEADROOM = 1.25
"""Room beyond what the apps need at their maximum (a quarter more)."""
MIN_CPU, MIN_MEMORY_GI = 4, 16
"""Never smaller than the launcher's default nodes."""


@dataclass(frozen=True)
class PodGroup:
    """`count` pods of one template: what each requests (CPU in millicores, memory in bytes)."""

    name: str
    count: int
    cpu_m: int
    memory: int


def _requests(template: dict[str, Any]) -> tuple[int, int]:
    cpu = memory = 0
    for container in template["spec"].get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu += math.ceil(parse_quantity(requests.get("cpu", "0")) * 1000)
        memory += math.ceil(parse_quantity(requests.get("memory", "0")))
    return cpu, memory


def pod_groups(manifest: dict[str, Any]) -> list[PodGroup]:
    """The pods of one ScaledWebApp at its maximum: its Deployment at replicas.max and every other
    Deployment the operator builds for it (HAProxy) at its own replicas."""
    meta = manifest["metadata"]
    spec = models.parse_spec(dict(manifest.get("spec") or {}))
    app = App(namespace=meta.get("namespace", "default"), name=meta["name"], spec=spec)
    groups = []
    for child in build_children(app):
        if child["kind"] != "Deployment":
            continue
        name = child["metadata"]["name"]
        count = spec.replicas.max if name == app.name else int(child["spec"].get("replicas") or 1)
        cpu, memory = _requests(child["spec"]["template"])
        groups.append(PodGroup(name, count, cpu, memory))
    return groups


def node_size(manifests: Iterable[dict[str, Any]], nodes: int, headroom: float = HEADROOM) -> tuple[str, str]:
    """(cpu, memory) of each of `nodes` nodes so that every pod of these apps at their maximum fits,
    as Kubernetes quantities (whole cores, whole Gi); never below the launcher's default nodes."""
    groups = [g for m in manifests for g in pod_groups(m)]
    if not groups:
        return str(MIN_CPU), f"{MIN_MEMORY_GI}Gi"
    total_cpu = sum(g.count * g.cpu_m for g in groups)
    total_memory = sum(g.count * g.memory for g in groups)
    cpu_m = total_cpu * headroom / nodes + max(g.cpu_m for g in groups)
    memory = total_memory * headroom / nodes + max(g.memory for g in groups)
    cores = max(MIN_CPU, math.ceil(cpu_m / 1000))
    gib = max(MIN_MEMORY_GI, math.ceil(memory / 2**30))
    return str(cores), f"{gib}Gi"


def examples(directory: Path) -> list[dict[str, Any]]:
    """The ScaledWebApps in a directory of examples (every *.yaml, each possibly several documents)."""
    docs = [d for f in sorted(directory.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())]
    return [d for d in docs if isinstance(d, dict) and d.get("kind") == models.KIND]
