"""Generate the ScaledWebApp CRD from the pydantic models (the one source of truth).

pydantic writes JSON Schema (draft 2020-12); a CRD needs a *structural*
OpenAPI v3 schema: no $ref, no anyOf-with-null, no titles, boolean
exclusiveMinimum, `default: {}` on nested objects so their defaults apply, and
Kubernetes' own extensions (int-or-string, preserve-unknown-fields, CEL rules,
list-map keys). `structural()` does that translation.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from webscale.api import model_base, models
from webscale.api.names import NAME_RULES
from webscale.api.status import ScaledWebAppStatus

CRD_NAME = f"{models.PLURAL}.{models.GROUP}"

PRINTER_COLUMNS = [
    {"name": "Replicas", "type": "integer", "jsonPath": ".status.replicas"},
    {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas"},
    {"name": "Workers", "type": "integer", "jsonPath": ".status.workersPerPod"},
    {"name": "RPS", "type": "number", "jsonPath": ".status.observed.requestsPerSecond"},
    {"name": "Desired", "type": "integer", "jsonPath": ".status.desiredReplicas"},
    {"name": "Strategy", "type": "string", "jsonPath": ".spec.loadBalancer.strategy"},
    {"name": "Address", "type": "string", "jsonPath": ".status.loadBalancer.address", "priority": 1},
    {
        "name": "Reason",
        "type": "string",
        "jsonPath": ".status.lastScale.reason",
        "priority": 1,
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]

_DROP = {"title", "additionalProperties", "$defs", "x-webscale-duration"}
NO_DEFAULT = "x-webscale-no-default"
"""Marks an optional section that stays absent unless written (dropped from the CRD by `_schema`)."""


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target: dict[str, Any] = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
        extra = {k: v for k, v in node.items() if k != "$ref"}
        target.update(extra)
        return target
    return node


def structural(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Translate one pydantic JSON-schema node into a structural OpenAPI v3 node."""
    node = _resolve(node, defs)
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(branches) == 1:
            merged = _resolve(branches[0], defs)
            merged = {**merged, **rest}
            if merged.get("default", 0) is None:
                merged.pop("default")
            elif "default" in merged:
                # optional with a default: null must stay null ("no limit", "no CPU target")
                # rather than be pruned and then defaulted
                merged["nullable"] = True
            return structural(merged, defs)
        raise ValueError(f"cannot express anyOf {branches} structurally")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "additionalProperties" and isinstance(value, dict):
            out["additionalProperties"] = structural(value, defs)  # a map: string -> value schema
            continue
        if key in _DROP:
            continue
        if key == "properties":
            out["properties"] = {name: structural(child, defs) for name, child in value.items()}
        elif key == "items":
            out["items"] = structural(value, defs)
        elif key == "exclusiveMinimum":
            out["minimum"], out["exclusiveMinimum"] = value, True
        elif key == "exclusiveMaximum":
            out["maximum"], out["exclusiveMaximum"] = value, True
        elif key == "x-webscale-quantity":
            out["x-kubernetes-int-or-string"] = True
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        elif key == "x-preserve":
            out["x-kubernetes-preserve-unknown-fields"] = True
        else:
            out[key] = value
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
    if out.get("x-kubernetes-preserve-unknown-fields"):
        out["type"] = "object"
    if out.get("type") == "object" and "properties" in out:
        required = set(out.get("required", []))
        for name, child in out["properties"].items():
            # an optional section (x-webscale-no-default: scaleToZero) is absent unless written
            if child.get(NO_DEFAULT):
                continue
            # a nested object defaults to its fields' defaults, written out in full so that the
            # API server can check the default against the object's CEL rules; one that must have a
            # field (minProperties: env[].valueFrom, exactly one source) has no default
            if (
                name not in required
                and "default" not in child
                and "minProperties" not in child
                and (default := object_default(child)) is not None
            ):
                child["default"] = default
    return out


def object_default(node: dict[str, Any]) -> dict[str, Any] | None:
    """The defaulted value of an object schema, or None if a required field has no default."""
    if node.get("type") != "object" or "properties" not in node:
        return None
    value: dict[str, Any] = {}
    for name, child in node["properties"].items():
        if "default" in child:
            value[name] = child["default"]
        elif child.get(NO_DEFAULT):
            continue
        elif (nested := object_default(child)) is not None:
            value[name] = nested
        elif name in node.get("required", []):
            return None
    return value


def _strip_defaults(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_defaults(v) for k, v in node.items() if k != "default"}
    if isinstance(node, list):
        return [_strip_defaults(v) for v in node]
    return node


def _without_markers(node: Any) -> Any:
    """`node` with every NO_DEFAULT marker removed (in place: shared defaults stay shared)."""
    if isinstance(node, dict):
        node.pop(NO_DEFAULT, None)
        for value in node.values():
            _without_markers(value)
    elif isinstance(node, list):
        for value in node:
            _without_markers(value)
    return node


def _schema(model: type[model_base.Model]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    schema: dict[str, Any] = _without_markers(structural(raw, raw.get("$defs", {})))
    return schema


def status_schema() -> dict[str, Any]:
    schema: dict[str, Any] = _strip_defaults(_schema(ScaledWebAppStatus))  # the operator writes status whole
    conditions = schema["properties"]["conditions"]
    conditions["x-kubernetes-list-type"] = "map"
    conditions["x-kubernetes-list-map-keys"] = ["type"]
    return schema


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition object."""
    spec_schema = _schema(models.ScaledWebAppSpec)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME, "labels": {"app.kubernetes.io/part-of": "webscale-operator"}},
        "spec": {
            "group": models.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": models.KIND,
                "listKind": f"{models.KIND}List",
                "plural": models.PLURAL,
                "singular": models.SINGULAR,
                "shortNames": models.SHORT_NAMES,
                "categories": ["webscale"],
            },
            "versions": [
                {
                    "name": models.VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A web app run with cluster workers per pod, a load-balancer "
                            "tier and autoscaling from Prometheus metrics.",
                            "required": ["spec"],
                            "x-kubernetes-validations": NAME_RULES,
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema(),
                            },
                        }
                    },
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas.count",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                }
            ],
        },
    }


def crd_yaml() -> str:
    header = "# Generated by `webscale crd` from the models in operator/webscale/api/. Do not edit.\n"
    return header + yaml.safe_dump(crd(), sort_keys=False, width=100)
