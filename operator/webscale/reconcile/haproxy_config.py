"""Render an app's haproxy.cfg from its spec (pure; called by `webscale.reconcile.haproxy`).

What the rendered configuration does, and why:

* **Backends from DNS, never by reload.** The app's headless Service ``<name>-pods`` publishes
  one SRV record per ready pod (``_http._tcp.<name>-pods.<namespace>.svc.<cluster domain>``,
  the port named ``http``); ``server-template`` reserves ``replicas.max`` server slots and the
  ``resolvers`` section fills them from a fresh answer every `HOLD_VALID`. Scaling the app changes
  DNS only: HAProxy is never reloaded and the rendered file does not change.
* **Strategies:** round-robin -> ``balance roundrobin``; least-connections -> ``balance leastconn``;
  ip-hash -> ``balance source`` with ``hash-type consistent`` (removing one pod moves only the
  clients that were on it).
* **Health** from the app's ``/readyz`` (a draining pod answers 503 and leaves before it stops);
  ``retries`` + ``option redispatch`` send a request whose connection failed to another pod.
* **maxconn per server** = workers per pod x `CONNECTIONS_PER_WORKER` (16). The limit keeps a
  worker from being flooded: beyond it, requests wait in HAProxy's queue (``timeout queue 30s``) and
  go to the first pod with a free slot instead of queueing behind a busy worker. A Node cluster
  worker is one asynchronous event loop: a CPU-bound request holds it, but requests waiting on I/O
  (a database, another service) overlap freely, and by Little's law a worker holds requests in
  flight = its request rate x their latency. The limit must sit well above that mean, or HAProxy
  queues requests the worker would have served at once: one one-worker pod taking ~400 req/s of
  10 ms I/O-bound requests from 12 connections holds ~4.2 on average and bursts to ~12; with the
  earlier 4 per worker HAProxy queued the excess and added a third to p50 (x1.31-1.34, +3.3-3.5 ms,
  against the same load sent straight to the pod), with 8 still ~2 % to p50 and ~20 % to p99
  (exploratory), with 16 nothing measurable (x1.01; bench/results/lb.md measures 4 against 16 in
  each run). 16 lets a worker hold ~5 requests in flight on average with room for bursts of ~3x
  (e.g. 500 req/s of 10 ms waits, 250 req/s of 20 ms ones) before HAProxy queues.
  What it costs: a worker may hold 16 requests, so a CPU-bound route queues up to 16 inside one
  worker (the last waits 16 x its CPU time: 160 ms for a 10 ms request) rather than in HAProxy's
  shared queue for the first free pod; and round-robin keeps sending a slow pod its turn until it
  holds 16 per worker (4 before), where the lower limit made it skip the slow pod. lb.md, one pod at
  a quarter of the CPU: round-robin's p99 106 ms at 16 against 66 ms at 4 in the same run
  (least-connections 28 ms either way); with a pod that stalls (25 ms of every 100), six
  closed-loop clients get stuck on it under round-robin: ~900-1,600 req/s and a third of the requests
  there at 16, against ~5,300 req/s and 8-9 % at 4 (exploratory, same run, 2 rounds; p99 ~75 ms,
  the stall, either way; least-connections ~4,800-6,400 req/s at both). least-connections, which
  sends each request to the pod with the fewest in flight, rarely reaches the limit and is barely
  affected: it is the strategy for apps that may meet a slow pod, and round-robin's protection by a
  low limit came at the price of queueing healthy I/O-bound load.
* **Metrics and probes:** HAProxy's built-in Prometheus exporter on `METRICS_PORT` (``/metrics``),
  which also answers the pod's probes: ``/healthz`` (liveness: the process answers) and ``/readyz``
  (`LB_READY_PATH`, readiness: at least one app pod is up in the backend). An HAProxy pod whose
  servers have not passed their first health checks yet (or are all down) would answer every
  request with a 503; not Ready, the Service does not send it any, and the app's Ready condition
  (an HAProxy pod Ready) means a request is served. With scale to zero, the hold answers for the
  pods while none is up, so HAProxy is Ready with no server.
* **Connections to the pods are kept and shared** by HAProxy's own defaults, which this file
  relies on and does not restate: keep-alive on both sides (``option http-keep-alive``; never
  ``http-server-close``) and ``http-reuse safe`` (a client's second and later requests may use any
  idle connection to the chosen pod; its first gets a connection of its own, so if a pod closes a
  shared connection just as a request is sent, that request is one a browser silently retries,
  as it does on its own kept-alive connections). bench/lb.py counts it from HAProxy's
  exporter: round-robin over three pods, ~11,000 requests -> 6 connections opened to the pods. What
  round-robin costs over ip-hash for one client at a time is three colder app processes, not new
  connections (round-robin with one pod listed costs what ip-hash does; bench/results/lb.md).
* **Logging:** one line per request (``option httplog``) on stdout, where ``kubectl logs`` finds
  it: the access log at the load balancer is what an on-call person reads first. In exploratory
  runs on the bench rig, dropping the successful requests' lines (``option dontlog-normal``) saved ~5 % of
  HAProxy's CPU per trivial request, within the noise, so every request stays logged; the metrics
  frontend (probes, scrapes) logs errors only. Threads are HAProxy's default (one per CPU it may
  run on): in the same exploratory runs (HAProxy's CPU time per request, 3 rounds, 2-core machine)
  one thread cost ~25 % less CPU per request than two; pinning it would cap a pod at one core, so a
  per-app CPU setting for the HAProxy pods would be the place to size threads, not this file.

Injection safety: every value written here is either an integer, one of a fixed set of words,
or a DNS name checked against `DNS_NAME` (`token`; names and namespaces are also checked at
admission): nothing else from the resource reaches the file, so no value can start a new line,
a comment or a directive. Service annotations and the
like go to Kubernetes objects, never into haproxy.cfg.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from webscale.api.models import ScaledWebAppSpec
from webscale.api.workers import workers_per_pod
from webscale.reconcile import hold as zero

HTTP_PORT = 8080
"""Where HAProxy serves the app (the entry Service's targetPort)."""
METRICS_PORT = 8404
"""HAProxy's Prometheus exporter and health endpoint."""
FRONTEND = "http"
BACKEND = "pods"
"""The backend's name: the ``proxy`` label of its series in HAProxy's exporter."""
SERVER_PREFIX = "pod"
RESOLVERS = "cluster"
CONNECTIONS_PER_WORKER = 16
"""In-flight requests HAProxy sends one worker at most (see maxconn above: why 16, and what it costs)."""
GLOBAL_MAXCONN = 8000
"""Connections per HAProxy pod; needs about 2 x 8000 file descriptors (container runtimes allow far more)."""
HOLD_VALID = "5s"
"""How often a good answer is asked again (``hold valid``): a new pod gets traffic within about this
long (CoreDNS's kubernetes plugin answers with a 5 s TTL by default)."""
HOLD_OBSOLETE = "0s"
"""A pod gone from DNS leaves at the next answer (its clients move; the others stay)."""
HOLD_FAILED = "30s"
"""While DNS fails (timeout, refused, NXDOMAIN, other), the last good answer is kept this long (HAProxy's
default), so a DNS hiccup or a restart of the DNS server never empties the backend."""
READY_PATH = "/readyz"
IDEMPOTENT_METHODS = ("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE")
"""RFC 9110's idempotent methods: the only requests HAProxy sends again after a pod answered nothing."""
LB_READY_PATH = "/readyz"
"""HAProxy's own readiness path on `METRICS_PORT`: 200 while a server of the backend is up."""
DEFAULT_CLUSTER_DOMAIN = "cluster.local"

BALANCE = {
    "round-robin": ["balance roundrobin"],
    "least-connections": ["balance leastconn"],
    "ip-hash": ["balance source", "hash-type consistent"],
}

WAKE_URL = re.compile(r"^http://[a-z0-9.-]+(:[0-9]{1,5})?/[a-z0-9./-]+$")
"""A held request's wake URL (`hold.wake_url_for`): one word of safe characters in haproxy.cfg."""
DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
"""A lower-case DNS name (RFC 1123): what Kubernetes allows for names, namespaces and domains."""


class ConfigValueError(ValueError):
    """A value that cannot be written into haproxy.cfg safely; str() names it."""


def token(value: str, what: str) -> str:
    """`value` if it is a DNS name (letters, digits, '-', '.'), else ConfigValueError naming `what`.

    Such a token contains no space, quote, '#', backslash, '$' or line break, so HAProxy reads
    it as exactly one word with no expansion.
    """
    if not isinstance(value, str) or len(value) > 253 or not DNS_NAME.match(value):
        raise ConfigValueError(f"{what} {value!r} is not a DNS name; it cannot go into haproxy.cfg")
    return value


def number(value: int, what: str, low: int, high: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigValueError(f"{what} {value!r} must be an integer from {low} to {high}")
    return str(value)


@dataclass(frozen=True)
class Backends:
    """Where the pods are found: the SRV name of the headless Service and how many slots."""

    srv_name: str
    slots: int
    maxconn: int


def srv_name(namespace: str, name: str, cluster_domain: str = DEFAULT_CLUSTER_DOMAIN) -> str:
    """The SRV name of the app's headless Service (port ``http``, TCP)."""
    host = (
        f"{token(name, 'app name')}-pods.{token(namespace, 'namespace')}.svc.{token(cluster_domain, 'cluster domain')}"
    )
    return f"_http._tcp.{token(host, 'headless Service name')}"


def server_maxconn(spec: ScaledWebAppSpec) -> int:
    """maxconn of one pod: workers per pod x CONNECTIONS_PER_WORKER."""
    return workers_per_pod(spec) * CONNECTIONS_PER_WORKER


def backends_for(
    namespace: str, name: str, spec: ScaledWebAppSpec, cluster_domain: str = DEFAULT_CLUSTER_DOMAIN
) -> Backends:
    return Backends(srv_name(namespace, name, cluster_domain), spec.replicas.max, server_maxconn(spec))


def render(strategy: str, backends: Backends, held: zero.Hold | None = None) -> str:
    """haproxy.cfg for one app. `strategy` is a spec.loadBalancer.strategy value; `held` (apps with
    autoscaling.scaleToZero) adds the lines that hold requests while no pod is usable (`hold`)."""
    if strategy not in BALANCE:
        raise ConfigValueError(f"loadBalancer.strategy {strategy!r} is not one of {', '.join(BALANCE)}")
    srv = backends.srv_name
    if not srv.startswith("_http._tcp."):
        raise ConfigValueError(f"SRV name {srv!r} is not _http._tcp.<DNS name>")
    token(srv.removeprefix("_http._tcp."), "SRV name")
    slots = number(backends.slots, "replicas.max", 1, 1000)
    maxconn = number(backends.maxconn, "maxconn per pod", 1, 100000)
    holds = held is not None
    if held is not None:
        number(held.hold_ms, "holdRequestsFor in ms", 1, 3_600_000)
        number(held.retry_after, "Retry-After", 1, 3600)
        if held.wake_url is not None and not WAKE_URL.match(held.wake_url):
            raise ConfigValueError(f"wake URL {held.wake_url!r} is not http://<host>[:<port>]/<path of DNS names>")
    lines = [
        "# Generated by webscale-operator from the ScaledWebApp; do not edit (it is replaced).",
        "global",
        "    log stdout format raw local0 info",
        f"    maxconn {GLOBAL_MAXCONN}",
        "    hard-stop-after 30s",
        *(zero.global_lines(RESOLVERS) if holds else []),
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option dontlognull",
        "    option forwardfor",
        "    option redispatch 1",
        "    retries 3",
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 4s",
        "    timeout queue 30s",
        "    timeout check 2s",
        "",
        f"resolvers {RESOLVERS}",
        "    parse-resolv-conf",
        "    accepted_payload_size 8192",
        "    resolve_retries 3",
        f"    timeout resolve {zero.RESOLVE_AT_ZERO if holds else '1s'}",
        "    timeout retry 1s",
        f"    hold valid {zero.HOLD_VALID_AT_ZERO if holds else HOLD_VALID}",
        f"    hold obsolete {HOLD_OBSOLETE}",
        *(f"    hold {status} {HOLD_FAILED}" for status in ("nx", "other", "refused", "timeout")),
        "",
        f"frontend {FRONTEND}",
        f"    bind :{HTTP_PORT}",
        *(zero.frontend_lines(held, BACKEND) if held is not None else []),
        f"    default_backend {BACKEND}",
        "",
        "frontend metrics",
        f"    bind :{METRICS_PORT}",
        "    option dontlog-normal",
        "    http-request use-service prometheus-exporter if { path /metrics }",
        "    http-request return status 200 content-type text/plain string ok if { path /healthz }",
        *(
            []
            if holds
            else [
                f"    http-request return status 503 content-type text/plain string no-server-up "
                f"if {{ path {LB_READY_PATH} }} {{ nbsrv({BACKEND}) eq 0 }}"
            ]
        ),
        f"    http-request return status 200 content-type text/plain string ok if {{ path {LB_READY_PATH} }}",
        *(zero.metrics_lines() if holds else []),
        "    http-request deny deny_status 404",
        "",
        f"backend {BACKEND}",
        *(f"    {line}" for line in BALANCE[strategy]),
        # a pod closing a kept-alive connection just as a request goes out on it (a drain, a rollout)
        # answers nothing: that request goes to another pod, for the methods a retry cannot repeat harm
        "    retry-on conn-failure empty-response",
        f"    http-request disable-l7-retry if !{{ method {' '.join(IDEMPOTENT_METHODS)} }}",
        f"    option httpchk GET {READY_PATH}",
        "    http-check expect status 200",
        f"    default-server check inter {zero.INTER if holds else '2s'}"
        f"{f' downinter {zero.DOWNINTER}' if holds else ''} fall 2 rise 2 "
        f"maxconn {maxconn} "
        f"resolvers {RESOLVERS} resolve-prefer ipv4 init-addr none",
        f"    server-template {SERVER_PREFIX} 1-{slots} {srv}",
        *(zero.backend_lines() if holds else []),
        "",
    ]
    return "\n".join(lines)


def render_for(
    namespace: str, name: str, spec: ScaledWebAppSpec, cluster_domain: str = DEFAULT_CLUSTER_DOMAIN, wake_base: str = ""
) -> str:
    """The haproxy.cfg of one app; `wake_base` is the operator setting wake_url (`hold.wake_url_for`)."""
    try:
        wake_url = zero.wake_url_for(wake_base, token(namespace, "namespace"), token(name, "app name"))
    except zero.WakeURLError as exc:
        raise ConfigValueError(str(exc)) from exc
    held = zero.hold_for(spec, wake_url)
    return render(spec.load_balancer.strategy, backends_for(namespace, name, spec, cluster_domain), held)


def sections(cfg: str) -> dict[str, list[str]]:
    """Parse a rendered file into {"<section> <name>": [directive lines]} (comments and blanks dropped).

    Used by tests to show that hostile input cannot change the file's structure.
    """
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in cfg.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            current = out.setdefault(line.strip(), [])
        elif current is not None:
            current.append(line.strip())
        else:
            raise ValueError(f"directive outside a section: {line!r}")
    return out
