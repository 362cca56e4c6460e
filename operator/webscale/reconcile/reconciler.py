"""Bring one ScaledWebApp's children to the desired state and report it in status.

parse/validate (done once, in `App`) -> build -> for each child: leave a foreign object alone, write
when the intent changed or a field we own drifted, else nothing -> prune children the spec no longer
asks for -> status. Reads come from the watch caches (`ClusterView`); a reconcile of an app that is
already right makes no request at all.

Desired state is exact: every apply sends the whole intent with one field manager, so a field removed
from the spec is removed from the child; the intent's hash in an annotation tells that it changed.
A refusal by the API server (4xx) marks the app Invalid with the server's message, never a silent loop.
"""

from __future__ import annotations

import logging
from typing import Any

from kubernetes.client.rest import ApiException

from webscale.api.app import App
from webscale.api.conditions import get_condition, status_holds
from webscale.api.labels import APPLIED_ANNOTATION
from webscale.api.status import now_iso
from webscale.kube.cache import CHILD_KINDS, ClusterView, controlled_by, own_deployment, own_replica_sets
from webscale.kube.client import is_gone, is_rejected, server_message
from webscale.kube.drift import drifted_paths, holds, intent_hash
from webscale.kube.interface import KubeAPI
from webscale.kube.own_pods import controlled_pods
from webscale.kube.store import replicas_owners
from webscale.reconcile.builders import build_children, initial_replicas, template_account, template_workers
from webscale.reconcile.haproxy import lb_name
from webscale.reconcile.status import invalid_status, ready_status

log = logging.getLogger(__name__)


def child_name(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def with_intent_hash(desired: dict[str, Any]) -> dict[str, Any]:
    """`desired` with the hash of itself in the applied annotation."""
    meta = desired["metadata"]
    annotations = {**(meta.get("annotations") or {}), APPLIED_ANNOTATION: intent_hash(desired)}
    return {**desired, "metadata": {**meta, "annotations": annotations}}


def up_to_date(desired: dict[str, Any], live: dict[str, Any]) -> bool:
    """No write needed: the live object got this very intent and still holds every field of it."""
    applied = (live["metadata"].get("annotations") or {}).get(APPLIED_ANNOTATION)
    return applied == desired["metadata"]["annotations"][APPLIED_ANNOTATION] and holds(desired, live)


def is_app_deployment(obj: dict[str, Any], app: App) -> bool:
    """The app's own Deployment (the one the scaler sizes), not the load balancer's."""
    return bool(obj["kind"] == "Deployment" and obj["metadata"]["name"] == app.name)


def start_replicas(app: App) -> int:
    """Replicas of a Deployment being (re-)created: the last decided count when autoscaling, so a
    Deployment deleted by hand or pruned by GitOps comes back at the scale it had, not at min."""
    spec = app.valid_spec
    remembered = app.status.get("desiredReplicas")
    if spec.autoscaling.mode == "auto" and isinstance(remembered, int) and remembered > 0:
        return min(max(remembered, spec.replicas.min), spec.replicas.max)
    return initial_replicas(spec)


class Reconciler:
    """Applies one app's desired state: reads from `view`, writes through `kube`."""

    def __init__(self, kube: KubeAPI, view: ClusterView) -> None:
        self.kube = kube
        self.view = view

    def reconcile(self, app: App) -> list[str]:
        """Converge the app; returns the children it created, changed or deleted (e.g. ["Deployment/shop"])."""
        if app.deleting:
            return []  # owner references take the children away
        now = now_iso()
        if not app.valid:
            self._mark_invalid(app, "InvalidSpec", list(app.errors), now, "running objects left unchanged")
            return []
        spec = app.valid_spec
        live_deployment = own_deployment(self.view, app)
        workers = template_workers(spec, live_deployment)
        settings = self.kube.settings
        children = build_children(
            app,
            workers,
            cluster_domain=settings.cluster_domain,
            haproxy_image=settings.haproxy_image,
            wake_base=settings.wake_url,
            account=template_account(spec, live_deployment),
        )
        desired_children = [with_intent_hash(d) for d in children]
        changed: list[str] = []
        done: list[str] = []
        """What was written and why, for the one log line of this reconcile."""
        conflicts: list[str] = []
        rejected: list[str] = []
        deployment = live_deployment
        try:
            for desired in desired_children:
                name = child_name(desired)
                live = self._live(desired, app)
                if live is not None and not controlled_by(live, app):
                    conflicts.append(name)
                    continue
                try:
                    result, note = self._converge(app, desired, live)
                except ApiException as exc:
                    if not is_rejected(exc):
                        raise
                    rejected.append(f"{name}: {server_message(exc)}")
                    break  # what comes after may need it (the HAProxy pods their ConfigMap, the entry Service
                    # its HAProxy pods): nothing after a refused child is changed
                if result is not live:
                    changed.append(name)
                    done.append(note)
                if is_app_deployment(desired, app):
                    deployment = result
            if rejected:
                self._mark_invalid(app, "RejectedByAPIServer", rejected, now, "the API server refused it")
                return changed
            deleted = self._prune(app, desired_children)
            changed += [f"-{name}" for name in deleted]
            done += [f"deleted {name} (no longer in the spec)" for name in deleted]
            self._note_conflicts(app, conflicts)
            service = self.view.get("Service", app.namespace, app.name)
            haproxy = own_deployment(self.view, app, lb_name(app))
            # the pod cache: why pods are Pending, no request; only the pods of the app's own ReplicaSets
            owners = own_replica_sets(self.view, app, app.name) | own_replica_sets(self.view, app, lb_name(app))
            pods = controlled_pods(self.view.children("Pod", app), owners)
            self._write_status(app, ready_status(app, deployment, now, conflicts, service, haproxy, pods))
            invalid = get_condition(list(app.status.get("conditions", [])), "Invalid") or {}
            if invalid.get("status") == "True":  # the status just written says Invalid False
                done.insert(0, f"no longer Invalid (was {invalid.get('reason')})")
        finally:  # what was written is said even when a later write raised
            self._log_done(app, done)
        return changed

    @staticmethod
    def _log_done(app: App, done: list[str]) -> None:
        """One line for what this reconcile wrote, once it was written (a refused write is not news here:
        `_mark_invalid` says it once)."""
        said = [note for note in done if note]  # a repaired hand-over with nothing else changed says it itself
        if said:
            log.info("%s: %s", app.key, "; ".join(said))

    def _live(self, desired: dict[str, Any], app: App) -> dict[str, Any] | None:
        """The live child from the cache; when the cache has none, one GET makes sure the name is free
        (the caches only hold objects carrying our labels, and a foreign object may not)."""
        meta = desired["metadata"]
        live = self.view.get(desired["kind"], meta["namespace"], meta["name"])
        if live is None:
            live = self.kube.get(desired["apiVersion"], desired["kind"], meta["namespace"], meta["name"])
            if live is not None and controlled_by(live, app):
                self.view.put(live)
        return live

    def _converge(self, app: App, desired: dict[str, Any], live: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
        """The child as it now is, and what was done to it and why (for the log line, when it changed)."""
        name = child_name(desired)
        if live is None:
            if is_app_deployment(desired, app):
                replicas = start_replicas(app)
                return self._create_deployment(desired, replicas), f"created {name} with {replicas} replica(s)"
            return self._apply(desired), f"created {name}"
        if is_app_deployment(desired, app):
            live = self._repair_replicas_owner(app, live)
        if up_to_date(desired, live):
            return live, ""
        drift = [p for p in drifted_paths(desired, live) if not p.endswith(APPLIED_ANNOTATION)]
        more = f" and {len(drift) - 8} more" if len(drift) > 8 else ""
        why = ", ".join(drift[:8]) + more if drift else "fields removed from the spec"
        return self._apply(desired), f"updated {name} ({why})"

    def _apply(self, obj: dict[str, Any], manager: str | None = None) -> dict[str, Any]:
        result = self.kube.apply(obj, manager)
        self.view.put(result)
        return result

    def _create_deployment(self, desired: dict[str, Any], replicas: int) -> dict[str, Any]:
        """Create with replicas, then hand spec.replicas to the scaler's field manager, so the
        operator's later applies (which omit replicas) never reset it."""
        with_replicas = {**desired, "spec": {**desired["spec"], "replicas": replicas}}
        self._apply(with_replicas)
        return self._apply(self._replicas_body(desired, replicas), self.kube.settings.scaler_field_manager)

    @staticmethod
    def _replicas_body(desired: dict[str, Any], replicas: int) -> dict[str, Any]:
        meta = desired["metadata"]
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "spec": {"replicas": replicas},
        }

    def _repair_replicas_owner(self, app: App, live: dict[str, Any]) -> dict[str, Any]:
        """The scaler's field manager must own spec.replicas; if a failure between the two applies of
        a create (or a hand edit) left it otherwise, give it back before the operator applies again."""
        owners = replicas_owners(live)
        if self.kube.settings.scaler_field_manager in owners:
            return live
        replicas = int(live.get("spec", {}).get("replicas") or start_replicas(app))
        log.warning("%s: spec.replicas was owned by %s; handing it back to the scaler", app.key, owners or "nobody")
        return self._apply(self._replicas_body(live, replicas), self.kube.settings.scaler_field_manager)

    def _prune(self, app: App, desired: list[dict[str, Any]]) -> list[str]:
        """Delete children this app controls that the spec no longer asks for (e.g. after a provider switch);
        their names ("Service/shop-lb")."""
        wanted = {child_name(d) for d in desired}
        deleted = []
        for kind in CHILD_KINDS:
            for obj in self.view.children(kind, app):
                name = f"{kind}/{obj['metadata']['name']}"
                if name in wanted or not controlled_by(obj, app) or obj["metadata"].get("deletionTimestamp"):
                    continue
                self.kube.delete(
                    obj.get("apiVersion", ""), kind, app.namespace, obj["metadata"]["name"], obj["metadata"].get("uid")
                )
                deleted.append(name)
        return deleted

    def _note_conflicts(self, app: App, conflicts: list[str]) -> None:
        ready = get_condition(list(app.status.get("conditions", [])), "Ready") or {}
        if conflicts and ready.get("reason") != "NameConflict":
            message = f"{', '.join(conflicts)} exist(s) and belong(s) to someone else: left untouched"
            log.warning("%s: %s", app.key, message)
            self.kube.event(app.involved(), "Warning", "NameConflict", message)

    def _write_status(self, app: App, status: dict[str, Any]) -> bool:
        """Apply the reconciler's part of status unless the object already shows it."""
        if status_holds(status, app.status):
            return False
        try:
            result = self.kube.apply_status(app.namespace, app.name, status, self.kube.settings.status_field_manager)
        except ApiException as exc:
            if is_gone(exc):
                return False
            raise
        self.view.put(result)
        return True

    def _mark_invalid(self, app: App, reason: str, errors: list[str], now: str, consequence: str) -> None:
        """Invalid=True with the reasons and one Warning Event per new problem; children untouched."""
        old = get_condition(list(app.status.get("conditions", [])), "Invalid")
        if not self._write_status(app, invalid_status(app, reason, errors, now)):
            return
        message = "; ".join(errors)
        if not (old and old.get("status") == "True" and old.get("message") == message):
            log.warning("%s is invalid: %s", app.key, message)
            self.kube.event(app.involved(), "Warning", reason, f"{message} ({consequence})")
