"""The README's configuration reference, generated from the CRD schema (so it cannot drift)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from webscale.api.crd import crd

START, END = "<!-- reference:start -->", "<!-- reference:end -->"


def _type(node: dict[str, Any]) -> str:
    if node.get("x-kubernetes-int-or-string"):
        return "quantity"
    if "enum" in node:
        return " \\| ".join(str(v) for v in node["enum"])
    if node.get("type") == "array":
        return f"list of {node['items'].get('type', 'object')}"
    return str(node.get("type", "object"))


def _bounds(node: dict[str, Any]) -> str:
    parts = []
    if "minimum" in node:
        parts.append(f"{'>' if node.get('exclusiveMinimum') else '>='} {node['minimum']}")
    if "maximum" in node:
        parts.append(f"<= {node['maximum']}")
    return ", ".join(parts)


def rows(node: dict[str, Any], path: str = "spec") -> Iterator[tuple[str, str, str, str]]:
    for name, child in node.get("properties", {}).items():
        sub = f"{path}.{name}"
        nested = child.get("type") == "object" and "properties" in child
        default = "" if nested or "default" not in child else json.dumps(child["default"])
        kind = _type(child) + (f" ({_bounds(child)})" if _bounds(child) else "")
        description = " ".join(child.get("description", "").split()).replace("|", "\\|")
        yield sub, kind, default, description
        if nested:
            yield from rows(child, sub)
        elif child.get("type") == "array" and "properties" in child.get("items", {}):
            yield from rows(child["items"], f"{sub}[]")


def reference_markdown() -> str:
    spec = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    lines = ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| `{p}` | {t} | {f'`{d}`' if d else ''} | {m} |" for p, t, d, m in rows(spec)]
    return "\n".join(lines)


def render_into(readme: str) -> str:
    """The README with the text between the reference markers replaced by the generated table."""
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{reference_markdown()}\n{END}{tail}"
