"""Flags, kubeconfig, nodes and audit policy of the local control plane (pure text builders)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

SERVICE_CIDR = "10.96.0.0/16"

# Every request: who, which verb on which resource, and the response code (level Metadata).
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
"""


class _Cluster(Protocol):
    state_dir: Path
    etcd_url: str
    api_port: int
    admission_plugins: tuple[str, ...]
    node_ip: str | None


def apiserver_args(c: _Cluster, audit: bool) -> list[str]:
    """With `node_ip` (a real node, inside the harness's network namespace) the API server also listens
    there and publishes it as the `kubernetes` Service's endpoint, so pods reach it; otherwise loopback only."""
    d = c.state_dir
    args = [
        f"--etcd-servers={c.etcd_url}",
        f"--bind-address={'0.0.0.0' if c.node_ip else '127.0.0.1'}",
        f"--advertise-address={c.node_ip or '127.0.0.1'}",
        f"--secure-port={c.api_port}",
        f"--cert-dir={d / 'pki'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={d / 'sa.key'}",
        f"--service-account-signing-key-file={d / 'sa.key'}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        f"--token-auth-file={d / 'tokens.csv'}",
        f"--endpoint-reconciler-type={'lease' if c.node_ip else 'none'}",
        "--allow-privileged=true",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
    ]
    if c.node_ip:  # a real node: reach its kubelet (logs, exec) by address, not by a name nothing resolves
        args.append("--kubelet-preferred-address-types=InternalIP,Hostname")
    if c.admission_plugins:  # on top of kube-apiserver's default set
        args.append(f"--enable-admission-plugins={','.join(c.admission_plugins)}")
    if audit:
        args += [
            f"--audit-policy-file={d / 'audit-policy.yaml'}",
            f"--audit-log-path={d / 'audit.log'}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
            # never rotated (the default rotates at 100 MB, which 5,000 apps reach): readers keep offsets into one file
            "--audit-log-maxsize=100000",
        ]
    return args


def kubeconfig_yaml(server: str, token: str, pki: Path) -> str:
    return f"""\
apiVersion: v1
kind: Config
clusters:
  - name: webscale-local
    cluster:
      server: {server}
      certificate-authority: {pki / "apiserver.crt"}
users:
  - name: webscale-admin
    user:
      token: {token}
contexts:
  - name: webscale-local
    context: {{cluster: webscale-local, user: webscale-admin, namespace: default}}
current-context: webscale-local
"""


def node_manifest(name: str, cpu: str, memory: str, pods: int = 110) -> str:
    """A kwok-managed fake node with real capacity and no taint that blocks ordinary pods."""
    return f"""\
apiVersion: v1
kind: Node
metadata:
  name: {name}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: {name}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {{cpu: "{cpu}", memory: {memory}, pods: "{pods}"}}
  capacity: {{cpu: "{cpu}", memory: {memory}, pods: "{pods}"}}
"""
