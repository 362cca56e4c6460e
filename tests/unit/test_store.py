"""The watch cache: relists report what vanished, watch events only move forward, indices follow."""

from __future__ import annotations

from webscale.kube.store import Store, app_index, replicas_owners, trim_deployment, trim_pod, trim_replica_set


def obj(name: str, rv: int, app: str = "shop", ns: str = "default") -> dict:
    return {
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": ns,
            "resourceVersion": str(rv),
            "labels": {"app.kubernetes.io/instance": app},
        },
    }


def test_a_relist_reports_objects_deleted_during_the_gap():
    store = Store()
    store.replace([obj("a", 1), obj("b", 2)])
    changes = store.replace([obj("b", 2), obj("c", 5)])
    assert sorted((c.type, c.obj["metadata"]["name"]) for c in changes) == [("ADDED", "c"), ("DELETED", "a")]
    assert store.get("default", "a") is None and len(store) == 2


def test_a_relist_reports_modified_objects_by_resource_version():
    store = Store()
    store.replace([obj("a", 1)])
    (change,) = store.replace([obj("a", 3)])
    assert change.type == "MODIFIED" and change.old["metadata"]["resourceVersion"] == "1"


def test_watch_events_never_move_an_object_backwards():
    store = Store()
    store.apply("ADDED", obj("a", 5))
    assert store.apply("MODIFIED", obj("a", 4)) is None
    assert store.get("default", "a")["metadata"]["resourceVersion"] == "5"
    assert store.apply("DELETED", obj("a", 6)).type == "DELETED"
    assert store.apply("DELETED", obj("a", 6)) is None


def test_the_index_follows_adds_moves_and_deletes():
    store = Store(index=app_index)
    store.replace([obj("a", 1, app="x"), obj("b", 1, app="y")])
    store.apply("MODIFIED", obj("a", 2, app="y"))
    assert sorted(o["metadata"]["name"] for o in store.indexed("default/y")) == ["a", "b"]
    assert store.indexed("default/x") == []
    store.apply("DELETED", obj("b", 3, app="y"))
    assert [o["metadata"]["name"] for o in store.indexed("default/y")] == ["a"]


def test_trimmed_objects_keep_what_the_operator_reads():
    dep = {
        "kind": "Deployment",
        "metadata": {
            "name": "d",
            "managedFields": [
                {"manager": "webscale", "fieldsV1": {"f:spec": {"f:template": {}}}},
                {"manager": "webscale-scaler", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            ],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "keep": "1"},
        },
        "spec": {},
    }
    trimmed = trim_deployment(dep)
    assert replicas_owners(trimmed) == ["webscale-scaler"]
    assert trimmed["metadata"]["annotations"] == {"keep": "1"}
    pod = {
        "metadata": {
            "name": "p",
            "namespace": "shop",
            "uid": "u1",
            "generateName": "p-",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app.kubernetes.io/instance": "shop", "app.kubernetes.io/component": "web", "x": "1"},
            "annotations": {"webscale.dev/workers": "4", "prometheus.io/scrape": "true"},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "p", "uid": "rs1", "controller": True}
            ],
        },
        "spec": {"containers": [{"image": "x"}]},
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:09Z", "reason": None},
                {"type": "PodScheduled", "status": "True"},
            ],
        },
    }
    assert trim_pod(pod) == {
        "metadata": {
            "name": "p",
            "namespace": "shop",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app.kubernetes.io/instance": "shop", "app.kubernetes.io/component": "web"},
            "annotations": {"webscale.dev/workers": "4"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "p", "uid": "rs1", "controller": True}],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:09Z"}],
            "podIP": None,
        },
    }


def test_a_replica_set_keeps_who_it_is_whose_app_and_which_deployment_controls_it():
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "shop-5d9f",
            "namespace": "default",
            "uid": "rs1",
            "resourceVersion": "7",
            "labels": {
                "app.kubernetes.io/instance": "shop",
                "app.kubernetes.io/component": "web",
                "pod-template-hash": "5d9f",
            },
            "annotations": {"deployment.kubernetes.io/revision": "3"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "shop",
                    "uid": "d1",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [{"manager": "kube-controller-manager"}],
        },
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"image": "x"}]}}},
        "status": {"replicas": 2},
    }
    assert trim_replica_set(rs) == {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": "shop-5d9f",
            "namespace": "default",
            "uid": "rs1",
            "resourceVersion": "7",
            "labels": {"app.kubernetes.io/instance": "shop", "app.kubernetes.io/component": "web"},
            "ownerReferences": [{"kind": "Deployment", "name": "shop", "uid": "d1", "controller": True}],
        },
    }


def test_a_pending_pod_keeps_why_the_scheduler_left_it():
    message = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available."
    pod = {
        "metadata": {"name": "p", "namespace": "shop", "labels": {"app.kubernetes.io/instance": "shop"}},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                    "lastProbeTime": None,
                    "lastTransitionTime": "2026-01-01T00:00:01Z",
                }
            ],
        },
    }
    assert trim_pod(pod)["status"] == {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}],
    }


def test_a_compact_store_reads_back_what_it_was_given():
    loose, compact = Store(index=app_index), Store(index=app_index, compact=True)
    for store in (loose, compact):
        store.replace([obj("a", 1, app="x"), obj("b", 1, app="x")])
        store.apply("MODIFIED", obj("a", 2, app="y"))
        assert store.apply("MODIFIED", obj("a", 1, app="x")) is None
    for read in (
        lambda s: s.get("default", "a"),
        lambda s: s.indexed("default/y"),
        lambda s: sorted(s.items(), key=lambda o: o["metadata"]["name"]),
    ):
        assert read(loose) == read(compact)
    (change,) = compact.replace([obj("b", 1, app="x")])
    assert change.type == "DELETED" and change.old["metadata"]["name"] == "a"


def test_a_streamed_relist_holds_each_object_as_it_arrives_and_deletes_last():
    store = Store(compact=True)
    store.replace([obj("a", 1), obj("gone", 2)])
    seen_while_listing = []

    def listed():
        yield obj("a", 3)
        seen_while_listing.append(store.get("default", "a")["metadata"]["resourceVersion"])
        yield obj("b", 4)

    changes = [(c.type, c.obj["metadata"]["name"]) for c in store.replace_stream(listed())]
    assert seen_while_listing == ["3"]  # held before the rest of the list arrived
    assert changes == [("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "gone")]
    assert store.get("default", "gone") is None and len(store) == 2


def test_a_replica_set_with_no_pod_and_none_wanted_is_not_held():
    """The old ReplicaSets a Deployment keeps for rollbacks (up to 10 each) cost the cache nothing; one
    scaled up again (a rollback, a wake from zero) is held from that event on."""

    def rs(name: str, version: str, wanted: int, has: int) -> dict:
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "n", "uid": name, "resourceVersion": version},
            "spec": {"replicas": wanted},
            "status": {"replicas": has},
        }

    assert trim_replica_set(rs("old", "1", 0, 0)) is None
    assert trim_replica_set(rs("draining", "1", 0, 2)) is not None  # its pods are still there
    assert trim_replica_set(rs("new", "1", 2, 0)) is not None  # its pods are on their way
    store = Store(trim_replica_set)
    listed = store.replace([rs("old", "1", 0, 0), rs("live", "2", 1, 1)])
    assert [(c.type, c.obj["metadata"]["name"]) for c in listed] == [("ADDED", "live")]
    assert len(store) == 1
    back = store.apply("MODIFIED", rs("old", "3", 1, 0))  # rolled back to
    assert back is not None and (back.type, len(store)) == ("ADDED", 2)
    gone = store.apply("MODIFIED", rs("live", "4", 0, 0))  # scaled down to nothing
    assert gone is not None and gone.type == "DELETED" and store.get("n", "live") is None
    assert store.apply("MODIFIED", rs("live", "5", 0, 0)) is None  # still nothing: no news
    relisted = store.replace([rs("old", "6", 0, 0)])  # the relist: old is idle again, live is gone
    assert sorted(c.type for c in relisted) == ["DELETED"] and len(store) == 0
