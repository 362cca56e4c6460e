"""The committed CRD is what the generator prints, and it is a structural schema."""

from __future__ import annotations

import json
from pathlib import Path

from webscale.api.crd import crd, crd_yaml

COMMITTED = Path(__file__).resolve().parents[2] / "crds" / "scaledwebapps.webscale.dev.yaml"


def test_committed_crd_is_not_stale():
    assert COMMITTED.read_text() == crd_yaml(), "crds/ is stale: run `make crd` and commit the result"


def _walk(node, path="$"):
    yield path, node
    for key in ("properties",):
        for name, child in node.get(key, {}).items():
            yield from _walk(child, f"{path}.{name}")
    if "items" in node:
        yield from _walk(node["items"], f"{path}[]")


def test_schema_is_structural():
    schema = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert ("$ref" not in node and "anyOf" not in node) or node.get("x-kubernetes-int-or-string"), path
        assert "title" not in node, path
        assert "type" in node or node.get("x-kubernetes-int-or-string"), path


def test_subresources_columns_and_names():
    version = crd()["spec"]["versions"][0]
    assert version["subresources"]["scale"]["specReplicasPath"] == ".spec.replicas.count"
    assert [c["name"] for c in version["additionalPrinterColumns"]][:5] == [
        "Replicas",
        "Ready",
        "Workers",
        "RPS",
        "Desired",
    ]
    assert crd()["spec"]["names"]["shortNames"] == ["swa"]


def test_nested_defaults_are_written_out_in_full():
    spec = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec["workers"]["default"] == {"mode": "auto", "min": 1, "max": 16, "live": True}
    assert spec["autoscaling"]["default"]["behavior"]["scaleDown"]["stabilizationWindow"] == "300s"


def test_cel_rules_present():
    text = json.dumps(crd())
    for message in (
        "replicas.min must be <= replicas.max",
        "workers.count is required when workers.mode is fixed",
        "least-connections needs provider haproxy",
    ):
        assert message in text
