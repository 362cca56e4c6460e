"""Bring one ScaledWebApp's children to the desired state and report it in status.

The service the kopf handlers call: parse -> validate -> build -> apply what
drifted -> status. Writes happen only where something differs, so a resync of
an app that is already right makes no request but reads.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from webscale.api import models
from webscale.api.app import App
from webscale.api.conditions import get_condition, owned, set_condition, status_holds
from webscale.api.labels import selector_string
from webscale.api.workers import workers_per_pod
from webscale.kube.client import Kube
from webscale.kube.drift import drifted_paths, holds
from webscale.reconcile.builders import build_children, initial_replicas, template_workers

log = logging.getLogger(__name__)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The status fields and condition types the reconciler owns (the scaling loop owns the rest).
STATUS_FIELDS = ("observedGeneration", "replicas", "readyReplicas", "selector", "workersPerPod")
STATUS_CONDITIONS = ("Invalid", "Ready")


def invalid_status(app: App, errors: list[str], now: str) -> dict[str, Any]:
    """The reconciler's status part for an invalid spec: what it said before, plus Invalid=True."""
    conditions = set_condition(
        list(app.status.get("conditions", [])), "Invalid", True, "InvalidSpec", "; ".join(errors), now, app.generation
    )
    status = {**app.status, "observedGeneration": app.generation, "conditions": conditions}
    return owned(status, STATUS_FIELDS, STATUS_CONDITIONS)


def ready_status(
    app: App, spec: models.ScaledWebAppSpec, deployment: dict[str, Any] | None, now: str
) -> dict[str, Any]:
    dep_status = (deployment or {}).get("status", {})
    replicas = int(dep_status.get("replicas") or 0)
    ready = int(dep_status.get("readyReplicas") or 0)
    wanted = int((deployment or {}).get("spec", {}).get("replicas") or 0)
    conditions = list(app.status.get("conditions", []))
    conditions = set_condition(conditions, "Invalid", False, "SpecValid", "spec is valid", now, app.generation)
    is_ready = wanted > 0 and ready >= wanted
    message = f"{ready}/{wanted} pods ready"
    conditions = set_condition(
        conditions, "Ready", is_ready, "PodsReady" if is_ready else "PodsNotReady", message, now, app.generation
    )
    status = {
        "observedGeneration": app.generation,
        "replicas": replicas,
        "readyReplicas": ready,
        "selector": selector_string(app.name),
        "workersPerPod": workers_per_pod(spec),
        "conditions": conditions,
    }
    return owned(status, STATUS_FIELDS, STATUS_CONDITIONS)


class Reconciler:
    """Applies one app's desired state through a Kube adapter."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    def reconcile(self, app: App) -> list[str]:
        """Converge the app; returns the children it created or changed (e.g. ["Deployment/shop"])."""
        if app.deleting:
            return []  # owner references take the children away
        now = now_iso()
        if not app.valid:
            self._mark_invalid(app, list(app.errors), now)
            return []
        spec = app.valid_spec
        changed: list[str] = []
        deployment = live_deployment = self.kube.get("apps/v1", "Deployment", app.namespace, app.name)
        for desired in build_children(app, template_workers(spec, live_deployment)):
            if desired["kind"] == "Deployment":
                live = live_deployment
            else:
                live = self.kube.get(desired["apiVersion"], desired["kind"], app.namespace, desired["metadata"]["name"])
            result = self._converge(desired, live, spec)
            if result is not live:
                changed.append(f"{desired['kind']}/{desired['metadata']['name']}")
            if desired["kind"] == "Deployment":
                deployment = result
        self._write_status(app, ready_status(app, spec, deployment, now))
        return changed

    def _converge(
        self, desired: dict[str, Any], live: dict[str, Any] | None, spec: models.ScaledWebAppSpec
    ) -> dict[str, Any] | None:
        name = f"{desired['kind']}/{desired['metadata']['name']}"
        if live is None:
            log.info("creating %s", name)
            if desired["kind"] == "Deployment":
                return self._create_deployment(desired, initial_replicas(spec))
            return self.kube.apply(desired)
        if holds(desired, live):
            return live
        log.info("updating %s: %s", name, ", ".join(drifted_paths(desired, live)[:8]))
        return self.kube.apply(desired)

    def _create_deployment(self, desired: dict[str, Any], replicas: int) -> dict[str, Any]:
        """Create with replicas, then hand spec.replicas to the scaler's field manager, so the
        operator's later applies (which omit replicas) never reset it."""
        with_replicas = {**desired, "spec": {**desired["spec"], "replicas": replicas}}
        self.kube.apply(with_replicas)
        meta = desired["metadata"]
        ownership = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "spec": {"replicas": replicas},
        }
        return self.kube.apply(ownership, manager=self.kube.settings.scaler_field_manager)

    def _write_status(self, app: App, status: dict[str, Any]) -> bool:
        """Apply the reconciler's part of status unless the object already shows it."""
        if status_holds(status, app.status):
            return False
        self.kube.apply_status(app.namespace, app.name, status, self.kube.settings.status_field_manager)
        return True

    def _mark_invalid(self, app: App, errors: list[str], now: str) -> None:
        """Invalid=True with the reasons and one Warning Event per new problem; children untouched."""
        old = get_condition(list(app.status.get("conditions", [])), "Invalid")
        if not self._write_status(app, invalid_status(app, errors, now)):
            return
        message = "; ".join(errors)
        if not (old and old.get("status") == "True" and old.get("message") == message):
            log.warning("%s/%s is invalid: %s", app.namespace, app.name, message)
            self.kube.event(app.involved(), "Warning", "InvalidSpec", f"{message} (running objects left unchanged)")
