"""Ready's pod count: never more ready than wanted, and the surplus named while a scale-down (or a
rollout's surge) leaves the Deployment with more pods than wanted."""

from __future__ import annotations

from typing import Any

from webscale.api.app import App
from webscale.reconcile.status import pods_message, ready_status

NOW = "2026-12-03T15:00:00Z"
APP = App.from_body({"metadata": {"name": "shop", "namespace": "default", "generation": 2}, "spec": {"image": "x"}})


def deployment(wanted: int, replicas: int, ready: int) -> dict[str, Any]:
    return {"spec": {"replicas": wanted}, "status": {"replicas": replicas, "readyReplicas": ready}}


def ready_condition(dep: dict[str, Any]) -> dict[str, Any]:
    status = ready_status(APP, dep, NOW, pods=[])
    return next(c for c in status["conditions"] if c["type"] == "Ready")


def test_a_scale_down_keeps_ready_true_and_names_the_surplus_instead_of_3_of_1():
    # spec.replicas went 3 -> 1; the ReplicaSet's status still counts the three pods it is removing
    ready = ready_condition(deployment(wanted=1, replicas=3, ready=3))
    assert (ready["status"], ready["reason"]) == ("True", "PodsReady")
    assert ready["message"] == "1/1 pods ready; 2 surplus pods to remove (3 pods, 1 wanted)"
    # the controller has removed them from its count: the plain message again
    assert ready_condition(deployment(wanted=1, replicas=1, ready=1))["message"] == "1/1 pods ready"


def test_the_ready_count_never_exceeds_the_wanted_count():
    for wanted, replicas, ready in [(1, 3, 3), (2, 6, 5), (3, 4, 4), (1, 1, 2), (4, 6, 0)]:
        shown, _, rest = pods_message(ready, wanted, replicas).partition(" pods ready")
        count, total = (int(n) for n in shown.split("/"))
        assert count <= total == wanted, (wanted, replicas, ready)
        assert ("surplus" in rest) == (max(replicas, ready) > wanted), (wanted, replicas, ready)


def test_surplus_pods_do_not_make_an_app_short_of_ready_pods_look_ready():
    # scaling 3 -> 2 while only one of the pods left is ready
    ready = ready_condition(deployment(wanted=2, replicas=3, ready=1))
    assert (ready["status"], ready["reason"]) == ("False", "PodsNotReady")
    assert ready["message"] == "1/2 pods ready; 1 surplus pod to remove (3 pods, 2 wanted)"


def test_a_rollout_surge_is_named_the_same_way():
    # maxSurge 25%, maxUnavailable 0: one new pod starting beside the three old ones
    assert pods_message(ready=3, wanted=3, replicas=4) == "3/3 pods ready; 1 surplus pod to remove (4 pods, 3 wanted)"


def test_counts_without_a_surplus_read_as_before():
    assert pods_message(ready=0, wanted=2, replicas=2) == "0/2 pods ready"
    assert pods_message(ready=2, wanted=2, replicas=2) == "2/2 pods ready"
    assert pods_message(ready=0, wanted=0, replicas=0) == "0/0 pods ready"


def rolling(updated: int, conditions: list[dict[str, Any]] | None = None, pods: int = 3) -> dict[str, Any]:
    """A Deployment of 2 wanted pods, both old ones ready and serving, `pods` pods in all, `updated` of
    them on the newest template."""
    status = {"replicas": pods, "readyReplicas": 2, "updatedReplicas": updated, "observedGeneration": 5}
    return {
        "metadata": {"generation": 5},
        "spec": {"replicas": 2},
        "status": {**status, "conditions": conditions or []},
    }


def test_a_rollout_under_way_is_named_and_the_old_pods_still_serve():
    ready = ready_condition(rolling(updated=1))
    assert (ready["status"], ready["reason"]) == ("True", "PodsReady")
    assert ready["message"].endswith("; rolling out: 1 of 3 pods run the new template")
    assert (
        ready_condition(rolling(updated=3))["message"] == "2/2 pods ready; 1 surplus pod to remove (3 pods, 2 wanted)"
    )


def test_a_scale_up_is_not_a_rollout_even_past_the_progress_deadline():
    """Every scale moves the Deployment's generation, and a scale-up's new pods run the newest template:
    no rollout note; pods Pending past progressDeadlineSeconds are PodsNotReady (or PodsUnschedulable)."""
    deadline = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "x"}
    dep = {
        "metadata": {"generation": 9},
        "spec": {"replicas": 4},
        "status": {"replicas": 4, "readyReplicas": 2, "updatedReplicas": 4, "observedGeneration": 8},
    }
    ready = ready_condition(dep)
    assert (ready["reason"], ready["message"]) == ("PodsNotReady", "2/4 pods ready")
    ready = ready_condition({**dep, "status": {**dep["status"], "conditions": [deadline]}})
    assert (ready["reason"], ready["message"]) == ("PodsNotReady", "2/4 pods ready")


def test_a_stuck_rollout_is_not_ready_and_says_why_first():
    stuck = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "shop-7c9d" has timed out progressing.',
    }
    ready = ready_condition(rolling(updated=1, conditions=[stuck]))
    assert (ready["status"], ready["reason"]) == ("False", "RolloutStuck")
    assert ready["message"].startswith('the rollout is stuck: ReplicaSet "shop-7c9d" has timed out progressing.; 2/2')


def test_pods_the_controller_cannot_create_make_the_app_not_ready():
    failure = {
        "type": "ReplicaFailure",
        "status": "True",
        "reason": "FailedCreate",
        "message": 'pods "shop-7c9d-" is forbidden: error looking up service account default/nope',
    }
    ready = ready_condition(rolling(updated=0, conditions=[failure]))
    assert (ready["status"], ready["reason"]) == ("False", "ReplicaFailure")
    assert "error looking up service account default/nope" in ready["message"]
