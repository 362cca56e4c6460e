"""Shared fixtures: the real local control plane (tests/cluster) and API clients for it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from kubernetes import client, config
from launcher import LocalCluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    """One control plane for the whole session: etcd, apiserver (audit log on), controllers, kwok."""
    with LocalCluster(audit=True) as c:
        yield c


@pytest.fixture(scope="session")
def api_client(cluster: LocalCluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture()
def namespace(cluster: LocalCluster, api_client: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test (with its default ServiceAccount), deleted afterwards."""
    core = client.CoreV1Api(api_client)
    name = f"t-{request.node.name[:40].lower().replace('_', '-').strip('-')}-{os.urandom(2).hex()}"
    name = "".join(ch for ch in name if ch.isalnum() or ch == "-")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)
