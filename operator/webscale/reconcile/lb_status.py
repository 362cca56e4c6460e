"""The load-balancer tier's part of an app's status (pure): address, HAProxy pods, `LoadBalancerReady`.

The reconciler calls `load_balancer_status` with the live entry Service and (provider haproxy)
the live HAProxy Deployment it already read, and writes the result with its own part of status:
the field `loadBalancer` and the condition type `LoadBalancerReady` (see `STATUS_FIELD` and
`CONDITION`).

LoadBalancerReady is True when clients can reach the app through the tier:

* provider haproxy: at least one HAProxy pod ready and the entry Service has an address.
  Fewer ready pods than `loadBalancer.replicas` still serve: True with reason
  `HAProxyDegraded` and the count in the message. No ready pod: False, `HAProxyNotReady`;
* provider service: the Service has an address;
* a LoadBalancer Service without an ingress yet: False, `AddressPending` (the cloud is
  still provisioning it).
"""

from __future__ import annotations

from typing import Any

from webscale.api.app import App
from webscale.api.conditions import set_condition

STATUS_FIELD = "loadBalancer"
CONDITION = "LoadBalancerReady"


def service_address(service: dict[str, Any] | None) -> str | None:
    """The LoadBalancer ingress (IP, else hostname) of a LoadBalancer Service, else its ClusterIP."""
    if not service:
        return None
    spec = service.get("spec") or {}
    if spec.get("type") == "LoadBalancer":
        for ingress in (service.get("status") or {}).get("loadBalancer", {}).get("ingress") or []:
            if ingress.get("ip") or ingress.get("hostname"):
                return str(ingress.get("ip") or ingress.get("hostname"))
        return None
    cluster_ip = spec.get("clusterIP")
    return str(cluster_ip) if cluster_ip and cluster_ip != "None" else None


def load_balancer_status(
    app: App,
    service: dict[str, Any] | None,
    haproxy: dict[str, Any] | None,
    conditions: list[dict[str, Any]],
    now: str,
    pending: str | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(status.loadBalancer, conditions with LoadBalancerReady set) for a valid app. `pending`: why
    HAProxy pods are Pending (the scheduler's words, `reconcile.pending`), added while some are not ready."""
    lb = app.valid_spec.load_balancer
    address = service_address(service)
    part: dict[str, Any] = {"provider": lb.provider, "strategy": lb.strategy, "address": address}
    pending_ingress = service is not None and (service.get("spec") or {}).get("type") == "LoadBalancer"
    if lb.provider == "haproxy":
        dep_status = (haproxy or {}).get("status") or {}
        ready = int(dep_status.get("readyReplicas") or 0)
        part["replicas"] = int(dep_status.get("replicas") or 0)
        part["readyReplicas"] = ready
        wanted = lb.replicas
        if haproxy is None:
            ok, reason, message = False, "HAProxyMissing", "the HAProxy Deployment does not exist yet"
        elif ready == 0:
            ok, reason, message = False, "HAProxyNotReady", f"0/{wanted} HAProxy pods ready"
        elif address is None:
            ok, reason, message = False, "AddressPending" if pending_ingress else "NoAddress", _no_address(service)
        elif ready < wanted:
            ok, reason, message = True, "HAProxyDegraded", f"{ready}/{wanted} HAProxy pods ready at {address}"
        else:
            ok, reason, message = True, "HAProxyReady", f"{ready}/{wanted} HAProxy pods ready at {address}"
        if pending and ready < wanted:
            message = f"{message}; {pending}"
    elif address is None:
        ok, reason, message = False, "AddressPending" if pending_ingress else "NoAddress", _no_address(service)
    else:
        ok, reason, message = True, "ServiceReady", f"kube-proxy Service at {address}"
    message = f"{lb.strategy}: {message}"
    return part, set_condition(conditions, CONDITION, ok, reason, message, now, app.generation)


def _no_address(service: dict[str, Any] | None) -> str:
    if service is None:
        return "the Service does not exist yet"
    if (service.get("spec") or {}).get("type") == "LoadBalancer":
        return "waiting for the cloud load balancer to get an address"
    return "the Service has no cluster IP yet"
