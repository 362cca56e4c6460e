"""The wake endpoint's answer (runtime.wake_answer): which ready pod of an app at zero HAProxy is told
about, from the pod cache, and what it answers for anything else."""

from __future__ import annotations

import asyncio

import pytest
from webscale_local.owned import deployment_of, replica_set_of

from webscale.api.app import App
from webscale.api.labels import labels, lb_labels
from webscale.api.ref import AppRef
from webscale.kube.cache import InMemoryView
from webscale.runtime import wake_answer
from webscale.runtime.wake_answer import Answerer, ready_pod_address

NS = "default"
ZERO = {
    "image": "registry.example/shop:1",
    "port": 3000,
    "replicas": {"min": 0, "max": 5},
    "autoscaling": {"scaleToZero": {}},
}


OWN_RS = "rs-uid"
"""The uid of the ReplicaSet of the app's own Deployment (`cache`)."""


def app(spec: dict | None = None, name: str = "shop", namespace: str = NS) -> App:
    body = {"metadata": {"name": name, "namespace": namespace, "uid": "u"}, "spec": spec or ZERO}
    result = App.from_body(body)
    assert result.valid, result.errors
    return result


def cache(*pods: dict, deployment_owner: str = "u") -> InMemoryView:
    """The pod cache with the app's Deployment (controlled by the app `deployment_owner`) and its
    ReplicaSet `OWN_RS`."""
    deployment = deployment_of(deployment_owner, "shop", NS, labels("shop"), "dep-uid")
    deployment["spec"]["template"]["spec"] = {
        "containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 3000}]}]
    }
    return InMemoryView([deployment, replica_set_of(deployment, OWN_RS), *pods])


def pod(name: str, ip: str = "10.1.0.5", ready: bool = True, **over) -> dict:
    meta = {
        "name": name,
        "namespace": over.get("namespace", NS),
        "resourceVersion": over.get("rv", "1"),
        "labels": over.get("labels", labels("shop")),
        "ownerReferences": [
            {"kind": "ReplicaSet", "name": "shop-5d9f", "uid": over.get("owner", OWN_RS), "controller": True}
        ],
        **({"deletionTimestamp": "2026-12-04T00:00:00Z"} if over.get("deleting") else {}),
    }
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    status = {"phase": over.get("phase", "Running"), "podIP": ip, "conditions": conditions}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "status": status}


def test_the_first_ready_pod_by_name_is_named_with_the_apps_port():
    view = cache(pod("shop-5d9f-b", "10.1.0.7"), pod("shop-5d9f-a", "10.1.0.6"), pod("shop-5d9f-0", ready=False))
    assert Answerer({}.get, view, Nudges()).address(app()) == ("10.1.0.6", 3000)


@pytest.mark.parametrize(
    "other",
    [
        pod("shop-5d9f-a", ready=False),
        pod("shop-5d9f-a", phase="Pending"),
        pod("shop-5d9f-a", deleting=True),
        pod("shop-5d9f-a", ip=""),
        pod("shop-5d9f-a", ip="not-an-ip\n10.0.0.1"),
        pod("shop-haproxy-1", labels=lb_labels("shop")),  # the LB's pod (here, even of the app's ReplicaSet)
        pod("shop-5d9f-a", owner="intruder-rs-uid"),  # labelled like the app, not made by its Deployment
        pod("shop-5d9f-a", namespace="other"),
    ],
)
def test_nothing_but_a_ready_pod_of_the_apps_own_deployment_is_named(other):
    assert ready_pod_address([other], app(), frozenset({OWN_RS})) is None
    assert ready_pod_address([pod("shop-5d9f-b")], app(), frozenset({OWN_RS})) is not None  # the same, but its own


def test_no_pod_is_named_while_the_deployment_is_not_the_apps_own():
    assert Answerer({}.get, cache(pod("shop-5d9f-a")), Nudges()).address(app()) == ("10.1.0.5", 3000)
    taken = cache(pod("shop-5d9f-a"), deployment_owner="another-apps-uid")
    assert Answerer({}.get, taken, Nudges()).address(app()) is None


def test_ipv6_pods_are_named_in_the_form_haproxy_reads():
    assert ready_pod_address([pod("shop-5d9f-a", ip="fd00:0:0::5")], app(), frozenset({OWN_RS})) == ("fd00::5", 3000)


class Nudges:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def test_an_app_at_zero_gets_its_pod_as_soon_as_the_cache_has_one_ready(monkeypatch):
    monkeypatch.setattr(wake_answer, "CHECK_SECONDS", 0.01)
    monkeypatch.setattr(wake_answer, "WAIT_SECONDS", 30.0)
    view, nudges = cache(pod("shop-5d9f-a", ready=False)), Nudges()
    answerer = Answerer({AppRef(NS, "shop"): app()}.get, view, nudges)
    question = asyncio.create_task(answerer.answer(NS, "shop"))
    await asyncio.sleep(0.05)
    assert not question.done() and nudges.count == 1  # held while no pod is ready; the wake loop was told
    view.put(pod("shop-5d9f-a", "10.1.0.9", rv="2"))
    assert await asyncio.wait_for(question, 5) == (200, "10.1.0.9 3000\n")


async def test_no_ready_pod_within_the_wait_is_204(monkeypatch):
    monkeypatch.setattr(wake_answer, "WAIT_SECONDS", 0.05)
    answerer = Answerer({AppRef(NS, "shop"): app()}.get, InMemoryView(), Nudges())
    assert await answerer.answer(NS, "shop") == (204, "")


async def test_apps_without_scale_to_zero_and_unknown_apps_are_404_and_wake_nothing():
    warm = app({**ZERO, "replicas": {"min": 1, "max": 5}, "autoscaling": {}})
    nudges = Nudges()
    view = cache(pod("shop-5d9f-a"))
    answerer = Answerer({AppRef(NS, "shop"): warm}.get, view, nudges)
    assert (await answerer.answer(NS, "shop"))[0] == 404
    assert (await answerer.answer(NS, "nope"))[0] == 404
    assert nudges.count == 0


async def test_an_invalid_app_at_zero_is_still_answered(monkeypatch):
    """An edit made the app Invalid while it was at zero: the wake loop wakes it, and the endpoint names
    its pod to HAProxy as before (not 404: HAProxy would wait for the cluster DNS)."""
    monkeypatch.setattr(wake_answer, "WAIT_SECONDS", 0.05)
    invalid = App.from_body(
        {
            "metadata": {"name": "shop", "namespace": NS, "uid": "u"},
            "spec": {**ZERO, "port": 8080, "replicas": {"min": 5, "max": 4}},
        }
    )
    assert not invalid.valid
    answerer = Answerer({AppRef(NS, "shop"): invalid}.get, cache(pod("shop-5d9f-a")), Nudges())
    assert await answerer.answer(NS, "shop") == (200, "10.1.0.5 3000\n")  # the port the pods run, not 8080
