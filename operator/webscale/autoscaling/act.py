"""The scaling loop's act step: for one app, decide on its Observation and apply the Decision.

Measure (a MetricsSource, batched over the due apps by the runtime) -> decide (`autoscaling.decide`,
pure) -> act (this module): patch spec.replicas with the scaler's field manager, annotate pods whose
worker count differs, write status and Events when they carry news. Everything is read from the watch
caches (`ClusterView`): a steady app costs no request at all. Blocking: runs in the runtime's pool.
"""

from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass, field, replace
from typing import Any

from kubernetes.client.rest import ApiException
from kubernetes.utils import parse_quantity

from webscale import telemetry
from webscale.api import models
from webscale.api.app import App
from webscale.api.conditions import owned, status_holds
from webscale.api.durations import seconds
from webscale.api.labels import WORKERS_ANNOTATION, selector_labels
from webscale.api.observation import Observation
from webscale.api.ref import AppRef
from webscale.api.status import SCALER_CONDITIONS, SCALER_FIELDS, iso, parse_iso
from webscale.autoscaling.app_metrics import AppMetrics, sample_of
from webscale.autoscaling.decide import Current, Decision, History, decide
from webscale.autoscaling.panic import Panic, panic_step, pods_needed
from webscale.autoscaling.reasons import BURST_MODE, fmt
from webscale.autoscaling.status import (
    decision_status,
    failed_status,
    history_from_status,
    meaningful,
    memory_status,
    paused_status,
)
from webscale.autoscaling.zero import ZeroDecision, decide_zero, last_request, wake, wake_invalid, warm_spec
from webscale.kube.cache import ClusterView, own_deployment, own_replica_sets
from webscale.kube.client import is_gone
from webscale.kube.interface import KubeAPI
from webscale.kube.own_pods import controlled_pods, own_pods
from webscale.metrics.prometheus import AppQuery

log = logging.getLogger(__name__)


@dataclass
class AppState:
    """What the loop remembers of one app between polls (in memory; the essentials also in status.memory)."""

    history: History | None = None
    """None until the first act, which seeds it from status.memory."""
    last_poll: float = float("-inf")
    polled_generation: int | None = None
    """The spec's metadata.generation at the last poll: a newer one is polled at once."""
    last_request_at: float | None = None
    """When a request was last seen (autoscaling.zero.last_request); None until the first poll."""
    waiting: int = 0
    """Requests held at the load balancer at the last read (runtime.wake, apps at zero only)."""
    panic: Panic = field(default_factory=Panic)
    """Burst mode on the in-band rate (runtime.fast_signal): while on, no poll goes below panic.most."""


def due_now(last_poll: float, now: float, interval: float) -> bool:
    """Polls fall on a grid shared by every app with the same interval (multiples of it since
    the epoch), so apps created at different times are still measured in the same batch."""
    if interval <= 0:
        return True
    return math.floor(now / interval) > math.floor(last_poll / interval) if last_poll > float("-inf") else True


def due_at(now: float, interval: float) -> float:
    """The grid point an app polled at `now` was due at."""
    return math.floor(now / interval) * interval if interval > 0 else now


def cpu_request_cores(spec: models.ScaledWebAppSpec) -> float | None:
    """The pod's CPU request: spec.resources.cpu, else the limit (Kubernetes then requests the limit)."""
    cpu = spec.resources.cpu or spec.resources.limits.cpu
    return float(parse_quantity(cpu)) if cpu else None


def current_of(deployment: dict[str, Any], spec: models.ScaledWebAppSpec, workers: int) -> Current:
    return Current(
        replicas=int(deployment.get("spec", {}).get("replicas") or 0),
        ready_replicas=int(deployment.get("status", {}).get("readyReplicas") or 0),
        workers_per_pod=workers,
        cpu_request_cores=cpu_request_cores(spec),
    )


def query_of(app: App) -> AppQuery:
    return AppQuery.from_spec(app.ref, app.valid_spec)


STARTUP_SAMPLE = 10
"""How many of the app's most recently created ready pods the learned start-up time is the median of."""


def startup_seconds(pods: list[dict[str, Any]], app_name: str) -> float | None:
    """The median time from creation to Ready of the app's most recent ready web pods (pure); None
    when no pod has become ready yet. Read from the pod cache: no request. `pods`: the app's own
    (`kube.own_pods.controlled_pods`), or a look-alike's start-up would move the app's lead time."""
    selector, samples = selector_labels(app_name), []
    for pod in pods:
        meta = pod["metadata"]
        if not selector.items() <= (meta.get("labels") or {}).items():
            continue
        created = parse_iso(meta.get("creationTimestamp"))
        ready = next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
        became = parse_iso((ready or {}).get("lastTransitionTime")) if (ready or {}).get("status") == "True" else None
        if created is not None and became is not None and became >= created:
            samples.append((created, became - created))
    recent = [s for _, s in sorted(samples)[-STARTUP_SAMPLE:]]
    return statistics.median(recent) if recent else None


def learned_startup(view: ClusterView, app: App) -> float | None:
    """`startup_seconds` of the pods of the app's own Deployment, from the caches: a pod labelled as the
    app's but made by no ReplicaSet of that Deployment never moves the app's lead time."""
    owners = own_replica_sets(view, app, app.name)
    return startup_seconds(controlled_pods(view.children("Pod", app), owners), app.name)


def pods_to_resize(pods: list[dict[str, Any]], app: App, owners: frozenset[str], workers: int) -> list[str]:
    """Names of the app's running web pods (controlled by the ReplicaSets `owners`: never a look-alike
    someone labelled as the app's) whose worker annotation is not `workers` (pure)."""
    wanted = str(workers)
    out = []
    for meta, _ in own_pods(pods, app.namespace, selector_labels(app.name), owners):
        if (meta.get("annotations") or {}).get(WORKERS_ANNOTATION) != wanted:
            out.append(str(meta["name"]))
    return out


PANIC_FLOOR_SECONDS = 10.0
"""A panic whose condition was last seen longer ago than this no longer holds the polls up: the fast
signal stopped reading the app (a leader change, its HAProxy pods gone or silent, apps taking turns)."""


def held_by_panic(spec: models.ScaledWebAppSpec, decision: Decision, panic: Panic) -> Decision:
    """A poll's decision while burst mode on the in-band rate is on: never below the pods the panic
    asked for (pure)."""
    floor = max(spec.replicas.min, min(spec.replicas.max, panic.most))
    if decision.replicas >= floor:
        return decision
    before = decision.from_replicas
    action = f"scaling {before} -> {floor}" if floor != before else f"keeping {floor}"
    message = (
        f"burst: the request rate at the load balancer still needs {panic.most} pods (the poll's reading "
        f"asked for {decision.replicas}); {action}"
    )
    return replace(decision, replicas=floor, reason=BURST_MODE, message=message, limited=False)


class Autoscaler:
    """Decides and acts for one app at a time; remembers each app's History."""

    def __init__(self, kube: KubeAPI, view: ClusterView, status_quantum: float = 0.05) -> None:
        self.kube = kube
        self.view = view
        self.status_quantum = status_quantum
        self.states: dict[AppRef, AppState] = {}
        self.app_metrics = AppMetrics()
        """The per-app series of /metrics (`webscale_app_*`)."""

    def forget(self, ref: AppRef) -> None:
        self.states.pop(ref, None)
        self.app_metrics.forget(ref)

    def due(self, apps: list[App], now: float) -> list[App]:
        """The valid, live apps whose polling interval has passed, or whose spec changed since their last
        poll (a raised replicas.min, a new target: acted on now, not at the next poll; pure but for
        reading states)."""
        out = []
        for app in apps:
            if app.deleting or not app.valid:
                continue
            state = self.states.get(app.ref)
            last = state.last_poll if state else float("-inf")
            changed = state is not None and state.polled_generation not in (None, app.generation)
            if changed or due_now(last, now, seconds(app.valid_spec.autoscaling.polling_interval)):
                out.append(app)
        return out

    def mark_polled(self, app: App, now: float) -> None:
        """The app was measured at `now` (whether or not its act step can run)."""
        state = self.states.setdefault(app.ref, AppState())
        state.last_poll, state.polled_generation = now, app.generation

    def act(self, app: App, observation: Observation, now: float) -> Decision | None:
        """Decide and apply for one app; returns the Decision (None when there was nothing to decide)."""
        spec = app.valid_spec
        deployment = own_deployment(self.view, app)
        if deployment is None:
            return None  # the reconciler creates it (or reports the name taken); scale it next poll
        workers = int(app.status.get("workersPerPod") or 1)
        current = current_of(deployment, spec, workers)
        state = self.states.setdefault(app.ref, AppState(last_poll=now))
        if state.history is None:
            after = spec.autoscaling.fallback.after_failures
            state.history = history_from_status(app.status, current.replicas, now, after)
        if app.paused:
            self._write_status(app, paused_status(app.status, now, app.generation))
            return None
        decision = decide(
            warm_spec(spec),  # replicas.min 0 is decided by the scale-to-zero rules below
            observation,
            current,
            state.history,
            now,
            recent_rps=observation.recent_requests_per_second,
            startup_seconds=learned_startup(self.view, app),
        )
        state.history = decision.history
        state.last_request_at = last_request(state.last_request_at, observation, state.waiting, now)
        zero = decide_zero(spec, current.replicas, observation, state.waiting, state.last_request_at, now)
        if zero is not None:
            decision = replace(
                decision, replicas=zero.replicas, reason=zero.reason, message=zero.message, limited=False
            )
        if zero is None and state.panic.since is not None and now - state.panic.since <= PANIC_FLOOR_SECONDS:
            decision = held_by_panic(spec, decision, state.panic)
        interval = seconds(spec.autoscaling.polling_interval)
        self.app_metrics.record(app.ref, sample_of(decision, current.ready_replicas, now, interval))
        applied = False
        if spec.autoscaling.mode != "recommend" and decision.scaled:
            self._scale(app, decision)
            applied = True
            log.info("%s: %s", app.key, decision.message)
        if spec.workers.live:  # the workers the spec asks for, in every mode: recommend holds replicas only
            self._resize_workers(app, decision.workers_per_pod)
        status, events = decision_status(
            app.status, decision, observation, spec.autoscaling.mode, applied, now, app.generation
        )
        status["memory"] = memory_status(app.status, decision.history)
        self._write_status(app, status)
        if zero is not None:  # ScaledToZero / Waking rather than ScaledDown / ScaledUp
            events = [replace(e, reason=zero.reason) if e.reason in ("ScaledUp", "ScaledDown") else e for e in events]
        for event in events:
            if event.message != decision.message:  # a scale's own words are logged above
                log.info("%s: %s: %s", app.key, event.reason, event.message)
            self.kube.event(app.involved(), event.type, event.reason, event.message)
        return decision

    def wake(self, app: App, waiting: int, now: float) -> ZeroDecision | None:
        """The fast path (runtime.wake, every ~0.5 s for apps at zero): note the requests held at the load
        balancer, and scale an app at zero with requests waiting to one pod at once."""
        state = self.states.setdefault(app.ref, AppState())
        state.waiting = waiting
        if waiting > 0:
            state.last_request_at = now
        deployment = own_deployment(self.view, app)
        if deployment is None or app.paused or (app.valid and app.valid_spec.autoscaling.mode == "recommend"):
            return None
        replicas = int(deployment.get("spec", {}).get("replicas") or 0)
        woken = wake(app.valid_spec, replicas, waiting) if app.valid else wake_invalid(replicas, waiting)
        if woken is None:
            return None
        self._set_replicas(app, woken.replicas)
        telemetry.SCALING_ACTIONS.labels("up").inc()
        self.app_metrics.woken(app.ref, woken.replicas, woken.reason)
        log.info("%s: %s", app.key, woken.message)
        last = {"at": iso(now), "from": 0, "to": woken.replicas, "reason": woken.reason, "message": woken.message}
        self._write_status(app, {"desiredReplicas": woken.replicas, "lastScale": last})
        self.kube.event(app.involved(), "Normal", woken.reason, woken.message)
        return woken

    def panic(self, app: App, rate: float, now: float) -> int | None:
        """The fast path (runtime.fast_signal, every ~2 s for warm apps behind HAProxy): burst mode on the
        in-band rate. Scales up at once when the rate needs burst.fastSignal.threshold x the ready pods;
        returns the new replica count (None when nothing was written)."""
        spec = app.valid_spec
        fast = spec.autoscaling.burst.fast_signal
        deployment = own_deployment(self.view, app)
        if deployment is None or app.paused or spec.autoscaling.mode != "auto":
            return None
        current = current_of(deployment, spec, int(app.status.get("workersPerPod") or 1))
        if current.replicas == 0:
            return None  # at zero: the wake loop's
        state = self.states.setdefault(app.ref, AppState())
        per_pod = current.workers_per_pod * spec.autoscaling.target.requests_per_second_per_worker
        wanted, state.panic = panic_step(
            current.replicas, current.ready_replicas, rate, per_pod, fast.threshold, 0, now, state.panic
        )
        wanted = max(spec.replicas.min, min(spec.replicas.max, wanted))
        if wanted <= current.replicas:
            return None
        need = pods_needed(rate, per_pod)
        message = (
            f"burst: {rate:.1f} req/s at the load balancer over the last {fast.window} needs {need} pods, "
            f"{need / max(1, current.ready_replicas):.1f}x the {current.ready_replicas} ready (fastSignal "
            f"threshold {fmt(fast.threshold)}x); scaling {current.replicas} -> {wanted} at once"
        )
        self._set_replicas(app, wanted)
        telemetry.SCALING_ACTIONS.labels("up").inc()
        self.app_metrics.woken(app.ref, wanted, BURST_MODE)
        log.info("%s: %s", app.key, message)
        last = {"at": iso(now), "from": current.replicas, "to": wanted, "reason": BURST_MODE, "message": message}
        self._write_status(app, {"desiredReplicas": wanted, "lastScale": last})
        self.kube.event(app.involved(), "Normal", "ScaledUp", message)
        return wanted

    def report_failure(self, app: App, why: str, now: float) -> None:
        """A scaling step of this app failed (`why`: one line): its ScalingActive condition says so, so the
        app's owner sees it in `kubectl describe swa`, not only the operator's log."""
        self._write_status(app, failed_status(app.status, why, now, app.generation))

    def _write_status(self, app: App, update: dict[str, Any]) -> None:
        """Apply the loop's whole part of status when a reader would learn something from it."""
        old = app.status
        new = owned({**old, **update}, SCALER_FIELDS, SCALER_CONDITIONS)
        if not meaningful(old, new, self.status_quantum) or status_holds(new, old):
            return
        try:
            result = self.kube.apply_status(app.namespace, app.name, new, self.kube.settings.scaler_field_manager)
        except ApiException as exc:
            if is_gone(exc):
                return
            raise
        self.view.put(result)

    def _set_replicas(self, app: App, replicas: int) -> None:
        """Apply spec.replicas of the app's Deployment with the scaler's field manager."""
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app.name, "namespace": app.namespace},
            "spec": {"replicas": replicas},
        }
        self.view.put(self.kube.apply(body, manager=self.kube.settings.scaler_field_manager))

    def _scale(self, app: App, decision: Decision) -> None:
        self._set_replicas(app, decision.replicas)
        telemetry.SCALING_ACTIONS.labels("up" if decision.replicas > decision.from_replicas else "down").inc()

    def _resize_workers(self, app: App, workers: int) -> None:
        """Annotate running pods whose worker count differs (from the pod cache: no LIST); the app
        re-reads the annotation without a restart."""
        owners = own_replica_sets(self.view, app, app.name)
        resized = []
        try:
            for name in pods_to_resize(self.view.children("Pod", app), app, owners, workers):
                try:
                    self.kube.patch_annotations("v1", "Pod", app.namespace, name, {WORKERS_ANNOTATION: str(workers)})
                    telemetry.WORKER_RESIZES.inc()
                    resized.append(name)
                except ApiException as exc:
                    if not is_gone(exc):
                        raise
        finally:
            if resized:
                log.info("%s: %d worker(s) per pod now, live, on %s", app.key, workers, ", ".join(resized))
