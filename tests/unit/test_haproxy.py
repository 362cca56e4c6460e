"""The HAProxy tier's pure builders: golden haproxy.cfg per strategy, `haproxy -c` with the real Debian
haproxy on every rendered config, the Kubernetes objects, and what rolls (or not) when the spec changes."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from webscale_local.haproxy import haproxy_check

from webscale.api.app import App
from webscale.api.labels import CONFIG_CHECKSUM_ANNOTATION
from webscale.reconcile import haproxy_config
from webscale.reconcile.builders import build_children, build_service
from webscale.reconcile.haproxy import HAPROXY_IMAGE, build_haproxy_pdb, build_lb_children, lb_name

DATA = Path(__file__).resolve().parents[1] / "data"
STRATEGIES = ["round-robin", "least-connections", "ip-hash"]
BASE = {"image": "registry.example/shop:1.4.2", "resources": {"cpu": "2"}}


def app(spec: dict, name: str = "shop", namespace: str = "default") -> App:
    body = {"metadata": {"name": name, "namespace": namespace, "uid": "u-1", "generation": 1}, "spec": spec}
    result = App.from_body(body)
    assert result.valid, result.errors
    return result


def lb(**fields) -> dict:
    return {**BASE, "loadBalancer": fields}


def kinds(children: list[dict]) -> list[str]:
    return [f"{c['kind']}/{c['metadata']['name']}" for c in children]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_config_matches_golden(strategy):
    got = haproxy_config.render_for("default", "shop", app(lb(strategy=strategy)).valid_spec)
    golden = DATA / f"haproxy-{strategy}.cfg"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(got)
    assert got == golden.read_text(), f"{golden} differs; rerun with UPDATE_GOLDEN=1 if the change is intended"


@pytest.mark.parametrize(
    ("strategy", "replicas", "workers", "lb_replicas"),
    list(
        itertools.product(
            STRATEGIES,
            [{"min": 1, "max": 1}, {"min": 2, "max": 20}, {"min": 1, "max": 1000}],
            [{"mode": "fixed", "count": 1, "max": 1}, {"mode": "auto"}, {"mode": "fixed", "count": 256, "max": 256}],
            [1, 2, 10],
        )
    ),
)
def test_every_rendered_config_passes_haproxy_check(tmp_path, strategy, replicas, workers, lb_replicas):
    spec = {**BASE, "replicas": replicas, "workers": workers}
    spec["loadBalancer"] = {"strategy": strategy, "replicas": lb_replicas}
    cfg_map = build_lb_children(app(spec), {})[0]
    haproxy_check(cfg_map["data"]["haproxy.cfg"], tmp_path)


def test_strategy_directives():
    def backend(strategy: str) -> list[str]:
        cfg = haproxy_config.render_for("default", "shop", app(lb(strategy=strategy)).valid_spec)
        return haproxy_config.sections(cfg)[f"backend {haproxy_config.BACKEND}"]

    assert "balance roundrobin" in backend("round-robin")
    assert "balance leastconn" in backend("least-connections")
    ip_hash = backend("ip-hash")
    assert "balance source" in ip_hash and "hash-type consistent" in ip_hash
    assert not any(line.startswith("hash-type") for line in backend("round-robin"))


def test_backends_come_from_the_headless_service_srv_records():
    cfg = haproxy_config.render_for("team-a", "shop", app({**BASE, "replicas": {"max": 7}}).valid_spec)
    backend = haproxy_config.sections(cfg)[f"backend {haproxy_config.BACKEND}"]
    assert "server-template pod 1-7 _http._tcp.shop-pods.team-a.svc.cluster.local" in backend
    assert "option httpchk GET /readyz" in backend
    defaults = haproxy_config.sections(cfg)["defaults"]
    assert {"option forwardfor", "option redispatch 1", "retries 3"} <= set(defaults)
    assert any(line.startswith("parse-resolv-conf") for line in haproxy_config.sections(cfg)["resolvers cluster"])


@pytest.mark.parametrize(
    ("workers", "maxconn"), [({"mode": "fixed", "count": 1}, 16), ({"mode": "fixed", "count": 3}, 48)]
)
def test_maxconn_per_server_is_workers_times_connections_per_worker(workers, maxconn):
    spec = app({**BASE, "workers": workers}).valid_spec
    assert haproxy_config.server_maxconn(spec) == maxconn == workers["count"] * haproxy_config.CONNECTIONS_PER_WORKER
    assert f" maxconn {maxconn} " in haproxy_config.render_for("default", "shop", spec)


def test_provider_haproxy_children():
    children = build_children(app(lb()))
    assert kinds(children) == [
        "Deployment/shop",
        "Service/shop-pods",
        "ConfigMap/shop-haproxy",
        "Deployment/shop-haproxy",
        "PodDisruptionBudget/shop-haproxy",
        "Service/shop",
    ]
    for child in children:
        ref = child["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["name"], ref["controller"]) == ("ScaledWebApp", "shop", True)
    entry = children[-1]
    dep = children[3]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert entry["spec"]["selector"].items() <= pod_labels.items(), "the entry Service selects the HAProxy pods"
    app_pod_labels = children[0]["spec"]["template"]["metadata"]["labels"]
    assert not entry["spec"]["selector"].items() <= app_pod_labels.items(), "... and not the app's pods"
    headless = children[1]["spec"]["selector"]
    assert headless.items() <= app_pod_labels.items() and not headless.items() <= pod_labels.items()


def test_provider_service_has_no_haproxy_and_points_at_the_pods():
    children = build_children(app(lb(provider="service")))
    assert kinds(children) == ["Deployment/shop", "Service/shop-pods", "Service/shop"]
    assert children[-1]["spec"]["selector"] == children[1]["spec"]["selector"]


def test_haproxy_deployment_is_locked_down():
    dep = build_lb_children(app(lb(replicas=3)), {})[1]
    assert dep["spec"]["replicas"] == 3
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == HAPROXY_IMAGE and "@" not in HAPROXY_IMAGE and ":" in HAPROXY_IMAGE
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["readinessProbe"]["httpGet"]["path"] == haproxy_config.LB_READY_PATH == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["port"] == "metrics"
    term = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    annotations = dep["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(haproxy_config.METRICS_PORT)
    assert len(annotations[CONFIG_CHECKSUM_ANNOTATION]) == 64


@pytest.mark.parametrize("account", [None, "shop-reader"])
def test_haproxy_pods_get_no_api_token_whatever_the_app_runs_as(account):
    """HAProxy faces the internet and never calls the API: no ServiceAccount token is mounted in its pods,
    not even when the app's own pods run as an account with its token (spec.serviceAccountName)."""
    spec = lb(replicas=2) | ({"serviceAccountName": account} if account else {})
    children = {c["kind"] + "/" + c["metadata"]["name"]: c for c in build_children(app(spec), {})}
    haproxy = children["Deployment/shop-haproxy"]["spec"]["template"]["spec"]
    assert haproxy["automountServiceAccountToken"] is False and "serviceAccountName" not in haproxy
    pods = children["Deployment/shop"]["spec"]["template"]["spec"]
    assert pods["automountServiceAccountToken"] is (account is not None)


def test_pdb_only_from_two_replicas():
    assert build_haproxy_pdb(app(lb(replicas=1)), {}) is None
    pdb = build_haproxy_pdb(app(lb(replicas=2)), {})
    assert pdb is not None and pdb["spec"]["minAvailable"] == 1
    assert "PodDisruptionBudget/shop-haproxy" not in kinds(build_children(app(lb(replicas=1))))


def _checksum(spec: dict) -> str:
    dep = next(
        c
        for c in build_children(app(spec))
        if c["kind"] == "Deployment" and c["metadata"]["name"] == lb_name(app(spec))
    )
    return dep["spec"]["template"]["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION]


def test_strategy_change_rolls_haproxy_and_app_scaling_does_not():
    base = _checksum(lb())
    assert _checksum(lb(strategy="least-connections")) != base
    assert _checksum(lb(strategy="ip-hash")) != base
    # the app's replica count, its autoscaling and the HAProxy replica count change no config
    lb_children = [c for c in build_children(app(lb())) if c["kind"] != "Deployment" or c["metadata"]["name"] != "shop"]
    for other in (
        {**lb(), "replicas": {"min": 5, "count": 9}},
        {**lb(), "autoscaling": {"mode": "off"}},
    ):
        again = [c for c in build_children(app(other)) if c["kind"] != "Deployment" or c["metadata"]["name"] != "shop"]
        assert again == lb_children
    assert _checksum(lb(replicas=5)) == base
    # replicas.max is the number of server slots: changing it is a new config
    assert _checksum({**lb(), "replicas": {"max": 30}}) != base


def test_entry_service_type_annotations_and_affinity():
    spec = lb(strategy="ip-hash", service={"type": "LoadBalancer", "annotations": {"example.com/lb": "nlb"}})
    svc = build_service(app(spec))
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"] == {"example.com/lb": "nlb"}
    assert svc["spec"]["sessionAffinity"] == "ClientIP"  # one client, one HAProxy pod, one hash ring
    assert svc["spec"]["externalTrafficPolicy"] == "Local"  # the client's address reaches HAProxy
    plain = build_service(app(lb(service={"type": "NodePort"})))["spec"]
    assert (plain["sessionAffinity"], plain["externalTrafficPolicy"]) == ("None", "Cluster")
    cluster_ip = build_service(app(lb()))
    assert cluster_ip["spec"]["type"] == "ClusterIP" and "externalTrafficPolicy" not in cluster_ip["spec"]
    assert "annotations" not in cluster_ip["metadata"]


@pytest.mark.parametrize(("strategy", "affinity"), [("round-robin", "None"), ("ip-hash", "ClientIP")])
def test_service_provider_session_affinity_is_always_explicit(strategy, affinity):
    svc = build_service(app(lb(provider="service", strategy=strategy)))
    assert svc["spec"]["sessionAffinity"] == affinity


def test_haproxy_image_setting_replaces_the_official_image_and_nothing_else():
    default = build_children(app(lb()))
    mirrored = build_children(app(lb()), haproxy_image="registry.example/haproxy:3.2")
    images = [c["spec"]["template"]["spec"]["containers"][0]["image"] for c in mirrored if c["kind"] == "Deployment"]
    assert images[1] == "registry.example/haproxy:3.2" and images[0] != images[1]
    for before, after in zip(default, mirrored, strict=True):
        if before["kind"] == "Deployment" and before["metadata"]["name"] == "shop-haproxy":
            before["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/haproxy:3.2"
        assert before == after


def test_haproxy_image_setting_rejects_an_empty_or_spaced_value():
    from pydantic import ValidationError

    from webscale.settings import Settings

    assert Settings(haproxy_image="mirror/haproxy:3.2").haproxy_image == "mirror/haproxy:3.2"
    for bad in ("", "a b"):
        with pytest.raises(ValidationError, match="haproxy_image"):
            Settings(haproxy_image=bad)


def test_only_idempotent_requests_are_sent_again_after_a_pod_answered_nothing():
    backend = haproxy_config.sections(haproxy_config.render_for("default", "shop", app(lb()).valid_spec))[
        "backend pods"
    ]
    assert "retry-on conn-failure empty-response" in backend
    disable = [line for line in backend if line.startswith("http-request disable-l7-retry")]
    assert disable == ["http-request disable-l7-retry if !{ method GET HEAD OPTIONS PUT DELETE TRACE }"]
    assert "POST" not in disable[0] and "PATCH" not in disable[0]


def test_cluster_domain_setting_takes_a_dns_name_only():
    from pydantic import ValidationError

    from webscale.settings import Settings

    assert Settings().cluster_domain == "cluster.local"
    assert Settings(cluster_domain="corp.internal").cluster_domain == "corp.internal"
    for bad in ("", "a..b", ".local", "Cluster.Local", "a b", "x.local.", "-x.local", "a" * 64 + ".local"):
        with pytest.raises(ValidationError, match="cluster_domain"):
            Settings(cluster_domain=bad)
