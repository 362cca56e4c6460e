"""manifests/, Dockerfile and scripts/kind_deploy.sh: consistent with the code and with each other.

No server and no helm needed (tests/integration/test_rbac_manifests.py runs them
against a real API server). Where a helm binary is available (WEBSCALE_HELM or
on PATH) the chart is also linted and rendered.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from webscale import models
from webscale.promql_relabel import scrape_config
from webscale.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
BASE = MANIFESTS / "base"
PROM = MANIFESTS / "prometheus-kind"
CHART = MANIFESTS / "helm" / "webscale-operator"
KIND_DEPLOY = ROOT / "scripts" / "kind_deploy.sh"
CRD_NAME = "scaledwebapps.webscale.dev.yaml"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("manifests_generate", MANIFESTS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def one(path: Path, kind: str | None = None) -> dict:
    found = [d for d in docs(path) if kind is None or d["kind"] == kind]
    assert len(found) == 1, f"{path}: expected one {kind or 'document'}"
    return found[0]


def helm_template_yaml(path: Path) -> dict:
    """A chart template as YAML: control lines dropped, every other action replaced by a placeholder."""
    lines = [ln for ln in path.read_text().splitlines() if not re.fullmatch(r"\s*\{\{-?.*?-?\}\}\s*", ln)]
    return yaml.safe_load(re.sub(r"\{\{.*?\}\}", "TEMPLATED", "\n".join(lines)))


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w.capitalize() for w in rest)


def base_container() -> dict:
    return one(BASE / "deployment.yaml")["spec"]["template"]["spec"]["containers"][0]


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
    for directory in (BASE, PROM):
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        listed = set(kustomization["resources"])
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


def test_base_rbac_grants_no_wildcards_and_no_secrets():
    for rule in one(BASE / "clusterrole.yaml")["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule
        assert not {"secrets", "configmaps"} & set(rule["resources"]), rule
        assert not {"delete", "deletecollection", "update", "escalate", "bind", "impersonate"} & set(rule["verbs"])


def test_operator_deployment():
    dep = one(BASE / "deployment.yaml")
    spec, container = dep["spec"], base_container()
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}  # kopf standalone: one at a time
    assert container["image"] == f"ghcr.io/webscale-dev/webscale-operator:{VERSION}"
    assert container["args"] == ["run"]
    env = {e["name"]: e["value"] for e in container["env"]}
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
    env = {e["name"]: e["value"] for e in base_container()["env"]}
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


# ---- Helm chart: layout, values, schema ---------------------------------------------------------
CHART_FILES = [
    "Chart.yaml",
    "values.yaml",
    "values.schema.json",
    ".helmignore",
    "templates/_helpers.tpl",
    "templates/NOTES.txt",
    "templates/deployment.yaml",
    "templates/serviceaccount.yaml",
    "templates/clusterrole.yaml",
    "templates/clusterrolebinding.yaml",
    f"crds/{CRD_NAME}",
]


def values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def schema() -> dict:
    return json.loads((CHART / "values.schema.json").read_text())


def test_chart_layout_and_metadata():
    assert [f for f in CHART_FILES if not (CHART / f).is_file()] == []
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == CHART.name and chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    assert chart["appVersion"] == VERSION
    assert values()["image"]["repository"] == base_container()["image"].rsplit(":", 1)[0]
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    for name in ("name", "fullname", "chart", "labels", "selectorLabels", "serviceAccountName"):
        assert f'define "webscale-operator.{name}"' in helpers, name


def test_chart_rbac_rules_equal_the_base():
    rendered = helm_template_yaml(CHART / "templates" / "clusterrole.yaml")
    assert rendered["rules"] == one(BASE / "clusterrole.yaml")["rules"]


def test_chart_crd_is_not_templated():
    assert "{{" not in (CHART / "crds" / CRD_NAME).read_text()


def test_chart_settings_are_the_operator_settings_with_the_same_defaults():
    settings = values()["settings"]
    fields = Settings.model_fields
    assert set(settings) == {camel(name) for name in fields}
    assert set(schema()["properties"]["settings"]["properties"]) == set(settings)
    for name, field in fields.items():
        default = "" if field.default is None else field.default
        assert settings[camel(name)] == default, name


def schema_paths(node: dict, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], dict]:
    """Every key the schema defines (not the contents of free-form maps), with its schema."""
    out = {}
    for key, sub in node.get("properties", {}).items():
        out[(*prefix, key)] = sub
        out.update(schema_paths(sub, (*prefix, key)))
    return out


def test_values_keys_are_lower_camel_case_and_each_is_commented():
    paths = schema_paths(schema())
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9]*", p[-1]) for p in paths), sorted(paths)
    stack: list[tuple[int, str]] = []
    previous = ""
    uncommented = []
    for line in (CHART / "values.yaml").read_text().splitlines():
        match = re.match(r"^(\s*)([A-Za-z][\w./-]*):", line)
        if match:
            indent = len(match.group(1))
            stack = [(i, k) for i, k in stack if i < indent] + [(indent, match.group(2))]
            path = tuple(k for _, k in stack)
            if path in paths and not previous.lstrip().startswith("#"):
                uncommented.append(".".join(path))
        previous = line
    assert uncommented == []


def test_every_value_has_a_described_schema():
    values_paths = set()

    def walk(node: Any, prefix: tuple[str, ...], defined: dict) -> None:
        if isinstance(node, dict):
            for key, sub in node.items():
                path = (*prefix, key)
                if path in defined:
                    values_paths.add(path)
                    walk(sub, path, defined)

    defined = schema_paths(schema())
    walk(values(), (), defined)
    assert set(values()) <= {p[0] for p in defined}, "a top-level value the schema does not define"
    assert all("description" in defined[p] and "type" in defined[p] for p in defined)
    assert values_paths == {p for p in defined if p != ("global",)}


# A small JSON Schema (draft-07) validator for the keywords values.schema.json uses: jsonschema is not
# a dependency of the project. test_schema_uses_only_supported_keywords keeps the two in step.
SUPPORTED = {"$schema", "title", "description", "type", "properties", "required", "additionalProperties", "items"}
SUPPORTED |= {"enum", "minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength", "pattern"}
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


def validate(value: Any, node: dict, path: str = "$") -> list[str]:
    errors = []
    if "type" in node and not TYPES[node["type"]](value):
        return [f"{path}: {value!r} is not of type {node['type']}"]
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{path}: {value!r} not in {node['enum']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in node and value < node["minimum"]:
            errors.append(f"{path}: {value} < {node['minimum']}")
        if "maximum" in node and value > node["maximum"]:
            errors.append(f"{path}: {value} > {node['maximum']}")
        if "exclusiveMinimum" in node and value <= node["exclusiveMinimum"]:
            errors.append(f"{path}: {value} <= {node['exclusiveMinimum']}")
    if isinstance(value, str):
        if len(value) < node.get("minLength", 0) or len(value) > node.get("maxLength", len(value)):
            errors.append(f"{path}: length {len(value)} out of bounds")
        if "pattern" in node and not re.search(node["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {node['pattern']}")
    if isinstance(value, dict):
        errors += [f"{path}: {key} is required" for key in node.get("required", []) if key not in value]
        for key, sub in value.items():
            if key in node.get("properties", {}):
                errors += validate(sub, node["properties"][key], f"{path}.{key}")
            elif node.get("additionalProperties") is False:
                errors.append(f"{path}: unknown key {key}")
            elif isinstance(node.get("additionalProperties"), dict):
                errors += validate(sub, node["additionalProperties"], f"{path}.{key}")
    if isinstance(value, list) and "items" in node:
        for i, item in enumerate(value):
            errors += validate(item, node["items"], f"{path}[{i}]")
    return errors


def test_schema_uses_only_supported_keywords():
    def keywords(node: Any) -> set[str]:
        if not isinstance(node, dict):
            return set()
        found = set(node)
        for key in ("properties",):
            for sub in node.get(key, {}).values():
                found |= keywords(sub)
        for key in ("items", "additionalProperties"):
            found |= keywords(node.get(key))
        return found

    s = schema()
    assert s["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert keywords(s) <= SUPPORTED, keywords(s) - SUPPORTED


def test_values_validate_against_the_schema():
    assert validate(values(), schema()) == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"imageTag": "x"}, "unknown key imageTag"),
        ({"settings": {"logFormat": "xml"}}, "not in"),
        ({"settings": {"livenessPort": 70000}}, "> 65535"),
        ({"settings": {"resyncSeconds": 0}}, "<= 0"),
        ({"settings": {"namespace": "Not_A_Namespace"}}, "does not match"),
        ({"image": {"pullPolicy": "Sometimes"}}, "not in"),
        ({"rbac": {"create": "yes"}}, "not of type boolean"),
    ],
)
def test_schema_refuses_bad_values(change, error):
    merged = values()
    for key, sub in change.items():
        merged[key] = {**merged[key], **sub} if isinstance(sub, dict) and key in merged else sub
    assert any(error in e for e in validate(merged, schema())), validate(merged, schema())


def leaf_paths(node: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    if isinstance(node, dict) and node:
        return {p for key, sub in node.items() for p in leaf_paths(sub, (*prefix, key))}
    return {prefix}


def test_templates_use_only_values_that_exist_and_every_value_is_used():
    refs = set()
    for template in (CHART / "templates").iterdir():
        refs |= {
            tuple(m.split(".")) for m in re.findall(r"\.Values\.([A-Za-z0-9_.]*[A-Za-z0-9_])", template.read_text())
        }
    v = values()

    def exists(path: tuple[str, ...]) -> bool:
        node: Any = v
        for key in path:
            if not isinstance(node, dict) or key not in node:
                return False
            node = node[key]
        return True

    assert sorted(r for r in refs if not exists(r)) == [], "templates reference values missing from values.yaml"
    unused = [p for p in leaf_paths(v) if not any(p[: len(r)] == r for r in refs)]
    assert unused == [], f"values no template reads: {unused}"


# ---- Helm, when available -----------------------------------------------------------------------
def helm_binary() -> str:
    helm = os.environ.get("WEBSCALE_HELM") or shutil.which("helm")
    if not helm:
        pytest.skip("no helm binary (set WEBSCALE_HELM or put helm on PATH)")
    return helm


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=60)
    assert not check or proc.returncode == 0, proc.stderr
    return proc


def render_chart(*sets: str) -> list[dict]:
    out = helm("template", "rel", str(CHART), "-n", "webscale-system", "--kube-version", "1.34.0", *sets).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_helm_lint_strict():
    helm("lint", "--strict", str(CHART), "--kube-version", "1.34.0")


def test_helm_renders_what_the_base_has():
    rendered = {d["kind"]: d for d in render_chart()}
    assert set(rendered) == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"}
    assert rendered["ClusterRole"]["rules"] == one(BASE / "clusterrole.yaml")["rules"]
    assert rendered["ClusterRoleBinding"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "rel-webscale-operator", "namespace": "webscale-system"}
    ]
    base_dep, dep = one(BASE / "deployment.yaml")["spec"], rendered["Deployment"]["spec"]
    assert (dep["replicas"], dep["strategy"]) == (base_dep["replicas"], base_dep["strategy"])
    base_pod, pod = base_dep["template"]["spec"], dep["template"]["spec"]
    assert pod["securityContext"] == base_pod["securityContext"]
    assert pod["volumes"] == base_pod["volumes"] and pod["nodeSelector"] == base_pod["nodeSelector"]
    c, base_c = pod["containers"][0], base_container()
    for key in ("image", "args", "ports", "livenessProbe", "resources", "securityContext", "volumeMounts"):
        assert c[key] == base_c[key], key
    env = {e["name"]: e["value"] for e in c["env"]}
    assert set(env) == {f"WEBSCALE_{name.upper()}" for name in Settings.model_fields} - {"WEBSCALE_NAMESPACE"}
    assert {e["name"]: e["value"] for e in base_c["env"]}.items() <= env.items()


def test_helm_switches():
    rendered = render_chart("--set", "rbac.create=false", "--set", "serviceAccount.create=false")
    assert [d["kind"] for d in rendered] == ["Deployment"]
    assert rendered[0]["spec"]["template"]["spec"]["serviceAccountName"] == "default"
    (dep,) = [
        d
        for d in render_chart("--set", "settings.livenessPort=0", "--set", "settings.namespace=shop")
        if d["kind"] == "Deployment"
    ]
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert "livenessProbe" not in container and "ports" not in container
    env = {e["name"]: e["value"] for e in container["env"]}
    assert (env["WEBSCALE_NAMESPACE"], env["WEBSCALE_LIVENESS_PORT"]) == ("shop", "0")
    refused = helm("template", "rel", str(CHART), "--kube-version", "1.34.0", "--set", "imageTag=x", check=False)
    assert refused.returncode != 0 and "imageTag" in refused.stderr


# ---- Dockerfile ---------------------------------------------------------------------------------
def dockerfile() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def test_dockerfile_builds_a_non_root_image_from_pyproject():
    lines = dockerfile()
    assert [ln for ln in lines if ln.startswith("FROM ")][-1].startswith("FROM python:3.11-slim")
    assert all(ln.split()[1].startswith("python:3.11-slim") for ln in lines if ln.startswith("FROM "))
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
