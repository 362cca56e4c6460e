"""Step 1: the local control plane is a real Kubernetes (scheduling, endpoints, GC, RBAC, CRDs)."""

from __future__ import annotations

import os

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from waiting import eventually
from webscale_local.launcher import LocalCluster
from webscale_local.procs import port_free

pytestmark = pytest.mark.integration

LABELS = {"app": "web"}


def _deployment(replicas: int) -> client.V1Deployment:
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name="web", labels=LABELS),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=LABELS),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=LABELS),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="example/web:1")]),
            ),
        ),
    )


def test_deployment_reaches_ready_and_service_gets_endpoints(api_client, namespace):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    discovery = client.DiscoveryV1Api(api_client)
    apps.create_namespaced_deployment(namespace, _deployment(3))
    core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1ServiceSpec(selector=LABELS, ports=[client.V1ServicePort(port=80)]),
        ),
    )
    eventually(
        lambda: apps.read_namespaced_deployment(name="web", namespace=namespace).status.ready_replicas == 3,
        60,
        "3 ready replicas",
    )
    pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert {p.status.phase for p in pods} == {"Running"}
    assert all(p.spec.node_name.startswith("kwok-node-") for p in pods)
    pod_ips = {p.status.pod_ip for p in pods}
    assert len(pod_ips) == 3

    def slice_ips() -> set[str]:
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=web"
        ).items
        return {addr for s in slices for e in (s.endpoints or []) for addr in e.addresses}

    eventually(lambda: slice_ips() == pod_ips, 30, "EndpointSlices listing the 3 pod IPs")


def test_deleting_deployment_garbage_collects_replicaset_and_pods(api_client, namespace):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(namespace, _deployment(2))
    eventually(lambda: len(core.list_namespaced_pod(namespace).items) == 2, 60, "2 pods")
    assert len(apps.list_namespaced_replica_set(namespace).items) == 1
    apps.delete_namespaced_deployment("web", namespace, propagation_policy="Background")
    eventually(lambda: not apps.list_namespaced_replica_set(namespace).items, 60, "ReplicaSet collected")
    eventually(lambda: not core.list_namespaced_pod(namespace).items, 60, "pods collected")


def test_rbac_is_enforced(cluster: LocalCluster, api_client, namespace):
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata={"name": "reader"}))
    token = core.create_namespaced_service_account_token(
        "reader", namespace, client.AuthenticationV1TokenRequest(spec={"audiences": [], "expiration_seconds": 600})
    ).status.token
    cfg = client.Configuration()
    cfg.host = cluster.server
    cfg.ssl_ca_cert = str(cluster.state_dir / "pki" / "apiserver.crt")
    cfg.api_key = {"authorization": f"Bearer {token}"}
    as_reader = client.AppsV1Api(client.ApiClient(cfg))

    with pytest.raises(ApiException) as denied:
        as_reader.list_namespaced_deployment(namespace)
    assert denied.value.status == 403

    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata={"name": "deploy-reader"},
            rules=[client.V1PolicyRule(api_groups=["apps"], resources=["deployments"], verbs=["list"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata={"name": "deploy-reader"},
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="deploy-reader"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace=namespace)],
        ),
    )
    listed = eventually(lambda: as_reader.list_namespaced_deployment(namespace), 15, "RBAC to allow the list")
    assert listed.items == []


def test_teardown_stops_every_process_and_frees_ports():
    with LocalCluster(nodes=1) as second:
        pids, ports = second.pids(), second.ports()
        assert len(pids) == 5 and ports
        state_dir = second.state_dir
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert all(port_free(p) for p in ports), ports
    assert not state_dir.exists()
