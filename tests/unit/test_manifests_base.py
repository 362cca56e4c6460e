"""manifests/ kustomize base, Prometheus for kind, Dockerfile and scripts/kind_deploy.sh: consistent with
the code and with each other.

No server needed (tests/integration/test_rbac_manifests.py and test_manifests_apply.py run them against
a real API server). The Helm chart is tests/unit/test_manifests_helm.py.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from manifest_helpers import (
    BASE,
    CHART,
    CRD_NAME,
    KIND_DEPLOY,
    MANIFESTS,
    NAMESPACED,
    PROM,
    ROOT,
    VERSION,
    base_container,
    one,
)

from webscale.api import models
from webscale.api.labels import LB_COMPONENT, MANAGED_BY, MANAGED_BY_LABEL
from webscale.promql.relabel import scrape_config
from webscale.reconcile.haproxy_config import METRICS_PORT
from webscale.settings import Settings


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("manifests_generate", MANIFESTS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- generated files ----------------------------------------------------------------------------
def test_generated_files_are_current():
    stale = [str(p.relative_to(ROOT)) for p in load_generator().stale()]
    assert stale == [], f"stale: {stale}; run `.venv/bin/python manifests/generate.py`"


def test_crd_copies_are_identical_to_crds():
    crd = (ROOT / "crds" / CRD_NAME).read_text()
    assert (BASE / "crds" / CRD_NAME).read_text() == crd
    assert (CHART / "crds" / CRD_NAME).read_text() == crd


def test_prometheus_config_is_the_relabel_contract():
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    assert config["scrape_configs"] == [scrape_config()]
    assert config["global"]["scrape_interval"] == "15s"


# ---- kustomize base -----------------------------------------------------------------------------
def test_kustomizations_list_every_manifest_in_their_directory():
    for directory in (BASE, PROM, NAMESPACED, MANIFESTS / "components" / "networkpolicy"):
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        listed = {r for r in kustomization["resources"] if not r.startswith("../")}
        listed |= {f for g in kustomization.get("configMapGenerator", []) for f in g.get("files", [])}
        present = {str(p.relative_to(directory)) for p in directory.rglob("*.y*ml")} - {"kustomization.yaml"}
        assert listed == present, directory


def test_base_objects_are_named_and_bound_consistently():
    sa = one(BASE / "serviceaccount.yaml")
    role = one(BASE / "clusterrole.yaml")
    binding = one(BASE / "clusterrolebinding.yaml")
    namespace = one(BASE / "namespace.yaml")
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    pod = one(BASE / "deployment.yaml")["spec"]["template"]["spec"]
    assert kustomization["namespace"] == namespace["metadata"]["name"] == "webscale-system"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "webscale-operator",
    }
    assert role["metadata"]["name"] == "webscale-operator"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "webscale-system"}
    ]
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_operator_pdb_keeps_one_pod_through_a_drain():
    pdb = one(BASE / "poddisruptionbudget.yaml")
    dep = one(BASE / "deployment.yaml")
    assert pdb["spec"]["minAvailable"] == 1 < dep["spec"]["replicas"]
    assert pdb["spec"]["selector"] == dep["spec"]["selector"]


NETWORK_POLICY = MANIFESTS / "components" / "networkpolicy"


def rule_ports(rule: dict) -> set[tuple[int, str]]:
    return {(p["port"], p["protocol"]) for p in rule["ports"]}


def test_network_policy_component_allows_only_what_the_operator_talks_to():
    component = yaml.safe_load((NETWORK_POLICY / "kustomization.yaml").read_text())
    assert component["kind"] == "Component" and component["resources"] == ["networkpolicy.yaml"]
    whole = one(NETWORK_POLICY / "networkpolicy.yaml")
    # a component comes after the base's namespace transformer: it names the namespace itself
    assert whole["metadata"]["namespace"] == yaml.safe_load((BASE / "kustomization.yaml").read_text())["namespace"]
    policy = whole["spec"]
    dep = one(BASE / "deployment.yaml")["spec"]
    env = {e["name"]: e["value"] for e in base_container()["env"] if "value" in e}
    assert policy["podSelector"] == dep["selector"] and policy["policyTypes"] == ["Ingress", "Egress"]
    # ingress: the metrics and probe port, and the wake port (from any pod: apps' HAProxy pods ask it)
    wake_port = int(env["WEBSCALE_WAKE_PORT"])
    assert [rule_ports(r) for r in policy["ingress"]] == [
        {(int(env["WEBSCALE_LIVENESS_PORT"]), "TCP")},
        {(wake_port, "TCP")},
    ]
    assert "from" not in policy["ingress"][0] and policy["ingress"][1]["from"] == [{"namespaceSelector": {}}]
    # egress: every rule names its ports (a rule without ports allows all of them)
    dns, api, haproxy, prometheus = (rule_ports(r) for r in policy["egress"])
    assert dns == {(53, "UDP"), (53, "TCP")} and api == {(443, "TCP"), (6443, "TCP")}
    # the HAProxy pods' metrics frontend (held requests at zero), and only theirs
    assert haproxy == {(METRICS_PORT, "TCP")}
    assert policy["egress"][2]["to"][0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/component": LB_COMPONENT,
        MANAGED_BY_LABEL: MANAGED_BY,
    }
    # the wake URL names the base's wake Service, in the cluster domain the operator is given, on the wake port
    service = one(BASE / "wake-service.yaml")
    namespace = yaml.safe_load((BASE / "kustomization.yaml").read_text())["namespace"]
    domain = env["WEBSCALE_CLUSTER_DOMAIN"]
    assert domain == Settings.model_fields["cluster_domain"].default
    assert env["WEBSCALE_WAKE_URL"] == f"http://{service['metadata']['name']}.{namespace}.svc.{domain}:{wake_port}"
    assert service["spec"]["ports"] == [{"name": "wake", "port": wake_port, "targetPort": "wake", "protocol": "TCP"}]
    assert service["spec"]["selector"] == dep["selector"]["matchLabels"]
    ports = {p["name"]: p["containerPort"] for p in base_container()["ports"]}
    assert ports["wake"] == wake_port
    prometheus_port = int(env["WEBSCALE_PROMETHEUS_URLS"].rsplit(":", 1)[1])
    assert prometheus == {(prometheus_port, "TCP")}


PRUNED = {"deployments", "configmaps", "poddisruptionbudgets"}


def test_base_rbac_grants_no_wildcards_and_no_secrets():
    for rule in one(BASE / "clusterrole.yaml")["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
        assert "secrets" not in rule["resources"], rule  # configmaps: the load-balancer tier's haproxy.cfg
        assert not {"deletecollection", "escalate", "bind", "impersonate"} & set(rule["verbs"])
        # delete: only the children pruned when the spec stops asking for them (the HAProxy tier)
        assert "delete" not in rule["verbs"] or rule["resources"][0] in PRUNED, rule
        # update only where OwnerReferencesPermissionEnforcement asks for it (never a request)
        assert "update" not in rule["verbs"] or rule["resources"] == ["scaledwebapps/finalizers"], rule


def test_operator_deployment():
    dep = one(BASE / "deployment.yaml")
    spec, container = dep["spec"], base_container()
    # two replicas, one leader on a Lease: a rolling update never runs without a standby
    assert spec["replicas"] == 2 and spec["strategy"]["type"] == "RollingUpdate"
    downward = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"] if "valueFrom" in e}
    assert downward == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["image"] == f"ghcr.io/webscale-dev/webscale-operator:{VERSION}"
    assert container["args"] == ["run"]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    probe = container["livenessProbe"]["httpGet"]
    port = next(p for p in container["ports"] if p["name"] == probe["port"])
    assert probe["path"] == "/healthz" and port["containerPort"] == int(env["WEBSCALE_LIVENESS_PORT"]) == 8080
    assert {"requests", "limits"} <= container["resources"].keys()
    pod_sc, sc = spec["template"]["spec"]["securityContext"], container["securityContext"]
    assert pod_sc["runAsNonRoot"] and pod_sc["runAsUser"] == 1000
    assert pod_sc["seccompProfile"] == sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}


def test_operator_env_is_valid_settings(monkeypatch):
    env = {e["name"]: e["value"] for e in base_container()["env"] if "value" in e}
    known = {f"WEBSCALE_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= known, f"not operator settings: {set(env) - known}"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.log_format == "json"
    prometheus = yaml.safe_load((PROM / "prometheus.yml").read_text())
    assert f"{settings.metrics_scrape_interval_seconds:g}s" == prometheus["global"]["scrape_interval"]


# ---- Prometheus for kind ------------------------------------------------------------------------
def test_prometheus_is_where_apps_look_for_it_by_default():
    service = one(PROM / "service.yaml")
    namespace = yaml.safe_load((PROM / "kustomization.yaml").read_text())["namespace"]
    port = service["spec"]["ports"][0]["port"]
    assert f"http://{service['metadata']['name']}.{namespace}:{port}" == models.Prometheus().url


def test_prometheus_image_is_pinned_and_reads_only_pods():
    pod = one(PROM / "deployment.yaml")["spec"]["template"]["spec"]
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", pod["containers"][0]["image"])
    assert pod["serviceAccountName"] == "prometheus"
    role = one(PROM / "rbac.yaml", "ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


# ---- Dockerfile ---------------------------------------------------------------------------------
def dockerfile(path: Path = ROOT / "Dockerfile") -> list[str]:
    text = path.read_text().replace("\\\n", " ")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def base_images(lines: list[str]) -> list[str]:
    """The image of every FROM, with ARG defaults substituted."""
    args = dict(ln.split(None, 1)[1].split("=", 1) for ln in lines if ln.startswith("ARG ") and "=" in ln)
    return [re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], ln.split()[1]) for ln in lines if ln.startswith("FROM ")]


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        (ROOT / "Dockerfile", r"python:3\.11\.\d+-slim-bookworm"),
        (ROOT / "sample-app" / "Dockerfile", r"node:20\.\d+\.\d+-bookworm-slim"),
    ],
)
def test_images_are_multi_stage_non_root_on_pinned_bases(path, pattern):
    lines = dockerfile(path)
    images = base_images(lines)
    assert len(images) >= 2, "multi-stage: build and runtime"
    assert all(re.fullmatch(pattern, image) for image in images), images  # patch release and Debian release
    users = [ln for ln in lines if ln.startswith("USER ")]
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1].split()[1])  # numeric: runAsNonRoot can check
    assert lines.index(users[-1]) > max(i for i, ln in enumerate(lines) if ln.startswith("FROM "))


def test_dockerfile_builds_a_non_root_image_from_pyproject():
    lines = dockerfile()
    assert any(re.search(r"pip install --no-cache-dir \.$", ln) for ln in lines)
    users = [ln for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] == "USER 1000:1000"  # numeric: runAsNonRoot can check it
    assert 'ENTRYPOINT ["webscale"]' in lines and 'CMD ["run"]' in lines
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["webscale"] == "webscale.cli:main"


def test_dockerignore_keeps_what_the_dockerfile_copies_and_little_else():
    rules = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [r for r in rules if r and not r.startswith("#")]
    assert rules[0] == "*", "allow-list: ignore everything, then re-include"
    included = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    copied = [ln.split()[1:-1] for ln in dockerfile() if ln.startswith("COPY ") and "--from" not in ln]
    sources = {src.rstrip("/") for srcs in copied for src in srcs}
    assert sources == included == {"pyproject.toml", "operator"}


# ---- scripts/kind_deploy.sh ---------------------------------------------------------------------
def test_kind_deploy_is_valid_bash_and_shellcheck_clean():
    subprocess.run(["bash", "-n", str(KIND_DEPLOY)], check=True)
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (apt-get install -y shellcheck)")
    proc = subprocess.run(["shellcheck", str(KIND_DEPLOY)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_kind_deploy_builds_the_image_the_base_runs():
    match = re.search(r"^OPERATOR_IMAGE=(\S+)$", KIND_DEPLOY.read_text(), re.M)
    assert match and match.group(1) == base_container()["image"]


STUB = """#!/bin/bash
echo "$(basename "$0") $*" >> "$STUB_LOG"
case "$(basename "$0") $*" in
  "docker info"*) exit "${DOCKER_INFO_RC:-0}" ;;
  "kind get clusters"*) echo "${KIND_CLUSTERS:-kind}" ;;
  "minikube status"*) exit "${MINIKUBE_STATUS_RC:-0}" ;;
  *" apply -f -") cat > "$STUB_STDIN" ;;
esac
exit 0
"""


def run_kind_deploy(tmp_path: Path, tools: list[str], *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the script with only `tools` (recording stubs) and the shell utilities it needs on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for util in ("dirname", "sed", "grep", "cat", "basename"):
        (bin_dir / util).symlink_to(shutil.which(util))
    for tool in tools:
        (bin_dir / tool).write_text(STUB)
        (bin_dir / tool).chmod(0o755)
    full_env = {"PATH": str(bin_dir), "STUB_LOG": str(tmp_path / "log"), "STUB_STDIN": str(tmp_path / "stdin"), **env}
    return subprocess.run(
        [shutil.which("bash"), str(KIND_DEPLOY), *args], env=full_env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("tools", "env", "message"),
    [
        (["docker", "kubectl"], {}, "neither kind nor minikube is installed"),
        (["kind", "kubectl"], {}, "docker is not installed"),
        (["kind", "docker", "kubectl"], {"DOCKER_INFO_RC": "1"}, "daemon is not reachable"),
        (["kind", "docker"], {}, "kubectl is not installed"),
        (["kind", "docker", "kubectl"], {"KIND_CLUSTERS": "other"}, "no kind cluster named 'kind'"),
        (["minikube", "docker", "kubectl"], {"MINIKUBE_STATUS_RC": "7"}, "minikube profile 'minikube' is not running"),
    ],
)
def test_kind_deploy_says_what_is_missing(tmp_path, tools, env, message):
    proc = run_kind_deploy(tmp_path, tools, **env)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    log = (tmp_path / "log").read_text() if (tmp_path / "log").exists() else ""
    assert "docker build" not in log and "apply" not in log


def test_kind_deploy_on_kind(tmp_path):
    sample = "registry.local/sample:test"
    proc = run_kind_deploy(tmp_path, ["kind", "docker", "kubectl"], SAMPLE_APP_IMAGE=sample)
    assert proc.returncode == 0, proc.stderr
    operator = base_container()["image"]
    log = (tmp_path / "log").read_text().splitlines()
    k = "kubectl --context kind-kind"
    expected = [
        f"docker build -t {operator} {ROOT}",
        f"docker build -t {sample} {ROOT}/sample-app",
        f"kind load docker-image --name kind {operator} {sample}",
        f"{k} apply -k {ROOT}/manifests/base",
        f"{k} wait --for=condition=Established crd/scaledwebapps.webscale.dev --timeout=60s",
        f"{k} apply -k {ROOT}/manifests/prometheus-kind",
        f"{k} apply -f -",
        f"{k} -n webscale-system rollout status deployment/webscale-operator --timeout=180s",
    ]
    assert [line for line in log if line in expected] == expected
    example = yaml.safe_load((ROOT / "examples" / "shop.yaml").read_text())
    applied = yaml.safe_load((tmp_path / "stdin").read_text())
    assert applied["spec"]["image"] == sample
    assert {**applied, "spec": {**applied["spec"], "image": example["spec"]["image"]}} == example


def test_kind_deploy_on_minikube(tmp_path):
    proc = run_kind_deploy(tmp_path, ["minikube", "docker", "kubectl"], "minikube", MINIKUBE_PROFILE="dev")
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "log").read_text().splitlines()
    assert f"minikube -p dev image load {base_container()['image']}" in log
    assert f"kubectl --context dev apply -k {ROOT}/manifests/base" in log
