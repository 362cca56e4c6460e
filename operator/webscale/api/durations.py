"""Durations in the ScaledWebApp resource ("500ms", "15s", "5m", "1h"): the string type, its bounds
checked alike by the API server (CEL) and by the model, and their length in seconds."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Field, JsonValue

from webscale.api.bounds import DURATION_MAX_LENGTH

_DURATION_RE = re.compile(r"^(\d+)(ms|s|m|h)$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_PATTERN = _DURATION_RE.pattern

Duration = Annotated[
    str,
    Field(pattern=DURATION_PATTERN, max_length=DURATION_MAX_LENGTH, json_schema_extra={"x-webscale-duration": True}),
]
"""A duration such as "500ms", "15s", "5m" or "1h"."""


def _checked_duration(rule: dict[str, str], check: Callable[[str], str]) -> tuple[Any, ...]:
    """A Duration string's metadata: a CEL rule for the API server and the same check in the model."""
    rules: list[JsonValue] = [dict(rule)]
    return (
        Field(
            pattern=DURATION_PATTERN,
            max_length=DURATION_MAX_LENGTH,
            json_schema_extra={"x-webscale-duration": True, "x-kubernetes-validations": rules},
        ),
        AfterValidator(check),
    )


def duration_within(minimum: str, maximum: str, field: str, off: bool = False) -> tuple[Any, ...]:
    """A Duration within minimum..maximum (or 0s, when `off` allows it), checked by the API server (CEL)
    and by the model (the metadata of an `Annotated[str, ...]`)."""
    what = f"{'0s or ' if off else ''}between {minimum} and {maximum}"

    def check(value: str) -> str:
        if not (off and seconds(value) == 0) and not seconds(minimum) <= seconds(value) <= seconds(maximum):
            raise ValueError(f"{field} must be {what}, got {value}")
        return value

    within = f"duration(self) >= duration('{minimum}') && duration(self) <= duration('{maximum}')"
    rule = {
        "rule": f"duration(self) == duration('0s') || ({within})" if off else within,
        "message": f"{field} must be {what}",
    }
    return _checked_duration(rule, check)


def seconds(duration: str) -> float:
    """Seconds in a Duration string ("15s" -> 15.0)."""
    match = _DURATION_RE.match(duration)
    if not match:
        raise ValueError(f"not a duration: {duration!r} (use a number and a unit: 500ms, 15s, 5m, 1h)")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]
