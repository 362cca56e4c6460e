"""Operator settings: one typed object read from WEBSCALE_* environment variables."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_PROMETHEUS_URL = "http://prometheus.monitoring:9090"
"""The Prometheus that manifests/prometheus-kind installs, and the default spec.metrics.prometheus.url."""


class Settings(BaseSettings):
    """Every knob of the operator process (not of an app: those live in each ScaledWebApp)."""

    model_config = SettingsConfigDict(env_prefix="WEBSCALE_", frozen=True)

    namespace: str | None = None
    """Watch only this namespace (default: all namespaces)."""
    field_manager: str = "webscale"
    """Field manager for server-side apply of the objects the operator owns."""
    scaler_field_manager: str = "webscale-scaler"
    """Field manager that owns the Deployment's spec.replicas."""
    status_field_manager: str = "webscale-status"
    """Field manager of the status fields the reconciler writes (Ready, Invalid, replicas)."""
    resync_seconds: float = Field(default=60.0, gt=0)
    """How often every app's children are checked for drift even without events."""
    log_format: str = Field(default="json", pattern="^(json|plain)$")
    """json: one JSON object per line; plain: human-readable."""
    liveness_port: int = Field(default=8080, ge=0, le=65535)
    """Port of kopf's liveness endpoint (/healthz); 0 disables it."""
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    """Timeout of each Kubernetes API request."""
    scaling_tick_seconds: float = Field(default=1.0, gt=0)
    """How often the scaling loop looks for apps whose pollingInterval has passed."""
    metrics_scrape_interval_seconds: float = Field(default=15.0, gt=0)
    """Prometheus's scrape interval for the apps; rate windows are derived from it."""
    metrics_timeout_seconds: float = Field(default=5.0, gt=0)
    """Timeout of each Prometheus query."""
    prometheus_urls: Annotated[tuple[str, ...], NoDecode] = (DEFAULT_PROMETHEUS_URL,)
    """The Prometheus base URLs an app may name in spec.metrics.prometheus.url, comma-separated
    (a trailing slash does not matter). Any other URL marks the app Invalid and is never requested:
    an app's owner cannot make the operator send requests to a host the installer did not choose."""

    @field_validator("prometheus_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(url for url in value.replace(",", " ").split() if url)
        return value
