"""Every field of the ScaledWebApp spec is bounded, so that a future field cannot forget it: every string
has a maxLength (or an enum), every list a maxItems, every map a maxProperties and a bound on its keys,
nothing is free-form (x-kubernetes-preserve-unknown-fields). The largest spec those bounds allow stays far
below etcd's 1.5 MiB request limit, and every CEL rule gets a bounded cost from them.

Only spec is walked: status is written by the operator, whole, from values it computed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from webscale.api import models
from webscale.api.crd import crd

ETCD_REQUEST_LIMIT = 1_572_864  # etcd's default --max-request-bytes (1.5 MiB)
SPEC_BUDGET = 1_048_576  # the largest spec may use 1 MiB of it: metadata, managedFields and status need the rest
SCALARS = {"integer": 24, "number": 24, "boolean": 5}  # the longest JSON text of one value


def spec_schema() -> dict[str, Any]:
    return crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def map_key_bound(node: dict[str, Any], parent: dict[str, Any] | None = None, name: str = "") -> int | None:
    """The longest key a CEL rule allows in the map `node` (field `name` of `parent`): a rule
    `self.all(k, ... size(k) <= N)` on the map or `self.<name>.all(k, ... size(k) <= N)` on its parent."""
    rules = [(r["rule"], "self") for r in node.get("x-kubernetes-validations", [])]
    rules += [(r["rule"], f"self.{name}") for r in (parent or {}).get("x-kubernetes-validations", [])]
    for rule, subject in rules:
        if f"{subject}.all(k," in rule and (match := re.search(r"size\(k\) <= (\d+)", rule)):
            return int(match.group(1))
    return None


Node = tuple[str, dict[str, Any], dict[str, Any] | None, str]


def walk(
    node: dict[str, Any], path: str = "spec", parent: dict[str, Any] | None = None, name: str = ""
) -> Iterator[Node]:
    """Every schema node under `node`: (path, node, its parent object, its field name there)."""
    yield path, node, parent, name
    for field, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{field}", node, field)
    if "items" in node:
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def unbounded(node: dict[str, Any], parent: dict[str, Any] | None = None, name: str = "") -> str | None:
    """What is unbounded about one schema node, or None."""
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return "free-form (x-kubernetes-preserve-unknown-fields): nothing bounds it"
    is_string = node.get("type") == "string" or node.get("x-kubernetes-int-or-string")
    if is_string and "maxLength" not in node and "enum" not in node:
        return "a string without maxLength or enum"
    if node.get("type") == "array" and "maxItems" not in node:
        return "a list without maxItems"
    if isinstance(node.get("additionalProperties"), dict):
        if "maxProperties" not in node:
            return "a map without maxProperties"
        if map_key_bound(node, parent, name) is None:
            return "a map whose keys no CEL rule bounds (size(k) <= N)"
    return None


def test_every_spec_field_is_bounded():
    problems = [f"{path}: {why}" for path, *node in walk(spec_schema()) if (why := unbounded(*node))]
    assert problems == [], "\n".join(problems)


def test_the_walk_sees_every_kind_of_node():
    """The check above looks at strings, lists, maps and int-or-strings: the spec has each (else it checks
    nothing for that kind)."""
    nodes = {path: node for path, node, *_ in walk(spec_schema())}
    assert nodes["spec.image"]["maxLength"] == 512
    assert nodes["spec.env"]["maxItems"] == models.ENV_MAX_ITEMS
    assert nodes["spec.env[].value"]["maxLength"] == models.ENV_VALUE_MAX_LENGTH
    service = nodes["spec.loadBalancer.service"]
    assert map_key_bound(service["properties"]["annotations"], service, "annotations") == 317
    assert nodes["spec.resources.cpu"]["x-kubernetes-int-or-string"]
    assert nodes["spec.env[].valueFrom.secretKeyRef.key"]["maxLength"] == models.NAME_MAX_LENGTH


@pytest.mark.parametrize(
    ("node", "problem"),
    [
        ({"type": "string"}, "maxLength"),
        ({"type": "string", "pattern": "^a+$"}, "maxLength"),
        ({"x-kubernetes-int-or-string": True}, "maxLength"),
        ({"type": "array", "items": {"type": "integer"}}, "maxItems"),
        ({"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}, "maxProperties": 3}, "keys"),
        ({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, "free-form"),
    ],
)
def test_an_unbounded_field_is_found(node, problem):
    assert problem in (unbounded(node) or "")


def test_a_map_with_bounded_keys_passes():
    annotations = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}, "maxProperties": 3}
    parent = {"x-kubernetes-validations": [{"rule": "self.annotations.all(k, size(k) <= 10)"}]}
    assert unbounded(annotations, parent, "annotations") is None
    assert largest(annotations, parent, "annotations") == 2 + 3 * (10 + 4 + 5)


def largest(node: dict[str, Any], parent: dict[str, Any] | None = None, name: str = "") -> int:
    """The longest JSON text a value of this schema node can have (characters)."""
    if "enum" in node:
        return max(len(json.dumps(v)) for v in node["enum"])
    if node.get("x-kubernetes-int-or-string"):
        return max(node["maxLength"] + 2, SCALARS["integer"])
    kind = node.get("type")
    if kind == "string":
        return node["maxLength"] + 2
    if kind in SCALARS:
        return SCALARS[kind]
    if kind == "array":
        return 2 + node["maxItems"] * (largest(node["items"]) + 1)
    if isinstance(node.get("additionalProperties"), dict):
        key = map_key_bound(node, parent, name)
        assert key is not None
        return 2 + node["maxProperties"] * (key + 4 + largest(node["additionalProperties"]))  # "key":value,
    fields = [len(field) + 4 + largest(child, node, field) for field, child in node.get("properties", {}).items()]
    return 2 + sum(sorted(fields, reverse=True)[: node.get("maxProperties", len(fields))])


def test_the_largest_spec_fits_etcd_with_room_to_spare():
    size = largest(spec_schema())
    assert size <= SPEC_BUDGET < ETCD_REQUEST_LIMIT, f"the largest spec is {size:,} characters"
    assert size > SPEC_BUDGET // 2  # (the sum is of real bounds: env and annotations alone make most of it)


def test_largest_counts_what_it_walks():
    assert largest({"type": "array", "maxItems": 2, "items": {"type": "string", "maxLength": 3}}) == 2 + 2 * 6
    assert largest({"type": "object", "properties": {"a": {"type": "boolean"}}}) == 2 + 5 + 5
    one_of = {"type": "object", "maxProperties": 1, "properties": {"a": {"type": "boolean"}, "bb": {"type": "integer"}}}
    assert largest(one_of) == 2 + len('"bb":,') + 24  # only the largest one of the fields counts


def test_value_from_gets_no_default():
    """An empty valueFrom is refused (minProperties 1), and a default one would be added to every literal
    env var: the generator gives an object that must have a field no default."""
    value_from = spec_schema()["properties"]["env"]["items"]["properties"]["valueFrom"]
    assert value_from["minProperties"] == value_from["maxProperties"] == 1
    assert "default" not in value_from
    defaults = [
        path for path, node, *_ in walk(spec_schema()) if node.get("default") == {} and node.get("minProperties")
    ]
    assert defaults == []
