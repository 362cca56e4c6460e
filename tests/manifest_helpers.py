"""Helpers shared by the manifest tests: tests/unit/test_manifests_*.py read manifests/ as files,
tests/integration/test_rbac_manifests.py and test_manifests_apply.py render and apply it on the local
control plane; those and test_helm, test_kustomize and test_owner_references run the operator as its
ServiceAccount and read what it asked for back from the audit log."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import yaml
from kubernetes import client
from waiting import eventually
from webscale_local import audit
from webscale_local.operator_process import OperatorProcess
from webscale_local.ports import free_port
from webscale_local.swa import app_body

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
BASE = MANIFESTS / "base"
NAMESPACED = MANIFESTS / "overlays" / "namespaced"
PROM = MANIFESTS / "prometheus-kind"
CHART = MANIFESTS / "helm" / "webscale-operator"
KIND_DEPLOY = ROOT / "scripts" / "kind_deploy.sh"
CRD_NAME = "scaledwebapps.webscale.dev.yaml"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

SYSTEM_NS = "webscale-system"
SA = "webscale-operator"
RBAC_KINDS = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")

Permission = tuple[str, str, str]  # (apiGroup, resource[/subresource], verb)
SA_USER = f"system:serviceaccount:{SYSTEM_NS}:{SA}"
LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")  # the plain log format's timestamp


# ---- manifests/ as files (unit tests) -----------------------------------------------------------
def docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def one(path: Path, kind: str | None = None) -> dict:
    found = [d for d in docs(path) if kind is None or d["kind"] == kind]
    assert len(found) == 1, f"{path}: expected one {kind or 'document'}"
    return found[0]


def base_container() -> dict:
    return one(BASE / "deployment.yaml")["spec"]["template"]["spec"]["containers"][0]


# ---- rendering and applying (integration tests) -------------------------------------------------
def kubectl_bin(cluster) -> str:
    return str(cluster.bin_dir / "bin" / "webscale-k8s")


def run_kubectl(cluster, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """kubectl as the admin, keeping stderr (Pod Security warnings arrive there)."""
    cmd = [kubectl_bin(cluster), "kubectl", f"--kubeconfig={cluster.kubeconfig}", *args]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
    return proc


def render(cluster, path: Path = BASE) -> list[dict]:
    return [d for d in yaml.safe_load_all(cluster.kubectl("kustomize", str(path))) if d]


def render_base(cluster) -> list[dict]:
    return render(cluster, BASE)


def one_kind(docs: list[dict], kind: str) -> dict:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def granted(cluster_role: dict) -> set[Permission]:
    return {
        (group, resource, verb)
        for rule in cluster_role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def helm_binary() -> str | None:
    return os.environ.get("WEBSCALE_HELM") or shutil.which("helm")


def wait_namespace_gone(cluster, name: str = SYSTEM_NS) -> None:
    """Another module's teardown may still be deleting the namespace (without waiting): objects created
    in it would be refused, so wait for that first."""
    eventually(
        lambda: (
            cluster.kubectl("get", "namespace", name, "--ignore-not-found", "-o", "jsonpath={.status.phase}")
            != "Terminating"
        ),
        120,
        f"namespace {name} from an earlier test to be deleted",
        interval=0.5,
    )


def mint_token(api_client, namespace: str = SYSTEM_NS, name: str = SA) -> str:
    """A ServiceAccount token from the TokenRequest API (audience: the API server), valid 1 h."""
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))
    return client.CoreV1Api(api_client).create_namespaced_service_account_token(name, namespace, request).status.token


def write_sa_kubeconfig(cluster, token: str, path: Path, namespace: str = SYSTEM_NS, name: str = SA) -> Path:
    """A kubeconfig that authenticates with a ServiceAccount token, as the operator's pod would."""
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {
                    "server": cluster.server,
                    "certificate-authority": str(cluster.state_dir / "pki" / "apiserver.crt"),
                },
            }
        ],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": "local", "user": name, "namespace": namespace}}],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(kubeconfig))
    path.chmod(0o600)
    return path


def operator_env(deployment: dict, **overrides: str) -> dict[str, str]:
    """The environment a Deployment gives its operator container, so a local process runs as its pod
    would: literal values, and the downward API's metadata.name / metadata.namespace (the Lease lives in
    the pod's namespace). `overrides` win (e.g. a free liveness port)."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    namespace = deployment["metadata"].get("namespace", "default")
    downward = {"metadata.name": f"{deployment['metadata']['name']}-local", "metadata.namespace": namespace}
    env = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
        elif "fieldRef" in e.get("valueFrom", {}):
            env[e["name"]] = downward[e["valueFrom"]["fieldRef"]["fieldPath"]]
    return {**env, **overrides}


def applied_base_rbac(cluster) -> Iterator[list[dict]]:
    """Body of each module's `base_rbac` fixture: the base's Namespace, ServiceAccount, ClusterRole and
    ClusterRoleBinding, applied; removed afterwards. Yields the whole rendered base.

    Waits for an earlier deletion of the namespace first (wait_namespace_gone)."""
    wait_namespace_gone(cluster)
    docs = render_base(cluster)
    rbac = [d for d in docs if d["kind"] in RBAC_KINDS]
    assert sorted(d["kind"] for d in rbac) == sorted(RBAC_KINDS)
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(rbac))
    yield docs
    for kind in ("clusterrolebinding", "clusterrole"):
        cluster.kubectl("delete", kind, SA, "--ignore-not-found", check=False)
    # the leader-election Role and RoleBinding go with the namespace
    cluster.kubectl("delete", "namespace", SYSTEM_NS, "--ignore-not-found", "--wait=false", check=False)


# ---- the operator as its ServiceAccount, read back from the audit log ---------------------------
def audit_mark(cluster) -> int:
    return audit.mark(cluster.audit_log)


def sa_requests(cluster, since: int) -> list[dict]:
    """Audit entries of requests made as the operator's ServiceAccount since `since` (an audit_mark)."""
    entries = audit.entries(cluster.audit_log, since)
    return [e for e in entries if e.get("user", {}).get("username") == SA_USER and "objectRef" in e]


def permission(entry: dict) -> Permission:
    ref = entry["objectRef"]
    resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
    return (ref.get("apiGroup", ""), resource, entry["verb"])


def denied(entries: list[dict]) -> list[str]:
    """Requests refused for want of a permission: by the authorizer, or inside the request (an
    apply that would create its object without "create"). A 403 because the namespace is being
    deleted is not one."""
    out = []
    for e in entries:
        status = e.get("responseStatus", {})
        if e.get("annotations", {}).get("authorization.k8s.io/decision") == "forbid" or (
            status.get("code") == 403 and "being terminated" not in status.get("message", "")
        ):
            out.append(f"{e['verb']} {e['requestURI']}: {status.get('message', '')}")
    return out


def used(entries: list[dict]) -> set[Permission]:
    """Permissions exercised. A server-side apply that creates its object (a PATCH answered
    201) is authorized as "create" too, inside the request: it counts as both."""
    out: set[Permission] = set()
    for e in entries:
        if e.get("annotations", {}).get("authorization.k8s.io/decision") != "allow":
            continue
        group, resource, verb = permission(e)
        out.add((group, resource, verb))
        if verb == "patch" and e.get("responseStatus", {}).get("code") == 201:
            out.add((group, resource, "create"))
    return out


STATUS_403 = re.compile(r"(?<![\w.:-])403(?!\w)")
"""403 standing alone: not inside a port, an address, a longer number or a name (the tests' random
namespaces, such as t-owner-refs-403c, are one in a few thousand)."""


def forbidden_lines(log: str) -> list[str]:
    """Operator log lines about a refused request, judged on the message and on 403 as a whole number:
    neither a timestamp's ",403" milliseconds nor a port such as 127.0.0.1:40323 is one."""
    out = []
    for line in log.splitlines():
        message = LOG_PREFIX.sub("", line)
        if STATUS_403.search(message) or any(
            s in message for s in ("Not enough permissions", "Forbidden", f'"{SA_USER}" cannot')
        ):
            out.append(line)
    return out


def clean_run(op: OperatorProcess, cluster, since: int) -> list[dict]:
    """After `op` has stopped: its log (printed for the test report) tells of no refused request,
    and the audit log shows none of its ServiceAccount's requests since `since` denied. Returns
    those requests."""
    log = op.log()
    print(log[-4000:])
    assert forbidden_lines(log) == [], forbidden_lines(log)
    requests = sa_requests(cluster, since)
    assert denied(requests) == [], denied(requests)
    return requests


def start_operator(cluster, sa_kubeconfig: Path, log: Path, **env: str) -> OperatorProcess:
    return OperatorProcess(
        cluster,
        log,
        KUBECONFIG=str(sa_kubeconfig),
        WEBSCALE_RESYNC_SECONDS="2",
        WEBSCALE_METRICS_TIMEOUT_SECONDS="1",
        WEBSCALE_PROMETHEUS_URLS=NO_PROMETHEUS,
        POD_NAMESPACE=SYSTEM_NS,  # the Lease lives in the operator's namespace, as in a pod
        **env,
    ).start()


NO_PROMETHEUS = f"http://127.0.0.1:{free_port()}"
"""The operator's allowed Prometheus, which is not there (connection refused)."""


def fast_app(name: str, **spec: object) -> dict:
    """An app polled as often as the schema allows against a Prometheus that is not there."""
    metrics = {"prometheus": {"url": NO_PROMETHEUS}}
    return app_body(name, autoscaling={"pollingInterval": "5s"}, metrics=metrics, **spec)


# ---- the operator under the base's RBAC ---------------------------------------------------------
