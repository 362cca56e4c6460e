"""The README's configuration reference, generated from the CRD schema (so it cannot drift)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from webscale.api.crd import crd
from webscale.settings import Settings

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


SETTINGS_START, SETTINGS_END = "<!-- settings:start -->", "<!-- settings:end -->"


def settings_markdown() -> str:
    """The operator's WEBSCALE_* settings, from the typed Settings model (field docstrings)."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = "unset" if field.default is None else f"`{field.default}`"
        doc = " ".join((field.description or "").split()).replace("|", "\\|")
        lines.append(f"| `WEBSCALE_{name.upper()}` | {default} | {doc} |")
    return "\n".join(lines)


def _replace(text: str, start: str, end: str, body: str) -> str:
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def render_into(readme: str) -> str:
    """The README with the generated spec reference and operator settings table in place."""
    out = _replace(readme, START, END, reference_markdown())
    if SETTINGS_START in out:
        out = _replace(out, SETTINGS_START, SETTINGS_END, settings_markdown())
    return out
