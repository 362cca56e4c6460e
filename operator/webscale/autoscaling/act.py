"""The scaling loop: one poll for all apps that are due, then act on each decision.

Measure (a MetricsSource, batched over apps) -> decide (scaling.decide, pure)
-> act (patch spec.replicas with the scaler's field manager, annotate pods with
their worker count, write status and Events). Blocking: run `poll` in a thread.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from kubernetes.utils import parse_quantity

from webscale.api import models
from webscale.api.app import App
from webscale.api.conditions import owned, status_holds
from webscale.api.labels import WORKERS_ANNOTATION, selector_string
from webscale.api.observation import Observation
from webscale.autoscaling.decide import Current, Decision, History, decide
from webscale.autoscaling.status import STATUS_CONDITIONS, STATUS_FIELDS, decision_status, meaningful, paused_status
from webscale.kube.client import Kube
from webscale.metrics.prometheus import AppQuery, MetricsSource

log = logging.getLogger(__name__)
PAUSED_ANNOTATION = f"{models.GROUP}/paused"


@dataclass
class AppState:
    """What the loop remembers of one app between polls (in memory)."""

    history: History = field(default_factory=History)
    last_poll: float = float("-inf")


def due_now(last_poll: float, now: float, interval: float) -> bool:
    """Polls fall on a grid shared by every app with the same interval (multiples of it since
    the epoch), so apps created at different times are still measured in the same batch."""
    if interval <= 0:
        return True
    return math.floor(now / interval) > math.floor(last_poll / interval) if last_poll > float("-inf") else True


def cpu_request_cores(spec: models.ScaledWebAppSpec) -> float | None:
    return float(parse_quantity(spec.resources.cpu)) if spec.resources.cpu else None


def current_of(deployment: dict[str, Any], spec: models.ScaledWebAppSpec, workers: int) -> Current:
    return Current(
        replicas=int(deployment.get("spec", {}).get("replicas") or 0),
        ready_replicas=int(deployment.get("status", {}).get("readyReplicas") or 0),
        workers_per_pod=workers,
        cpu_request_cores=cpu_request_cores(spec),
    )


class Autoscaler:
    """Polls metrics for due apps and applies the decisions."""

    def __init__(self, kube: Kube, source: MetricsSource) -> None:
        self.kube = kube
        self.source = source
        self.states: dict[App, AppState] = {}

    def forget(self, key: App) -> None:
        self.states.pop(key, None)

    def poll(self, apps: list[App], now: float) -> int:
        """One tick: observe every app whose pollingInterval has passed, in one batch; returns how many."""
        due: list[tuple[App, models.ScaledWebAppSpec]] = []
        for app in apps:
            spec = self._usable_spec(app)
            if spec is None:
                continue
            state = self.states.setdefault(app, AppState())
            if due_now(state.last_poll, now, models.seconds(spec.autoscaling.polling_interval)):
                due.append((app, spec))
        if not due:
            return 0
        queries = [AppQuery.from_spec(a.namespace, a.name, s) for a, s in due if s.autoscaling.mode != "off"]
        observations = self.source.observe(queries, now) if queries else {}
        for app, spec in due:
            key = app
            self.states[key].last_poll = now
            observation = observations.get(key) or Observation(at=now, error="not measured (autoscaling off)")
            try:
                self._act(app, spec, observation, now)
            except Exception:  # one app's failure never stops the loop for the others
                log.exception("%s/%s: scaling step failed; will retry next poll", app.namespace, app.name)
        return len(due)

    @staticmethod
    def _usable_spec(app: App) -> models.ScaledWebAppSpec | None:
        return None if app.deleting or not app.valid else app.spec

    def _act(self, app: App, spec: models.ScaledWebAppSpec, observation: Observation, now: float) -> None:
        key = app
        state = self.states[key]
        live = self.kube.get(f"{models.GROUP}/{models.VERSION}", models.KIND, app.namespace, app.name)
        if live is None:
            return
        old_status = live.get("status") or {}
        if (live["metadata"].get("annotations") or {}).get(PAUSED_ANNOTATION) == "true":
            self._write_status(app, old_status, paused_status(old_status, now, app.generation))
            return
        deployment = self.kube.get("apps/v1", "Deployment", app.namespace, app.name)
        if deployment is None:
            return  # the reconciler creates it; scale it next poll
        workers = int(old_status.get("workersPerPod") or 1)
        current = current_of(deployment, spec, workers)
        decision = decide(
            spec, observation, current, state.history, now, recent_rps=observation.recent_requests_per_second
        )
        applied = False
        if spec.autoscaling.mode != "recommend":
            if decision.scaled:
                self._scale(app, decision)
                applied = True
                log.info("%s/%s: %s", app.namespace, app.name, decision.message)
            state.history = decision.history
            if spec.workers.live:
                self._resize_workers(app, decision.workers_per_pod)
        else:
            state.history = decision.history  # recommendations still feed the windows
        status, events = decision_status(
            old_status, decision, observation, spec.autoscaling.mode, applied, now, app.generation
        )
        self._write_status(app, old_status, status)
        for event in events:
            self.kube.event(app.involved(), event.type, event.reason, event.message)

    def _write_status(self, app: App, old: dict[str, Any], update: dict[str, Any]) -> None:
        """Apply the loop's whole part of status (what it said before, updated) when a reader
        would learn something from it."""
        new = owned({**old, **update}, STATUS_FIELDS, STATUS_CONDITIONS)
        if meaningful(old, new) and not status_holds(new, old):
            self.kube.apply_status(app.namespace, app.name, new, self.kube.settings.scaler_field_manager)

    def _scale(self, app: App, decision: Decision) -> None:
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": app.name, "namespace": app.namespace},
            "spec": {"replicas": decision.replicas},
        }
        self.kube.apply(body, manager=self.kube.settings.scaler_field_manager)

    def _resize_workers(self, app: App, workers: int) -> None:
        """Annotate running pods whose worker count differs; the app re-reads it without a restart."""
        wanted = str(workers)
        for pod in self.kube.list("v1", "Pod", app.namespace, selector_string(app.name)):
            meta = pod["metadata"]
            if meta.get("deletionTimestamp") or (meta.get("annotations") or {}).get(WORKERS_ANNOTATION) == wanted:
                continue
            self.kube.patch_annotations("v1", "Pod", app.namespace, meta["name"], {WORKERS_ANNOTATION: wanted})
