"""Who this replica is, and where its Lease lives (from settings, the pod's environment, or the host)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from webscale.settings import Settings

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def identity(settings: Settings) -> str:
    """WEBSCALE_IDENTITY, else POD_NAME (set by the manifests from the downward API), else host-pid."""
    return settings.identity or os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


def lease_namespace(settings: Settings) -> str:
    if settings.lease_namespace:
        return settings.lease_namespace
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    if SERVICE_ACCOUNT_NAMESPACE.exists():
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
    return settings.namespace or "default"
