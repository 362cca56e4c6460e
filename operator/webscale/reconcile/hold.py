"""The HAProxy side of scale to zero: hold requests while the app has no usable pod (pure).

Rendered into an app's haproxy.cfg by `haproxy_config.render` only when the app has an
autoscaling.scaleToZero section; an app without it gets exactly the config it had before.

How a request is held, and why this way:

* The frontend runs ``http-request lua.webscale_hold ... if { nbsrv(pods) eq 0 }``. ``nbsrv`` is
  HAProxy's own count of usable servers, an integer compare: while the app has a ready pod the
  condition is false, the Lua action never runs, and the request takes the path it always took (no
  extra hop, no Lua call). Only a request that finds no usable server enters the action.
* The action (`HOLD_LUA`) sleeps in steps of `POLL_MS` (``core.msleep`` yields: the HAProxy thread
  keeps serving everything else) until ``nbsrv`` is above zero, then lets the request continue to
  the backend, where the usual balancing picks the new pod; after holdRequestsFor it answers 503
  with Retry-After itself. Nothing but HAProxy is in the path, so with the operator down held
  requests still time out cleanly with 503 and every other request is untouched.
* Why not HAProxy's queue (``timeout queue``): a request is queued only when servers exist and are
  full; with no usable server HAProxy answers 503 at once. Why not a backup "activator" server:
  it would be another process in the path at zero, a second thing to run, scale and keep up (it is
  Knative's activator, and KEDA's interceptor, which users report as the slow part).
* The wake-up signal: the action counts requests waiting, held, released and timed out in the
  HAProxy process; the metrics frontend serves them at `HELD_PATH` in Prometheus text format. The
  operator reads that endpoint of the HAProxy pods of apps at zero only, every ~0.5 s: warm apps
  cost nothing, and no request pays for the counting once a pod is ready.
* Servers found faster at zero: a pod that turns ready must reach HAProxy through DNS (with no
  answer the resolvers ask every `RESOLVE_AT_ZERO`, a good answer is asked again every
  `HOLD_VALID_AT_ZERO` instead of 5 s); a server learned from DNS counts as usable at once (seen on
  the real node: "UP/READY (resolves again)"; DNS lists only Ready pods), one that goes down is checked
  every `DOWNINTER` instead of 2 s, one that is up every `INTER`, and servers without an address are
  not checked at all). So a held request reaches a
  new pod within about 0.5 s of the pod being ready in DNS (250 ms + 2 x 100 ms + the 50 ms step).
* The first pod sooner than DNS (`WOKEN`): DNS is slow to show a new pod. The cluster DNS caches the
  "no such name" it gave while the app had no pod (CoreDNS: 5 s), and on the real node a held request
  waited up to ~10 s after its pod was Ready (bench/results/node.md). So while requests are held, one of
  them at a time asks the operator (`wake_url`, the operator setting ``wake_url``) for a ready pod of the
  app; the operator answers from its pod cache as soon as the kubelet marks one Ready (it holds the
  question up to a second while none is). The answer goes into the backend's one extra server,
  ``woken`` (disabled until then), whose health check is the same as the others'; the held requests go
  to it within `POLL_MS`. Once a server found through DNS is up, ``woken`` goes back to maintenance:
  DNS stays the source of record. HAProxy trusts the operator's Service name exactly as it trusts the
  SRV records (the same cluster DNS), and the answer is parsed strictly (an address and a port). With
  no ``wake_url`` or the operator down, the asks fail fast and DNS alone finds the pod, as before.
  Why the operator is asked, not told: a push to the HAProxy pods would need a secret on every one of
  them (anyone who reaches the port could otherwise point the app's traffic anywhere); asking needs
  none, and costs nothing while no request is held.
* Going to zero, the last pod leaves DNS during its ``preStop`` sleep (`builders.DRAIN_DELAY_SECONDS`,
  while it still serves), and one that fails /readyz is found down within ``inter`` `INTER`, so a
  request that arrives as the app goes to zero is held for the next pod rather than sent to one that
  is leaving.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from webscale.api.models import ScaledWebAppSpec
from webscale.api.scale_to_zero import RETRY_AFTER_SECONDS, settings

LUA_KEY = "hold.lua"
"""The ConfigMap key (and file name next to haproxy.cfg) of the Lua script."""
LUA_PATH = f"/usr/local/etc/haproxy/{LUA_KEY}"
"""Where the HAProxy pods find it (the ConfigMap is mounted at reconcile.haproxy.CONFIG_DIR)."""
ACTION = "webscale_hold"
SERVICE = "webscale_held"
HELD_PATH = "/webscale/held"
"""Where the metrics frontend serves the held-request counters."""
POLL_MS = 50
"""How often a held request looks for a usable server: at most this long added to a cold start."""
HOLD_VALID_AT_ZERO = "1s"
"""A good DNS answer is asked again every second (instead of 5 s): one query a second per HAProxy pod."""
WOKEN = "woken"
"""The backend's extra server, set to the pod the operator names while requests are held."""
WAKE_PATH = "/webscale/wake"
"""Where the operator answers ``<WAKE_PATH>/<namespace>/<name>`` with a ready pod ("<ip> <port>")."""
ASK_EVERY_MS = 100
"""At most one ask in flight per HAProxy process, and at least this long between two."""
ASK_TIMEOUT_MS = 2000
"""One ask's timeout: above the operator's wait (`runtime.wake_answer.WAIT_SECONDS`, 1 s)."""
WATCH_MS = 200
"""How often, once ``woken`` serves, HAProxy looks for a server found through DNS to take over."""
NO_WAKE_URL = "-"
"""The action's wake-URL argument when the operator has none (HAProxy waits for DNS only)."""
WAKE_BASE = re.compile(r"^http://[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?(:[0-9]{1,5})?$")
"""The operator setting wake_url: plain http, a host name or IPv4 address, an optional port, no path.
Nothing but these characters reaches haproxy.cfg: it is one word there."""
RESOLVE_AT_ZERO = "250ms"
"""With no good answer (at zero the headless Service has no pod: NXDOMAIN) DNS is asked 4 times a second."""
DOWNINTER = "100ms"
"""A server that is down is checked this often (rise 2: usable 0.2 s after its pod answers /readyz)."""
INTER = "500ms"
"""A server that is up is checked this often (fall 2: down within about 1 s of its pod failing /readyz,
instead of 2-4 s at ``inter 2s``). Going to zero needs it: a pod told to stop fails /readyz at once but
keeps serving only briefly (the sample app: 2 s), and DNS drops it seconds later still (the cluster DNS
caches answers: CoreDNS 5 s). A request that arrives after the pod stopped serving but while HAProxy still
counts it usable is not held: it is sent to the pod, fails, and with no other server there is nowhere to
retry it. Checked within the pod's drain, it finds the server down and waits for the next pod."""

WAITING = "webscale_held_requests_waiting"
OLDEST = "webscale_held_requests_oldest_seconds"
"""How long the oldest request waiting now has waited (0 when none waits): where a cold start began."""
HELD_TOTAL = "webscale_held_requests_total"
RELEASED_TOTAL = "webscale_held_requests_released_total"
TIMED_OUT_TOTAL = "webscale_held_requests_timed_out_total"

HOLD_LUA = f"""-- Generated by webscale-operator: hold requests while the backend has no usable server.
-- Loaded with lua-load (one Lua state shared by HAProxy's threads, so the counters are per process).
local waiting, held, released, timed_out = 0, 0, 0, 0
local since = nil -- when the oldest of the requests waiting now arrived (nil: none waiting)
local asking, last_ask, watching = false, nil, false

local function elapsed_ms(start)
  local now = core.now()
  return (now.sec - start.sec) * 1000 + (now.usec - start.usec) / 1000
end

local function dns_server_up(backend)
  for name, server in pairs(core.backends[backend].servers) do
    if name ~= "{WOKEN}" then
      local status = server:get_stats()["status"]
      if status and string.sub(status, 1, 2) == "UP" then return true end
    end
  end
  return false
end

-- once a server found through DNS is up, {WOKEN} leaves: DNS is the source of record
local function hand_back(backend)
  return function()
    while not dns_server_up(backend) do core.msleep({WATCH_MS}) end
    core.backends[backend].servers["{WOKEN}"]:set_maint()
    watching = false
  end
end

-- ask the operator for a ready pod of the app; one ask at a time per process, {ASK_EVERY_MS} ms apart
local function ask(backend, url)
  if url == "{NO_WAKE_URL}" or asking or (last_ask and elapsed_ms(last_ask) < {ASK_EVERY_MS}) then return end
  asking, last_ask = true, core.now()
  local ok, res = pcall(function() return core.httpclient():get{{url = url, timeout = {ASK_TIMEOUT_MS}}} end)
  asking = false
  if not ok or type(res) ~= "table" or res.status ~= 200 or type(res.body) ~= "string" then return end
  local ip, port = string.match(res.body, "^([0-9a-fA-F:.]+) ([0-9]+)\\n$")
  port = tonumber(port)
  if not ip or not port or port < 1 or port > 65535 then return end
  local server = core.backends[backend].servers["{WOKEN}"]
  server:set_addr(ip, port)
  server:set_ready()
  if not watching then
    watching = true
    core.register_task(hand_back(backend))
  end
end

core.register_action("{ACTION}", {{"http-req"}}, function(txn, backend, hold_ms, retry_after, wake_url)
  local limit = tonumber(hold_ms)
  local start = core.now()
  if waiting == 0 then since = start end
  waiting = waiting + 1
  held = held + 1
  while elapsed_ms(start) < limit do
    if tonumber(txn.f:nbsrv(backend)) > 0 then
      waiting = waiting - 1
      if waiting == 0 then since = nil end
      released = released + 1
      return
    end
    ask(backend, wake_url)
    core.msleep({POLL_MS})
  end
  waiting = waiting - 1
  if waiting == 0 then since = nil end
  timed_out = timed_out + 1
  txn:done(txn:reply({{
    status = 503,
    headers = {{["retry-after"] = {{retry_after}}, ["content-type"] = {{"text/plain"}}}},
    body = "no pod of this app became ready in time; retry after " .. retry_after .. " s\\n",
  }}))
end, 4)

core.register_service("{SERVICE}", "http", function(applet)
  local oldest = since and elapsed_ms(since) / 1000 or 0
  local body = string.format(
    "# TYPE {WAITING} gauge\\n{WAITING} %d\\n"
      .. "# TYPE {OLDEST} gauge\\n{OLDEST} %.3f\\n"
      .. "# TYPE {HELD_TOTAL} counter\\n{HELD_TOTAL} %d\\n"
      .. "# TYPE {RELEASED_TOTAL} counter\\n{RELEASED_TOTAL} %d\\n"
      .. "# TYPE {TIMED_OUT_TOTAL} counter\\n{TIMED_OUT_TOTAL} %d\\n",
    waiting, oldest, held, released, timed_out)
  applet:set_status(200)
  applet:add_header("content-type", "text/plain; version=0.0.4")
  applet:add_header("content-length", tostring(#body))
  applet:start_response()
  applet:send(body)
end)
"""


@dataclass(frozen=True)
class Hold:
    """How long a request is held (ms), the Retry-After (s) of the 503 after it, and where the held
    requests ask the operator for a ready pod (None: nowhere, DNS only)."""

    hold_ms: int
    retry_after: int = RETRY_AFTER_SECONDS
    wake_url: str | None = None


class WakeURLError(ValueError):
    """The operator setting wake_url is not a plain http://host[:port]; str() says so."""


def wake_url_for(base: str, namespace: str, name: str) -> str | None:
    """The URL the app's HAProxy pods ask (`WAKE_PATH`/<namespace>/<name> under the operator's `base`);
    None when `base` is empty. Raises WakeURLError for a base that is not http://host[:port]."""
    if not base:
        return None
    base = base.rstrip("/")
    if len(base) > 280 or not WAKE_BASE.match(base):
        raise WakeURLError(f"wake_url {base!r} must be http://<host>[:<port>] (letters, digits, '-', '.')")
    port = base.rpartition(":")[2]
    if base.count(":") == 2 and not 1 <= int(port) <= 65535:
        raise WakeURLError(f"wake_url {base!r}: port {port} is not from 1 to 65535")
    return f"{base}{WAKE_PATH}/{namespace}/{name}"


def hold_for(spec: ScaledWebAppSpec, wake_url: str | None = None) -> Hold | None:
    """The app's Hold when it has an autoscaling.scaleToZero section, else None (config as before)."""
    zero = settings(spec)
    return Hold(zero.hold_ms, wake_url=wake_url) if zero else None


def global_lines(resolvers: str) -> list[str]:
    """The script, and the operator's name (wake_url) resolved by the same cluster DNS as the pods'."""
    return [
        f"    lua-load {LUA_PATH}",
        f"    httpclient.resolvers.id {resolvers}",
        "    httpclient.resolvers.prefer ipv4",
    ]


def frontend_lines(hold: Hold, backend: str) -> list[str]:
    args = f"{backend} {hold.hold_ms} {hold.retry_after} {hold.wake_url or NO_WAKE_URL}"
    return [f"    http-request lua.{ACTION} {args} if {{ nbsrv({backend}) eq 0 }}"]


def backend_lines() -> list[str]:
    """The extra server the operator's answer fills (disabled, so not counted, until then)."""
    return [f"    server {WOKEN} 0.0.0.0:1 disabled"]


def metrics_lines() -> list[str]:
    return [f"    http-request use-service lua.{SERVICE} if {{ path {HELD_PATH} }}"]


def parse_held(text: str) -> dict[str, float]:
    """The counters of one HAProxy pod's `HELD_PATH` answer ({name: value}; malformed lines skipped)."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in (WAITING, OLDEST, HELD_TOTAL, RELEASED_TOTAL, TIMED_OUT_TOTAL):
            try:
                number = float(value)
            except ValueError:
                continue
            if math.isfinite(number) and number >= 0:
                found[name] = number
    return found
