"""ScaledWebApps in tests: the API coordinates, a minimal valid body, and reading what the operator wrote.

swa.create_namespaced_custom_object(G, V, ns, P, app_body("shop", replicas={"min": 1}))
wait_for(lambda: is_ready(swa, ns, "shop"), 60, what="shop Ready")
image = container(apps, ns, "shop").image
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client

from webscale_local.waiting import wait_for

G, V, P = "webscale.dev", "v1alpha1", "scaledwebapps"
"""group, version and plural of the ScaledWebApp resource (CustomObjectsApi's arguments)."""

IMAGE = "registry.example/shop:1"
CRD = "scaledwebapps.webscale.dev"
CRDS = Path(__file__).resolve().parents[3] / "crds"


def install_crd(kubectl: Callable[..., str], timeout: float = 30) -> None:
    """Apply crds/ with `kubectl` (a cluster's or a stack's kubectl method) and wait until the CRD is
    Established."""
    kubectl("apply", "-f", str(CRDS))
    wait_established(kubectl, CRD, timeout)


def wait_established(kubectl: Callable[..., str], crd: str, timeout: float = 60) -> None:
    """Wait until the CRD `crd` is Established. Not `kubectl wait`: right after the apply the CRD may have
    no conditions yet (`"conditions": null`), which `kubectl wait --for=condition` fails on at once
    (".status.conditions accessor error: <nil> is of the type <nil>") instead of waiting."""
    established = "jsonpath={.status.conditions[?(@.type=='Established')].status}"
    wait_for(
        lambda: "True" in kubectl("get", f"crd/{crd}", "-o", established, check=False),
        timeout,
        0.2,
        f"the CRD {crd} to be established",
    )


def app_body(
    name: str = "shop", annotations: dict[str, str] | None = None, base: dict[str, Any] | None = None, **spec: Any
) -> dict[str, Any]:
    """A ScaledWebApp named `name`: the image and resources every app needs (`base`, or 2 CPUs and
    256Mi), then `spec`'s fields over them."""
    base = {"image": IMAGE, "resources": {"cpu": "2", "memory": "256Mi"}} if base is None else base
    meta: dict[str, Any] = {"name": name, **({"annotations": annotations} if annotations else {})}
    return {"apiVersion": f"{G}/{V}", "kind": "ScaledWebApp", "metadata": meta, "spec": {**base, **spec}}


def condition_in(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    """The condition `type_` of an app object ({} when it has none yet)."""
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), {})


def condition(swa: client.CustomObjectsApi, ns: str, name: str, type_: str) -> dict[str, Any] | None:
    """The condition `type_` of the app as the API server has it now (None when it has none yet)."""
    return condition_in(swa.get_namespaced_custom_object(G, V, ns, P, name), type_) or None


def is_ready(swa: client.CustomObjectsApi, ns: str, name: str) -> bool:
    """Ready=True on the app."""
    return (condition(swa, ns, name, "Ready") or {}).get("status") == "True"


def container(apps: client.AppsV1Api, ns: str, name: str = "shop") -> client.V1Container:
    """The app container of the app's Deployment."""
    return apps.read_namespaced_deployment(name, ns).spec.template.spec.containers[0]


def env_of(c: client.V1Container) -> dict[str, str | None]:
    """A container's environment by name (None for a variable set with valueFrom)."""
    return {e.name: e.value for e in c.env or []}


def replace_spec(swa: client.CustomObjectsApi, ns: str, name: str, spec: dict[str, Any]) -> None:
    """The whole spec replaced, as `kubectl edit` or an apply that drops fields does: a JSON patch of /spec.
    It carries no resourceVersion: a read-then-replace races the operator's status writes (409s, five in a row
    right after a create in one fresh-clone run). Admission still judges the result (422 when refused)."""
    swa.patch_namespaced_custom_object(
        G, V, ns, P, name, [{"op": "replace", "path": "/spec", "value": spec}],
        _content_type="application/json-patch+json",
    )  # fmt: skip
