"""Operator settings: one typed object read from WEBSCALE_* environment variables."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_PROMETHEUS_URL = "http://prometheus.monitoring:9090"
"""The Prometheus that manifests/prometheus-kind installs, and the default spec.metrics.prometheus.url."""


class Settings(BaseSettings):
    """Every knob of the operator process (not of an app: those live in each ScaledWebApp)."""

    model_config = SettingsConfigDict(
        env_prefix="WEBSCALE_", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False
    )

    namespace: str | None = Field(default=None, min_length=1)
    """Watch only this namespace (default: all namespaces)."""
    field_manager: str = "webscale"
    """Field manager for server-side apply of the objects the operator owns."""
    scaler_field_manager: str = "webscale-scaler"
    """Field manager that owns the Deployment's spec.replicas."""
    status_field_manager: str = "webscale-status"
    """Field manager of the status fields the reconciler writes (Ready, Invalid, replicas)."""
    resync_seconds: float = Field(default=60.0, gt=0, le=86_400)
    """How often every app's children are checked for drift even without events (spread evenly over
    the period: a slice of the apps each second)."""
    log_format: str = Field(default="json", pattern="^(json|plain)$")
    """json: one JSON object per line; plain: human-readable."""
    liveness_port: int = Field(default=8080, ge=0, le=65535)
    """Port of the operator's HTTP endpoint: /metrics (Prometheus), /healthz (liveness: fails when the
    scaling loop has not completed a tick for `liveness_stale_ticks` ticks, or its last 10 ticks all failed)
    and /readyz; 0 disables it."""
    liveness_stale_ticks: int = Field(default=30, ge=2)
    """Ticks of `scaling_tick_seconds` without a completed scaling-loop tick before /healthz fails."""
    api_qps: float = Field(default=200.0, gt=0, le=1_000_000)
    """Client-side limit on Kubernetes API requests per second (token bucket). The API server's own
    Priority and Fairness protects it (its 429s are retried after Retry-After); this limit keeps a
    runaway loop from flooding it. A steady operator makes ~0 requests; 200/s lets many new apps
    converge at the API server's pace, where 50/s made the client the bottleneck (bench/results/scale.md)."""
    api_burst: int = Field(default=400, ge=1, le=1_000_000)
    """Requests the client may send at once above `api_qps` after a quiet spell."""
    workers: int = Field(default=8, ge=1, le=256)
    """Threads for per-app work (reconcile, act): at most this many apps are worked on at once;
    one app's slow call never holds up the others beyond this pool."""
    haproxy_image: str = Field(default="haproxy:3.2-alpine", min_length=1, pattern=r"^\S+$")
    """Image of the HAProxy tier's pods (provider haproxy): the official one by default; set a mirror for a
    cluster that cannot pull from Docker Hub. It must read /usr/local/etc/haproxy/haproxy.cfg and run as uid 99,
    as the official image does."""
    leader_election: bool = True
    """Elect one active replica on a Lease; only the leader reconciles and scales."""
    lease_name: str = "webscale-operator"
    """Name of the leader-election Lease."""
    lease_namespace: str | None = None
    """Namespace of the Lease (default: the pod's namespace from POD_NAMESPACE / the service account,
    else `namespace`, else "default")."""
    lease_duration_seconds: float = Field(default=8.0, gt=0, le=3600)
    """A standby takes the Lease when it has not been renewed for this long (so failover takes at most
    this plus `lease_retry_seconds`)."""
    lease_renew_deadline_seconds: float = Field(default=5.0, gt=0, le=3600)
    """A leader that could not renew for this long stops writing (must be below the duration)."""
    lease_retry_seconds: float = Field(default=1.0, gt=0, le=3600)
    """How often the Lease is renewed or tried."""
    identity: str | None = None
    """This replica's name in the Lease and in the API server's audit log (default: POD_NAME, else
    hostname-pid)."""
    status_quantum: float = Field(default=0.05, ge=0, le=1)
    """Observed request rate and CPU are written to status only when they moved by more than this
    fraction (5 %): a steady app makes no status writes."""
    watch_timeout_seconds: int = Field(default=300, ge=10, le=3600)
    """Server-side timeout of one watch call (it resumes from where it was)."""
    request_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    """Timeout of each Kubernetes API request."""
    scaling_tick_seconds: float = Field(default=1.0, gt=0, le=60)
    """How often the scaling loop looks for apps whose pollingInterval has passed."""
    metrics_scrape_interval_seconds: float = Field(default=15.0, gt=0, le=3600)
    """Prometheus's scrape interval for the apps; rate windows are derived from it."""
    metrics_timeout_seconds: float = Field(default=5.0, gt=0, le=600)
    """Timeout of each Prometheus query."""
    wake_poll_seconds: float = Field(default=0.5, ge=0, le=10)
    """How often the held-request counters of the HAProxy pods of apps at zero are read (runtime.wake:
    the first held request wakes its app within about this long); 0 turns the fast wake-up off (apps at
    zero then wake at their next poll, if its reading shows traffic)."""
    fast_poll_seconds: float = Field(default=2.0, ge=0, le=60)
    """How often the leader reads the request counter of the HAProxy pods of warm apps for burst mode on
    the in-band rate (runtime.fast_signal, autoscaling.burst.fastSignal); 0 turns it off (burst mode
    then reads Prometheus alone)."""
    fast_reads_per_round: int = Field(default=200, ge=1, le=100_000)
    """At most this many HAProxy pods are read per fast round; with more, apps take turns (each app is
    then read every ceil(pods / this) rounds), so the cost stays bounded at any number of apps."""
    wake_port: int = Field(default=8081, ge=0, le=65535)
    """Port where the HAProxy pods of apps at zero ask for a ready pod of their app (runtime.wake_answer:
    ``/webscale/wake/<namespace>/<name>``, answered from the pod cache, nothing else served there); 0
    disables it. Every replica answers, so a Service in front of the operator's pods may route to any."""
    cluster_domain: str = Field(
        default="cluster.local",
        max_length=200,
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$",
    )
    """The cluster's DNS domain (the kubelet's ``clusterDomain``, kubeadm's ``--service-dns-domain``). HAProxy
    finds an app's pods at ``_http._tcp.<app>-pods.<namespace>.svc.<cluster_domain>``: on a cluster built with
    another domain, set it, or HAProxy finds no pods and answers 503."""
    wake_url: str = Field(
        default="", max_length=280, pattern=r"^(http://[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?/?)?$"
    )
    """Where HAProxy reaches `wake_port`, as http://<host>[:<port>] (the chart: its wake Service's cluster DNS
    name). Rendered into every scale-to-zero app's haproxy.cfg; empty: held requests wait for DNS alone
    (a new pod is found up to ~10 s later, reconcile.hold)."""
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

    @field_validator("prometheus_urls")
    @classmethod
    def _urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one Prometheus URL is needed (every app would be Invalid)")
        for url in value:
            if not _BASE_URL.match(url):
                raise ValueError(f"{url!r} is not an http:// or https:// base URL such as {DEFAULT_PROMETHEUS_URL}")
        return value

    @model_validator(mode="after")
    def _together(self) -> Settings:
        lease = (self.lease_duration_seconds, self.lease_renew_deadline_seconds, self.lease_retry_seconds)
        if not lease[0] > lease[1] > lease[2]:
            raise ValueError(
                "WEBSCALE_LEASE_DURATION_SECONDS > WEBSCALE_LEASE_RENEW_DEADLINE_SECONDS > "
                f"WEBSCALE_LEASE_RETRY_SECONDS is needed, got {lease[0]:g}, {lease[1]:g}, {lease[2]:g}"
            )
        if self.liveness_port and self.liveness_port == self.wake_port:
            raise ValueError(
                f"WEBSCALE_LIVENESS_PORT and WEBSCALE_WAKE_PORT are both {self.wake_port}: they need two ports"
            )
        return self


_BASE_URL = re.compile(r"^https?://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[^\s?#;,]*)?$")
"""A Prometheus base URL: scheme, host (a name, an IPv4 or a bracketed IPv6 address) and port, an optional
path; no query, fragment or user."""


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """Each WEBSCALE_* variable of `environ` that is no setting (ignored), with the setting it may have
    meant: "WEBSCALE_PROMETHEUS_URL (WEBSCALE_PROMETHEUS_URLS?)"."""
    known = [f"WEBSCALE_{name.upper()}" for name in Settings.model_fields]
    out = []
    for name in sorted(environ):
        if name.startswith("WEBSCALE_") and name not in known:
            near = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
            out.append(f"{name} ({near[0]}?)" if near else name)
    return out


def settings_problem(error: ValidationError) -> str:
    """The settings' errors as the installer wrote them: each named by its environment variable."""
    lines = []
    for problem in error.errors():
        where = "".join(str(part) for part in problem["loc"][:1])
        message = str(problem["msg"]).removeprefix("Value error, ")
        got = problem.get("input")
        if not where:  # a rule across settings: its message names them
            lines.append(message)
            continue
        shown = f" (got {got!r})" if isinstance(got, str | int | float) else ""
        lines.append(f"WEBSCALE_{where.upper()}: {message}{shown}")
    return "; ".join(lines)
