"""`App`: one ScaledWebApp as the operator knows it, carried through the whole loop.

One value holds the app's identity (namespace and name, which are also its metric labels
``namespace`` and ``app``), its parsed and validated spec, its annotations and last status.
Maps of apps are keyed by ``app.ref`` (`webscale.api.ref.AppRef`), never by the `App` value:
an `App` is not hashable, so a dict cannot be keyed by one by mistake.

Parsing happens once, when the object is read from a watch, never per poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from webscale.api import model_base, models
from webscale.api.names import name_errors
from webscale.api.ref import AppRef
from webscale.api.validation import semantic_errors

PAUSED_ANNOTATION = f"{models.GROUP}/paused"


@dataclass(frozen=True, eq=False)
class App:
    """A ScaledWebApp: identity (`ref`), then what the watch said of it."""

    __hash__ = None  # type: ignore[assignment]  # key maps by `ref`

    namespace: str
    name: str
    uid: str = field(default="", compare=False)
    generation: int = field(default=0, compare=False)
    status: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    annotations: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    deleting: bool = field(default=False, compare=False)
    spec: models.ScaledWebAppSpec | None = field(default=None, compare=False, repr=False)
    """The parsed spec; None when it does not parse (see `errors`)."""
    errors: tuple[str, ...] = field(default=(), compare=False)
    """Every problem with the spec, each naming its field; empty when valid."""
    resource_version: str = field(default="", compare=False, repr=False)

    @property
    def ref(self) -> AppRef:
        """The app's identity: the key of every map of apps."""
        return AppRef(self.namespace, self.name)

    @classmethod
    def unreadable(cls, body: Any, problem: str) -> App:
        """An Invalid app whose spec could not even be checked (the checker itself failed on it)."""
        return cls(**_metadata_fields(body), errors=(problem,))

    @classmethod
    def from_body(cls, body: Any, allowed_prometheus_urls: Sequence[str] | None = None) -> App:
        """Parse and validate a ScaledWebApp object (a dict or a kopf Body).

        allowed_prometheus_urls: the installer's allow-list (None: read it from Settings)."""
        meta = body["metadata"]
        raw = dict(body.get("spec") or {})
        spec, errors = parse(raw, allowed_prometheus_urls)
        errors = [*name_errors(meta["name"]), *errors]
        return cls(**_metadata_fields(body), spec=spec, errors=tuple(errors))

    @property
    def key(self) -> str:
        """`namespace/name`, for logs and metrics."""
        return f"{self.namespace}/{self.name}"

    @property
    def valid_spec(self) -> models.ScaledWebAppSpec:
        """The parsed spec of a valid app (builders and the scaling loop only see valid apps)."""
        if self.spec is None or self.errors:
            raise ValueError(f"{self.key} has no valid spec: {'; '.join(self.errors)}")
        return self.spec

    @property
    def valid(self) -> bool:
        return self.spec is not None and not self.errors

    @property
    def paused(self) -> bool:
        return self.annotations.get(PAUSED_ANNOTATION) == "true"

    def involved(self) -> dict[str, Any]:
        """The app as an Event's involvedObject."""
        return {
            "apiVersion": f"{models.GROUP}/{models.VERSION}",
            "kind": models.KIND,
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
        }


def parse(
    raw: dict[str, Any], allowed_prometheus_urls: Sequence[str] | None = None
) -> tuple[models.ScaledWebAppSpec | None, list[str]]:
    """The parsed spec, or None and every problem with the field it concerns."""
    try:
        spec = models.parse_spec(raw)
    except ValidationError as exc:
        return None, [models.format_validation_error(exc)]
    return share_sections(spec), semantic_errors(spec, allowed_prometheus_urls)


_SECTIONS: dict[tuple[str, str], Any] = {}
SHARED_SECTIONS_MAX = 20_000
"""Distinct spec sections kept for sharing; past this the table starts again (memory stays bounded)."""


def share_sections(spec: models.ScaledWebAppSpec) -> models.ScaledWebAppSpec:
    """`spec` with each section (autoscaling, loadBalancer, ...) replaced by an equal one already held.

    Specs are frozen, and defaulting by the API server makes most apps' sections identical, so a
    thousand apps hold one `autoscaling` section instead of a thousand copies (~7 KB each)."""
    if len(_SECTIONS) > SHARED_SECTIONS_MAX:
        _SECTIONS.clear()
    shared = {}
    for name in type(spec).model_fields:
        value = getattr(spec, name)
        if isinstance(value, model_base.Model):
            key = (name, value.model_dump_json())
            shared[name] = _SECTIONS.setdefault(key, value)
    return spec.model_copy(update=shared)


def _metadata_fields(body: Any) -> dict[str, Any]:
    """The fields of an `App` that come from the object's metadata and status, not its spec."""
    meta = body["metadata"]
    return {
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "generation": int(meta.get("generation") or 0),
        "status": dict(body.get("status") or {}),
        "annotations": dict(meta.get("annotations") or {}),
        "deleting": bool(meta.get("deletionTimestamp")),
        "resource_version": str(meta.get("resourceVersion") or ""),
    }
