"""Shared set-up for the orchestration unit tests: one app, a fake API and a cache fed from it."""

from __future__ import annotations

import copy
from typing import Any

from webscale_local.fake_kube import FakeKube

from webscale.api.app import App
from webscale.kube.cache import InMemoryView
from webscale.settings import Settings

NS = "default"
SETTINGS = Settings(prometheus_urls="http://prometheus.monitoring:9090")


def swa(name: str = "shop", **spec: Any) -> dict[str, Any]:
    body = {"image": "registry.example/shop:1", "loadBalancer": {"provider": "service"}, **spec}
    return {
        "apiVersion": "webscale.dev/v1alpha1",
        "kind": "ScaledWebApp",
        "metadata": {"name": name, "namespace": NS, "generation": 1, "annotations": {}},
        "spec": body,
    }


class World:
    """A fake API holding one app, and the operator's cache of it."""

    def __init__(self, body: dict[str, Any] | None = None) -> None:
        self.kube = FakeKube(SETTINGS)
        self.kube.add(body or swa())
        self.view = InMemoryView()
        self.sync()

    def sync(self) -> None:
        """What the informers would do: the cache holds what the API holds (deletions included)."""
        for kind, store in list(self.view.stores.items()):
            for obj in store.items():
                meta = obj["metadata"]
                if self.kube.find(kind, meta.get("namespace", ""), meta["name"]) is None:
                    self.view.delete(kind, meta.get("namespace", ""), meta["name"])
        for obj in self.kube.objects.values():
            self.view.put(copy.deepcopy(obj))

    def app(self, name: str = "shop") -> App:
        return App.from_body(self.kube.find("ScaledWebApp", NS, name))

    def set_spec(self, name: str = "shop", **spec: Any) -> None:
        obj = self.kube.objects[("ScaledWebApp", NS, name)]
        obj["spec"] = swa(name, **spec)["spec"]
        obj["metadata"]["generation"] += 1
        self.kube.add(obj)

    def condition(self, type_: str, name: str = "shop") -> dict[str, Any]:
        status = self.kube.find("ScaledWebApp", NS, name)["status"]
        return next(c for c in status["conditions"] if c["type"] == type_)
