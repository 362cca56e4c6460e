"""The simulated world: a request-rate trace, pods that take time to start, metrics that lag.

Time runs in whole seconds. Each second the policy may act (on its own interval), then the
second is scored: load above the capacity of the READY pods is load over capacity (an SLO
breach); every pod that exists, ready or starting, costs one pod-second.

Scale to zero (policies with a `wake_delay`, `simulate.zero`): see `Wake`.

Models (all parameters of `World`):
* pods: a new pod carries load `startup_delay` seconds after it is asked for; removing pods
  takes the newest (starting ones first) and is immediate.
* capacity: `rps_per_worker` x `workers_per_pod` per ready pod; the offered load is what the
  metrics count (requests beyond capacity still arrive and are counted, then queue or fail).
  Every autoscaler aims at `target_utilization` of that capacity (the HPA's and KEDA's
  AverageValue target, Knative's target x target-utilization, webscale's per-worker target), and
  the oracle provisions exactly for that target.
* Prometheus: a counter scraped every `scrape_interval` (at multiples of it);
  `rate(...[rate_window])` read at time q uses the samples inside (q - rate_window, q], so it is
  the mean load between the oldest and the newest of them (rate() extrapolates that increase to
  the window, which leaves the mean unchanged): with 15 s scrapes and a 1m window, the mean of the
  45 s before the last scrape. Fewer than two samples, or an outage (`outages`), fail the read.
* requests in flight at the load balancer (HAProxy's current sessions to the app's pods, a gauge
  Prometheus scrapes with the counter): by Little's law in flight = rate x latency. Latency is the
  simplest queue that rises as the pods near saturation: each worker serves one request in
  1 / rps_per_worker seconds and a request's time in the app is that over (1 - utilisation)
  (an M/M/1 queue per worker), utilisation = offered load / the ready pods' capacity, capped at
  `saturation_cap` (0.95: at most 20x the service time; a real queue keeps growing until HAProxy's
  queue timeout, so above the cap the model understates an overload, never overstates it). So in
  flight per worker = u / (1 - u): 2.33 at the 70 % target, 9 at 90 %. A read returns the gauge
  as the last scrape saw it (the second before it), or nothing during an outage.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Protocol

from webscale.simulate.traces import Trace


@dataclass(frozen=True)
class World:
    """Parameters of the simulated cluster and its metrics pipeline."""

    startup_delay: int = 20
    scrape_interval: int = 15
    rate_window: int = 60
    rps_per_worker: float = 50.0
    workers_per_pod: int = 2
    min_replicas: int = 2
    max_replicas: int = 20
    outages: tuple[tuple[float, float], ...] = ()
    target_utilization: float = 1.0
    saturation_cap: float = 0.95

    def in_flight(self, load: float, capacity: float) -> float:
        """Requests in flight when `load` req/s meets `capacity` req/s of ready pods (see the module)."""
        if load <= 0:
            return 0.0
        utilization = min(load / capacity if capacity > 0 else math.inf, self.saturation_cap)
        return load / self.rps_per_worker / (1.0 - utilization)

    @property
    def per_pod(self) -> float:
        """Requests per second one ready pod carries."""
        return self.rps_per_worker * self.workers_per_pod

    @property
    def target_per_pod(self) -> float:
        """Requests per second every autoscaler aims to give one ready pod."""
        return self.per_pod * self.target_utilization

    def need(self, load: float) -> int:
        """Pods that carry `load` at the target utilisation, within the replica bounds."""
        return self.bounded(math.ceil(load / self.target_per_pod - 1e-9))

    def bounded(self, replicas: int) -> int:
        return max(self.min_replicas, min(self.max_replicas, replicas))


@dataclass(frozen=True)
class Load:
    """A trace with prefix sums, so window means cost O(1). Seconds before the trace repeat its
    first value, seconds after it repeat its last."""

    trace: Trace
    prefix: tuple[float, ...] = field(repr=False)

    @classmethod
    def of(cls, trace: Trace) -> Load:
        sums, total = [0.0], 0.0
        for value in trace.rps:
            total += value
            sums.append(total)
        return cls(trace, tuple(sums))

    def __len__(self) -> int:
        return len(self.trace.rps)

    def at(self, second: int) -> float:
        rps = self.trace.rps
        return rps[min(max(second, 0), len(rps) - 1)]

    def mean(self, start: int, end: int) -> float:
        """Mean load over the seconds [start, end)."""
        if end <= start:
            return self.at(start)
        n, first, last = len(self), self.trace.rps[0], self.trace.rps[-1]
        before = max(0, min(end, 0) - start)
        after = max(0, end - max(start, n))
        lo, hi = min(max(start, 0), n), min(max(end, 0), n)
        return (before * first + self.prefix[hi] - self.prefix[lo] + after * last) / (end - start)


@dataclass(frozen=True)
class View:
    """What a policy can see when it acts at `now`."""

    now: int
    replicas: int
    ready: int
    load: Load
    world: World
    flying: list[float] = field(default_factory=list, repr=False, compare=False)
    """Requests in flight at the end of each second so far (the engine's, read by `in_flight`)."""

    def in_flight(self) -> float | None:
        """Requests in flight at the load balancer as Prometheus last scraped them; None during an
        outage or before the first scrape of the run."""
        if any(start <= self.now < end for start, end in self.world.outages):
            return None
        last = self.now - self.now % self.world.scrape_interval - 1  # the second the last scrape saw
        return self.flying[last] if 0 <= last < len(self.flying) else None

    def prometheus_rate(self, window: int | None = None) -> float | None:
        """rate(requests[window]) as Prometheus answers it now (window: the world's rate_window
        unless given); None when it cannot."""
        if any(start <= self.now < end for start, end in self.world.outages):
            return None
        return self._rate_at(self.now, self.world.rate_window if window is None else window)

    def _rate_at(self, at: int, window: int) -> float | None:
        interval = self.world.scrape_interval
        last = at - at % interval
        first = last - (window - 1) // interval * interval  # the oldest sample inside the window
        return self.load.mean(first, last) if first < last else None

    def seasonal(self, offset: int, lookahead: int, level_window: int) -> tuple[float, float, float] | None:
        """What webscale's seasonal query answers now: (the highest rate(...[rate_window]) of the
        `lookahead` seconds from now - offset on, the mean rate over `level_window` ending at
        now - offset, and ending now); None during an outage or when the trace has no data at
        now - offset - level_window (Prometheus would not have it either)."""
        if any(start <= self.now < end for start, end in self.world.outages):
            return None
        then = self.now - offset
        if then - level_window < 0:
            return None
        step, window = self.world.scrape_interval, self.world.rate_window
        rates = [self._rate_at(t, window) for t in range(then, then + lookahead + 1, step)]
        ahead = max((r for r in rates if r is not None), default=None)
        then_level, now_level = self._rate_at(then, level_window), self._rate_at(self.now, level_window)
        if ahead is None or then_level is None or now_level is None:
            return None
        return ahead, then_level, now_level

    def recent_mean(self, window: int) -> float:
        """Mean load over the `window` seconds before now, read straight from the pods (Knative's way)."""
        return self.load.mean(self.now - window, self.now)

    def future_need(self, horizon: int) -> int:
        """The most pods the load needs from now to now + horizon (only the oracle may look)."""
        return max(self.world.need(self.load.at(s)) for s in range(self.now, self.now + horizon + 1))


class Policy(Protocol):
    """An autoscaler under test: acts every `interval` seconds; its state is a value it returns
    from each step and gets back at the next (so policies stay pure functions)."""

    @property
    def name(self) -> str: ...

    @property
    def interval(self) -> int: ...

    def start(self, view: View) -> tuple[int, Any]:
        """Pods at t=0 (all ready: the app was running before the trace) and the first state."""
        ...

    def step(self, state: Any, view: View) -> tuple[int, Any]: ...


@dataclass(frozen=True)
class Run:
    """One policy on one trace: the scores and the per-second series for plots."""

    trace: str
    policy: str
    pod_seconds: float
    seconds_over: int
    requests_over: float
    actions: int
    replicas: tuple[int, ...]
    capacity: tuple[float, ...]
    cold_starts: int = 0
    """Wake-ups from zero pods (policies that scale to zero: `simulate.zero`)."""
    requests_delayed: float = 0.0
    """Requests that arrived with no pod ready and were held at the load balancer until one was."""
    requests_timed_out: float = 0.0
    """Of those, the ones held longer than the policy's hold (answered 503 instead)."""
    delay_seconds: float = 0.0
    """Request-seconds spent held (sum over held requests of how long each waited)."""


def simulate(trace: Trace, policy: Policy, world: World) -> Run:
    """Run `policy` over `trace` in `world`."""
    load = Load.of(trace)
    delay = world.startup_delay
    start, state = policy.start(View(0, 0, 0, load, world))
    created = [-float(delay)] * world.bounded(start)  # creation time of each pod, oldest first
    replicas_series: list[int] = []
    capacity_series: list[float] = []
    seconds_over, requests_over, actions = 0, 0.0, 0
    flying: list[float] = []
    zero = Wake(getattr(policy, "wake_delay", None), getattr(policy, "hold", 0))
    for now in range(len(load)):
        if zero.enabled and zero.due(now, len(created), load.at(now)):
            created, actions = [float(now)], actions + 1  # the LB's held requests woke the app
            zero.cold_starts += 1
        if now % policy.interval == 0:
            ready = bisect_right(created, now - delay)  # created is in ascending order
            wanted, state = policy.step(state, View(now, len(created), ready, load, world, flying))
            wanted = world.bounded(wanted)
            if wanted != len(created):
                actions += 1
                if zero.enabled and not created:
                    zero.cold_starts += 1  # the policy woke it before the LB's wake-up did
                # Scale-down removes the newest pods first: starting ones before ready ones.
                created = created[:wanted] + [float(now)] * (wanted - len(created))
        capacity = bisect_right(created, now - delay) * world.per_pod
        offered = load.at(now)
        if zero.enabled:
            zero.account(now, offered, capacity > 0)
        flying.append(world.in_flight(offered, capacity))
        if offered > capacity + 1e-9:
            seconds_over += 1
            requests_over += offered - capacity
        replicas_series.append(len(created))
        capacity_series.append(capacity)
    return Run(
        trace=trace.name,
        policy=policy.name,
        pod_seconds=float(sum(replicas_series)),
        seconds_over=seconds_over,
        requests_over=requests_over,
        actions=actions,
        replicas=tuple(replicas_series),
        capacity=tuple(capacity_series),
        cold_starts=zero.cold_starts,
        requests_delayed=zero.delayed,
        requests_timed_out=zero.timed_out,
        delay_seconds=zero.delay_seconds,
    )


@dataclass
class Wake:
    """Scale to zero in the world (policies with a `wake_delay`): while no pod is ready, requests are held
    at the load balancer; the first held request wakes the app (one pod asked for) `wake_delay` seconds
    later; a held request is served when a pod is ready, or times out after `hold` seconds."""

    wake_delay: int | None
    hold: int
    wake_at: int | None = None
    held: list[tuple[int, float]] = field(default_factory=list)
    cold_starts: int = 0
    delayed: float = 0.0
    timed_out: float = 0.0
    delay_seconds: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.wake_delay is not None

    def due(self, now: int, pods: int, offered: float) -> bool:
        """True when the app at zero is to be woken now."""
        if pods > 0:
            self.wake_at = None
            return False
        if offered > 0 and self.wake_at is None:
            self.wake_at = now + int(self.wake_delay or 0)
        if self.wake_at is not None and now >= self.wake_at:
            self.wake_at = None
            return True
        return False

    def account(self, now: int, offered: float, ready: bool) -> None:
        """Hold this second's requests while no pod is ready; release (or time out) them when one is."""
        if not ready:
            if offered > 0:
                self.held.append((now, offered))
            expired = [(t, r) for t, r in self.held if now - t >= self.hold]
            for _, r in expired:
                self.timed_out += r
                self.delayed += r
                self.delay_seconds += r * self.hold
            self.held = [(t, r) for t, r in self.held if now - t < self.hold]
            return
        for t, r in self.held:
            self.delayed += r
            self.delay_seconds += r * (now - t)
        self.held = []
