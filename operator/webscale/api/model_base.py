"""What every part of the ScaledWebApp model shares: camelCase on the wire, unknown fields rejected,
docstrings as the descriptions `kubectl explain` shows; and the Kubernetes quantity type."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from webscale.api.bounds import QUANTITY_MAX_LENGTH, QUANTITY_PATTERN


def as_quantity(value: Any) -> Any:
    """Accept a bare number (cpu: 2) as Kubernetes does and keep it as a string."""
    if isinstance(value, bool):
        raise ValueError("a quantity must be a number or a string such as 500m or 512Mi")
    if isinstance(value, int | float):
        return str(value)
    return value


Quantity = Annotated[
    str,
    Field(pattern=QUANTITY_PATTERN, max_length=QUANTITY_MAX_LENGTH, json_schema_extra={"x-webscale-quantity": True}),
]


class Model(BaseModel):
    """Base: camelCase on the wire, unknown fields rejected, docstrings as descriptions."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
        frozen=True,
    )
