"""The app registry over a compact store: parsed once per version, shared spec sections, no ghosts."""

from __future__ import annotations

import json
from typing import Any

from webscale.api.app import App
from webscale.api.ref import AppRef
from webscale.kube.store import Store
from webscale.runtime.registry import Registry

URL = "http://prometheus.monitoring:9090"


def swa(name: str, version: int, image: str = "registry.example/shop:1", **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "webscale.dev/v1alpha1",
        "kind": "ScaledWebApp",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "generation": 1,
            "resourceVersion": str(version),
        },
        "spec": {"image": image, "autoscaling": {"mode": "auto"}},
        "status": status,
    }


class CountingStore(Store):
    """A compact store that counts how often an object is decoded."""

    decoded = 0

    @staticmethod
    def _decode(held: Any) -> dict[str, Any]:
        CountingStore.decoded += 1
        return json.loads(held) if isinstance(held, bytes) else held


def test_asking_for_every_app_again_decodes_nothing_until_a_version_changes():
    store = CountingStore(compact=True)
    store.replace([swa("a", 1), swa("b", 2)])
    registry = Registry(store, [URL])
    first = registry.all()
    decoded = CountingStore.decoded
    again = registry.all()
    assert [a.name for a in again] == ["a", "b"]
    assert all(x is y for x, y in zip(first, again, strict=True))
    assert registry.get(AppRef("default", "a")) is first[0]
    assert CountingStore.decoded == decoded

    store.apply("MODIFIED", swa("a", 3, replicas=2))
    a = registry.get(AppRef("default", "a"))
    assert a is not None and a.status == {"replicas": 2} and a.spec is first[0].spec  # status refreshed, spec kept
    assert CountingStore.decoded == decoded + 1


def test_a_deleted_app_leaves_the_registry():
    store = Store(compact=True)
    store.replace([swa("a", 1), swa("b", 2)])
    registry = Registry(store, [URL])
    assert len(registry.all()) == 2
    store.replace([swa("b", 2)])  # a relist after a gap in which "a" was deleted
    assert [a.name for a in registry.all()] == ["b"]
    assert registry.get(AppRef("default", "a")) is None


def test_apps_with_equal_sections_share_them_and_differ_where_they_differ():
    one = App.from_body(swa("one", 1), [URL])
    two = App.from_body(swa("two", 2, image="registry.example/other:2"), [URL])
    assert one.valid and two.valid
    assert one.valid_spec.autoscaling is two.valid_spec.autoscaling
    assert one.valid_spec.image != two.valid_spec.image
    assert one.valid_spec == App.from_body(swa("one", 1), [URL]).valid_spec


def test_a_spec_the_checker_fails_on_makes_that_app_invalid_and_the_others_stay_readable(monkeypatch):
    import webscale.api.app as app_module

    real = app_module.semantic_errors

    def checker(spec, allowed):
        if spec.image == "deep":
            raise RecursionError("maximum recursion depth exceeded")
        return real(spec, allowed)

    monkeypatch.setattr(app_module, "semantic_errors", checker)
    store = Store()
    store.replace([swa("a", 1), swa("deep", 2, image="deep"), swa("c", 3)])
    registry = Registry(store, [URL])
    apps = {a.name: a for a in registry.all()}
    assert apps["a"].valid and apps["c"].valid
    assert not apps["deep"].valid
    assert apps["deep"].errors == (
        "spec could not be checked: RecursionError (a field nested too deeply?); simplify the spec",
    )
    assert apps["deep"].uid == "uid-deep" and apps["deep"].resource_version == "2"
    assert registry.get(AppRef("default", "deep")) is apps["deep"]  # not parsed again every tick
