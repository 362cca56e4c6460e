"""The real node's configuration keeps what these machines and the network rule need."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import yaml
from webscale_local.node_config import (
    NODE_IP,
    POD_CIDR,
    cni_conflist,
    containerd_toml,
    corefile,
    kube_proxy_config,
    kubelet_config,
)

STATE = Path("/tmp/webscale-node-x")


def test_containerd_is_private_to_the_run_and_clamps_oom_score_adj() -> None:
    conf = tomllib.loads(containerd_toml(STATE))
    for key in ("root", "state"):
        assert conf[key].startswith(str(STATE) + "/")
    assert conf["grpc"]["address"].startswith(str(STATE) + "/")
    cri = conf["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True  # root cannot lower oom_score_adj on these machines
    assert cri["netns_mounts_under_state_dir"] is True  # the pods' namespaces go with the state dir
    assert cri["cni"]["conf_dir"].startswith(str(STATE) + "/")


def test_pods_get_the_node_as_gateway_and_are_not_masqueraded() -> None:
    bridge = json.loads(cni_conflist())["plugins"][0]
    assert bridge["ipMasq"] is False
    assert bridge["isDefaultGateway"] is True  # else a pod cannot reach a Service (the API server, Prometheus)
    assert bridge["ipam"]["ranges"][0][0] == {"subnet": POD_CIDR, "gateway": NODE_IP}


def test_kubelet_listens_on_the_node_ip_only_with_cgroupfs_under_its_own_root() -> None:
    conf = yaml.safe_load(kubelet_config(STATE, "/webscale-node-x"))
    assert conf["address"] == NODE_IP and conf["readOnlyPort"] == 0
    assert (conf["cgroupDriver"], conf["cgroupRoot"], conf["failCgroupV1"]) == ("cgroupfs", "/webscale-node-x", False)
    assert conf["clusterDNS"] == [NODE_IP]
    assert conf["resolvConf"].startswith(str(STATE) + "/")  # nothing of the machine's resolver in pods
    assert conf["podLogsDir"].startswith(str(STATE) + "/")


def test_kube_proxy_leaves_the_machine_wide_conntrack_settings_alone() -> None:
    conf = yaml.safe_load(kube_proxy_config(STATE / "kubeconfig", "node-0"))
    assert conf["conntrack"]["maxPerCore"] == 0 and conf["mode"] == "iptables"


def test_cluster_dns_forwards_nothing() -> None:
    text = corefile(STATE / "kubeconfig")
    assert "forward" not in text and "proxy" not in text
    assert f"bind {NODE_IP}" in text
