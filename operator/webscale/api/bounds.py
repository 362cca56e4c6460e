"""Bounds on every free-text field and every list of the ScaledWebApp spec (used by the models in this package).

They keep one object far below etcd's 1.5 MiB request limit (the largest spec they allow is about
0.9 MiB) and give every CEL rule a bounded cost; tests/unit/test_crd_bounds.py walks the generated CRD
and fails on any string without maxLength, list without maxItems or map without maxProperties.
"""

from __future__ import annotations

from typing import Any

QUANTITY_PATTERN = r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
"""A Kubernetes quantity: 2, 500m, 512Mi."""
DURATION_MAX_LENGTH = 32
QUANTITY_MAX_LENGTH = 64
NAME_MAX_LENGTH = 253
"""A DNS-1123 subdomain (object names, ConfigMap and Secret keys)."""
URL_MAX_LENGTH = 2048
ENV_VALUE_MAX_LENGTH = 4096
"""4 KiB a value (a larger one belongs in a ConfigMap or Secret, read through valueFrom)."""
ENV_MAX_ITEMS = 128


def _bounded(max_length: int, description: str, required: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", "maxLength": max_length, "description": description}
    return out | ({"minLength": 1} if required else {})


def _key_ref(kind: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"A key of a {kind} in the app's namespace.",
        "required": ["key"],
        "properties": {
            "name": _bounded(NAME_MAX_LENGTH, f"Name of the {kind}."),
            "key": _bounded(NAME_MAX_LENGTH, "The key.", required=True),
            "optional": {"type": "boolean", "description": f"Start the pod even if the {kind} or key is missing."},
        },
    }


ENV_VAR_SOURCE_SCHEMA: dict[str, Any] = {
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {
        "secretKeyRef": _key_ref("Secret"),
        "configMapKeyRef": _key_ref("ConfigMap"),
        "fieldRef": {
            "type": "object",
            "description": "A field of the pod (metadata.name, status.podIP, ...).",
            "required": ["fieldPath"],
            "properties": {
                "apiVersion": _bounded(64, "Version of the schema fieldPath is written in (v1)."),
                "fieldPath": _bounded(256, "Path of the field.", required=True),
            },
        },
        "resourceFieldRef": {
            "type": "object",
            "description": "A resource request or limit of a container of the pod.",
            "required": ["resource"],
            "properties": {
                "containerName": _bounded(63, "The container (default: the app's)."),
                "resource": _bounded(64, "limits.cpu, requests.memory, ...", required=True),
                "divisor": {
                    "x-webscale-quantity": True,
                    "pattern": QUANTITY_PATTERN,
                    "maxLength": QUANTITY_MAX_LENGTH,
                    "description": "Unit of the value (default 1).",
                },
            },
        },
    },
}
"""The schema of env[].valueFrom: Kubernetes' EnvVarSource with every string bounded (the operator passes
it through to the Deployment as it is)."""
