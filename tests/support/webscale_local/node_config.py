"""Configuration of a real node's processes: containerd, CNI, kubelet, CoreDNS (pure text builders).

Everything lives under one state directory private to the run; nothing is shared with another
containerd or kubelet on the machine. Two values these machines need: `restrict_oom_score_adj`
(root cannot lower oom_score_adj here, and containerd gives every sandbox -998 otherwise) and
`failCgroupV1: false` with `cgroupDriver: cgroupfs` (cgroup v1 controllers, no systemd)."""

from __future__ import annotations

import json
from pathlib import Path

POD_CIDR = "10.244.0.0/24"
NODE_IP = "10.244.0.1"
"""The node's address: the CNI bridge's gateway, which the harness creates before the kubelet starts
(the kernel here has no `dummy` links). Pods reach the API server, the kubelet and CoreDNS on it."""
BRIDGE = "cni0"
CLUSTER_DOMAIN = "cluster.local"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"


def containerd_toml(state: Path) -> str:
    return f"""\
version = 2
root = "{state / "containerd" / "root"}"
state = "{state / "containerd" / "state"}"
[grpc]
  address = "{containerd_socket(state)}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{state / "net.d"}"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
"""


def containerd_socket(state: Path) -> Path:
    return state / "containerd" / "containerd.sock"


def cni_conflist() -> str:
    return json.dumps(
        {
            "cniVersion": "0.4.0",
            "name": "webscale",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    # pods' default route points at the node (which has none): Service addresses are
                    # rewritten there by kube-proxy, anything else is unreachable
                    "isDefaultGateway": True,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]]},
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


def kubelet_config(state: Path, cgroup_root: str) -> str:
    """KubeletConfiguration. The kubelet listens on the node IP inside the harness's network namespace
    only; the API server reaches it there for logs and exec (anonymous, always allowed: a test node)."""
    return f"""\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: {NODE_IP}
port: 10250
readOnlyPort: 0
healthzPort: 0
cgroupDriver: cgroupfs
cgroupRoot: {cgroup_root}
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://{containerd_socket(state)}
authentication:
  anonymous: {{enabled: true}}
  webhook: {{enabled: false}}
authorization: {{mode: AlwaysAllow}}
clusterDNS: [{NODE_IP}]
clusterDomain: {CLUSTER_DOMAIN}
resolvConf: {state / "resolv.conf"}
podLogsDir: {state / "pod-logs"}
podCIDR: {POD_CIDR}
evictionHard: {{"nodefs.available": "1%", "imagefs.available": "1%", "memory.available": "50Mi"}}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
enforceNodeAllocatable: []
serializeImagePulls: false
syncFrequency: 10s
fileCheckFrequency: 5s
nodeStatusReportFrequency: 10s
"""


def kube_proxy_config(kubeconfig: Path, hostname: str) -> str:
    return f"""\
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {{kubeconfig: {kubeconfig}}}
hostnameOverride: {hostname}
mode: iptables
clusterCIDR: "10.244.0.0/16"
bindAddress: {NODE_IP}
conntrack: {{maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}}
"""


def corefile(kubeconfig: Path) -> str:
    """Cluster DNS only: Service and Pod records from the API server; nothing is forwarded anywhere."""
    return f"""\
.:53 {{
    bind {NODE_IP}
    errors
    health 127.0.0.1:8053
    ready 127.0.0.1:8181
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig} webscale-local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
}}
"""


APP_IMAGE = "localhost/webscale-sample-app:dev"
"""sample-app/Dockerfile as tests/node/images.sh builds it (FROM the Debian base)."""
OPERATOR_IMAGE = "localhost/webscale-operator:dev"
"""The project's Dockerfile as tests/node/images.sh builds it."""
