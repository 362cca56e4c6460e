"""`KubeAPI`: what the reconciler and the scaling loop may ask of the Kubernetes API.

The real client (`webscale.kube.client.Kube`) and the unit tests' in-memory fake
(`tests/support/webscale_local/fake_kube.py`) both implement it; `make lint` type-checks both
against it, so a fake that drifts from the real client fails lint rather than a test passing
against something production does not do.
"""

from __future__ import annotations

from typing import Any, Protocol

from webscale.settings import Settings


class KubeAPI(Protocol):
    """Reads, server-side apply, deletes, status and Events; writes raise `NotLeader` on a standby."""

    @property
    def settings(self) -> Settings: ...

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """One object, or None when it does not exist."""
        ...

    def apply(self, obj: dict[str, Any], manager: str | None = None) -> dict[str, Any]:
        """Server-side apply `obj` as `manager` (default: the operator's field manager); the result."""
        ...

    def delete(self, api_version: str, kind: str, namespace: str, name: str, uid: str | None = None) -> None:
        """Delete one object (only if it still has `uid`, when given); gone already is fine."""
        ...

    def patch_annotations(self, api_version: str, kind: str, namespace: str, name: str, values: dict[str, str]) -> None:
        """Merge-patch annotations of one object."""
        ...

    def apply_status(self, namespace: str, name: str, status: dict[str, Any], manager: str) -> dict[str, Any]:
        """Server-side apply a ScaledWebApp's status as `manager`; the result."""
        ...

    def event(self, involved: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an Event on `involved` (best effort: never raises)."""
        ...
