"""`AppRef`: the identity of one ScaledWebApp, the one key every app-keyed map uses.

An app is named by its namespace and name everywhere: the registry, the work queue, the
autoscaler's history, the metrics source's answers and failure log, and the Prometheus labels
``namespace`` and ``app`` of its series. `App` (`webscale.api.app`) carries an `AppRef` as `ref`
with the parsed spec; the key is always the `AppRef`, never the `App` value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class AppRef:
    """A ScaledWebApp's namespace and name (hashable, ordered, cheap)."""

    namespace: str
    name: str

    def __str__(self) -> str:
        """`namespace/name`, as logs and kubectl write it."""
        return f"{self.namespace}/{self.name}"
