"""Does a live object already hold everything we would apply? (pure)

Server-side apply of an unchanged object is still a PATCH request; the
operator skips it when `holds(desired, live)` is true, so a no-op resync makes
no write at all. The server adds defaults (protocol, imagePullPolicy, ...) to
live objects, so this is a subset test, with quantities compared by value
("1.5" == "1500m", "1024Mi" == "1Gi").
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from kubernetes.utils import parse_quantity

QUANTITY_KEYS = frozenset({"cpu", "memory", "ephemeral-storage"})


def _same_quantity(a: Any, b: Any) -> bool:
    try:
        return bool(parse_quantity(a) == parse_quantity(b))
    except (ValueError, TypeError):
        return False


def _omitted(value: Any) -> bool:
    """The API server drops zero values (false, 0, "", empty lists and maps) from what it returns."""
    return value in (False, 0, "", None) or value == [] or value == {}


def holds(desired: Any, live: Any, key: str | None = None) -> bool:
    """True when every field set in `desired` has the same value in `live`."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(holds(v, live[k], k) if k in live else _omitted(v) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return False
        return all(holds(d, x) for d, x in zip(desired, live, strict=True))
    if desired == live:
        return True
    return key in QUANTITY_KEYS and _same_quantity(desired, live)


def drifted_paths(desired: Any, live: Any, path: str = "") -> list[str]:
    """Where `live` departs from `desired` (for logs and Events), e.g. ["spec.template.spec.containers[0].image"]."""
    if isinstance(desired, dict) and isinstance(live, dict):
        out: list[str] = []
        for k, v in desired.items():
            sub = f"{path}.{k}" if path else k
            if k in live:
                out += drifted_paths(v, live[k], sub)
            elif not _omitted(v):
                out.append(sub)
        return out
    if isinstance(desired, list) and isinstance(live, list) and len(desired) == len(live):
        return [
            p for i, (d, x) in enumerate(zip(desired, live, strict=True)) for p in drifted_paths(d, x, f"{path}[{i}]")
        ]
    key = path.rsplit(".", 1)[-1]
    return [] if holds(desired, live, key) else [path]


def intent_hash(desired: dict[str, Any]) -> str:
    """A short, stable hash of an object's whole intent (key order does not matter)."""
    canonical = json.dumps(desired, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
