"""The client's write gate: a replica that does not hold the Lease cannot write (nothing is sent)."""

from __future__ import annotations

import pytest
from kubernetes import client

from webscale.kube.client import Kube, NotLeader, is_rejected, path_of, server_message
from webscale.settings import Settings


class NoNetwork(client.ApiClient):
    def __init__(self) -> None:
        super().__init__(client.Configuration(host="http://127.0.0.1:9"))
        self.sent: list[str] = []

    def param_serialize(self, **kwargs):  # every request passes here first
        self.sent.append(f"{kwargs['method']} {kwargs['resource_path']}")
        raise RuntimeError("no network in unit tests")


def test_writes_are_refused_before_anything_is_sent_when_not_leading():
    api = NoNetwork()
    kube = Kube(api, Settings(), may_write=lambda: False)
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}}
    with pytest.raises(NotLeader):
        kube.apply(body)
    with pytest.raises(NotLeader):
        kube.delete("v1", "Service", "n", "s")
    with pytest.raises(NotLeader):
        kube.apply_status("n", "s", {}, "m")
    kube.event({"name": "s", "namespace": "n"}, "Normal", "R", "m")  # best effort: swallowed
    assert api.sent == []
    with pytest.raises(RuntimeError):
        kube.get("v1", "Service", "n", "s")  # reads are not gated
    assert api.sent == ["GET /api/v1/namespaces/n/services/s"]


def test_api_errors_are_classified_with_the_servers_message():
    refused = client.ApiException(status=422, reason="Unprocessable")
    refused.body = '{"kind": "Status", "message": "spec.x: Invalid value"}'
    assert is_rejected(refused) and server_message(refused) == "spec.x: Invalid value"
    assert not is_rejected(client.ApiException(status=409)) and not is_rejected(client.ApiException(status=404))
    assert path_of("apps/v1", "Deployment", "n", "d") == "/apis/apps/v1/namespaces/n/deployments/d"
