"""Shared fixtures: the real local control plane (tests/cluster) and API clients for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config
from waiting import eventually
from webscale_local.launcher import LocalCluster
from webscale_local.operator_process import OperatorProcess
from webscale_local.ports import free_port
from webscale_local.swa import install_crd

from webscale.settings import DEFAULT_PROMETHEUS_URL

APP_GROUP, APP_VERSION, APP_PLURAL = "webscale.dev", "v1alpha1", "scaledwebapps"


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
    """A fresh namespace per test (with its default ServiceAccount), deleted afterwards.

    Its ScaledWebApps are deleted first, and gone before the test ends: a namespace takes a while
    to terminate, and apps left in it would be picked up by the next test's operator, which
    would reconcile and poll them (with their Prometheus URL, now closed) and fail to write
    into the terminating namespace: one test's leftovers in the next one's operator."""
    core = client.CoreV1Api(api_client)
    name = f"t-{request.node.name[:40].lower().replace('_', '-').strip('-')}-{os.urandom(2).hex()}"
    name = "".join(ch for ch in name if ch.isalnum() or ch == "-")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    delete_apps(api_client, name)
    core.delete_namespace(name)


def delete_apps(api_client: client.ApiClient, namespace: str) -> None:
    """Delete the namespace's ScaledWebApps and wait until they are gone (no finalizers: at once)."""
    apps = client.CustomObjectsApi(api_client)
    try:
        apps.delete_collection_namespaced_custom_object(APP_GROUP, APP_VERSION, namespace, APP_PLURAL)
    except client.ApiException as exc:
        if exc.status == 404:  # no ScaledWebApp CRD in this cluster
            return
        raise

    def gone() -> bool:
        return not apps.list_namespaced_custom_object(APP_GROUP, APP_VERSION, namespace, APP_PLURAL)["items"]

    eventually(gone, 30, f"the ScaledWebApps of {namespace} to be deleted")


@pytest.fixture(scope="session")
def crd_installed(cluster: LocalCluster) -> None:
    """The ScaledWebApp CRD from crds/, established."""
    install_crd(cluster.kubectl)


@pytest.fixture(scope="session")
def dead_prometheus_url() -> str:
    """A loopback URL where no Prometheus listens (connection refused), on the operator's allow-list."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture()
def operator(
    cluster: LocalCluster, crd_installed: None, dead_prometheus_url: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    """The operator running as in production, resyncing every 2 s; its log is printed on failure.
    It may query the default Prometheus URL and `dead_prometheus_url`."""
    allowed = f"{DEFAULT_PROMETHEUS_URL},{dead_prometheus_url}"
    op = OperatorProcess(
        cluster, tmp_path / "operator.log", WEBSCALE_RESYNC_SECONDS="2", WEBSCALE_PROMETHEUS_URLS=allowed
    ).start()
    yield op
    op.stop()
    print(op.log()[-4000:])


@pytest.fixture()
def swa(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)
