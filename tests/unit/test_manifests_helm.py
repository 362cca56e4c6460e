"""manifests/helm/webscale-operator: the chart's layout, values and schema agree with the operator and
with the kustomize base.

No server needed. Where a helm binary is available (WEBSCALE_HELM or on PATH) the chart is also linted
and rendered.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from manifest_helpers import BASE, CHART, CRD_NAME, MANIFESTS, NAMESPACED, VERSION, base_container, helm_binary, one

from webscale.settings import Settings


def helm_template_yaml(path: Path) -> dict:
    """A chart template as YAML: control lines dropped, every other action replaced by a placeholder."""
    lines = [ln for ln in path.read_text().splitlines() if not re.fullmatch(r"\s*\{\{-?.*?-?\}\}\s*", ln)]
    return yaml.safe_load(re.sub(r"\{\{.*?\}\}", "TEMPLATED", "\n".join(lines)))


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w.capitalize() for w in rest)


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
    "templates/namespaced-rbac.yaml",
    "templates/poddisruptionbudget.yaml",
    "templates/networkpolicy.yaml",
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
        if isinstance(default, tuple):  # a list setting: comma-separated in one environment variable
            default = ",".join(default)
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
SUPPORTED |= {"enum", "minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength", "pattern", "minItems"}
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
    if isinstance(value, list) and len(value) < node.get("minItems", 0):
        errors.append(f"{path}: fewer than {node['minItems']} items")
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
        ({"networkPolicy": {"apiServerPorts": []}}, "fewer than 1 items"),
        ({"networkPolicy": {"apiServerCidrs": ["api.example"]}}, "does not match"),
        ({"podDisruptionBudget": {"minAvailable": 0}}, "< 1"),
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
def helm_or_skip() -> str:
    helm = helm_binary()
    if not helm:
        pytest.skip("no helm binary (set WEBSCALE_HELM or put helm on PATH)")
    return helm


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([helm_or_skip(), *args], capture_output=True, text=True, timeout=60)
    assert not check or proc.returncode == 0, proc.stderr
    return proc


def render_chart(*sets: str) -> list[dict]:
    out = helm("template", "rel", str(CHART), "-n", "webscale-system", "--kube-version", "1.34.0", *sets).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_helm_lint_strict():
    helm("lint", "--strict", str(CHART), "--kube-version", "1.34.0")


def test_helm_renders_what_the_base_has():
    rendered = {d["kind"]: d for d in render_chart()}
    # Role and RoleBinding: leader election on a Lease in the release namespace (leader-election-rbac.yaml)
    kinds = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Role", "RoleBinding"}
    # Service: the wake Service (settings.wakePort), as the base's wake-service.yaml
    assert set(rendered) == kinds | {"PodDisruptionBudget", "Service"}  # no NetworkPolicy unless asked for
    assert rendered["Service"]["metadata"]["name"] == "rel-webscale-operator-wake"
    assert rendered["Service"]["spec"]["ports"] == one(BASE / "wake-service.yaml")["spec"]["ports"]
    assert rendered["Service"]["spec"]["selector"] == rendered["Deployment"]["spec"]["selector"]["matchLabels"]
    assert rendered["PodDisruptionBudget"]["spec"] == one(BASE / "poddisruptionbudget.yaml")["spec"] | {
        "selector": rendered["Deployment"]["spec"]["selector"]
    }
    assert rendered["Role"]["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
    ]
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
    env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
    # every setting with a value (an empty one leaves the operator's default: namespace, identity, ...)
    valued = {name for name in Settings.model_fields if values()["settings"][camel(name)] not in ("", None)}
    # and the wake URL: empty in values means the chart's wake Service
    assert set(env) == {f"WEBSCALE_{name.upper()}" for name in valued} | {"WEBSCALE_WAKE_URL"}
    assert env["WEBSCALE_WAKE_URL"] == "http://rel-webscale-operator-wake.webscale-system.svc.cluster.local:8081"
    base_env = {e["name"]: e["value"] for e in base_c["env"] if "value" in e}
    assert {k: v for k, v in base_env.items() if k != "WEBSCALE_WAKE_URL"}.items() <= env.items()


def test_helm_switches():
    rendered = render_chart(
        "--set",
        "rbac.create=false",
        "--set",
        "serviceAccount.create=false",
        "--set",
        "podDisruptionBudget.enabled=false",
    )
    assert [d["kind"] for d in rendered] == ["Service", "Deployment"]  # the wake Service stays
    assert rendered[1]["spec"]["template"]["spec"]["serviceAccountName"] == "default"
    (dep,) = [
        d
        for d in render_chart(
            "--set", "settings.livenessPort=0", "--set", "settings.wakePort=0", "--set", "settings.namespace=shop"
        )
        if d["kind"] == "Deployment"
    ]
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert "livenessProbe" not in container and "ports" not in container
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert (env["WEBSCALE_NAMESPACE"], env["WEBSCALE_LIVENESS_PORT"], env["WEBSCALE_WAKE_PORT"]) == ("shop", "0", "0")
    assert "WEBSCALE_WAKE_URL" not in env  # no wake port: held requests wait for DNS
    # a wake URL of one's own replaces the chart's Service name
    (dep,) = [d for d in render_chart("--set", "settings.wakeUrl=http://10.0.0.9:8081") if d["kind"] == "Deployment"]
    env = {e["name"]: e["value"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"] if "value" in e}
    assert env["WEBSCALE_WAKE_URL"] == "http://10.0.0.9:8081"
    refused = helm("template", "rel", str(CHART), "--set", "settings.wakeUrl=https://x/y", check=False)
    assert refused.returncode != 0 and "wakeUrl" in refused.stderr
    # another cluster domain: the operator is told, and the chart's wake Service is named in it
    (dep,) = [d for d in render_chart("--set", "settings.clusterDomain=corp.internal") if d["kind"] == "Deployment"]
    env = {e["name"]: e["value"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"] if "value" in e}
    assert env["WEBSCALE_CLUSTER_DOMAIN"] == "corp.internal"
    assert env["WEBSCALE_WAKE_URL"] == "http://rel-webscale-operator-wake.webscale-system.svc.corp.internal:8081"
    refused = helm("template", "rel", str(CHART), "--set", "settings.clusterDomain=a..b", check=False)
    assert refused.returncode != 0 and "clusterDomain" in refused.stderr
    refused = helm("template", "rel", str(CHART), "--kube-version", "1.34.0", "--set", "imageTag=x", check=False)
    assert refused.returncode != 0 and "imageTag" in refused.stderr


def test_namespaced_mode_is_the_kustomize_overlay():
    """settings.namespace renders what manifests/overlays/namespaced has: the operator's ClusterRole bound
    in the watched namespace, cluster-wide reads only."""
    rendered = render_chart("--set", "settings.namespace=apps")
    kinds = sorted(d["kind"] for d in rendered if not d["metadata"]["name"].endswith("-leader-election"))
    assert kinds == [
        "ClusterRole",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "PodDisruptionBudget",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    ]
    binding = next(d for d in rendered if d["kind"] == "RoleBinding" and d["metadata"]["namespace"] == "apps")
    assert (binding["metadata"]["namespace"], binding["roleRef"]["name"]) == ("apps", "rel-webscale-operator")
    reads = next(d for d in rendered if d["kind"] == "ClusterRole" and d["metadata"]["name"].endswith("-cluster-reads"))
    overlay = one(NAMESPACED / "cluster-reads.yaml", "ClusterRole")
    assert reads["rules"] == overlay["rules"]
    (cluster_binding,) = [d for d in rendered if d["kind"] == "ClusterRoleBinding"]
    assert cluster_binding["roleRef"]["name"] == "rel-webscale-operator-cluster-reads"


def kinds_of(*sets: str) -> dict[str, dict]:
    return {d["kind"]: d for d in render_chart(*[a for s in sets for a in ("--set", s)])}


@pytest.mark.parametrize(
    ("sets", "rendered"),
    [
        ([], True),
        (["replicaCount=1"], False),  # a budget of 1 of 1 would block every drain
        (["podDisruptionBudget.enabled=false"], False),
        (["replicaCount=3", "podDisruptionBudget.minAvailable=2"], True),
    ],
)
def test_pdb_only_with_more_than_one_replica(sets, rendered):
    objects = kinds_of(*sets)
    assert ("PodDisruptionBudget" in objects) is rendered
    if rendered:
        pdb, dep = objects["PodDisruptionBudget"], objects["Deployment"]
        assert pdb["spec"]["minAvailable"] == (2 if "replicaCount=3" in sets else 1) < dep["spec"]["replicas"]
        assert pdb["spec"]["selector"] == dep["spec"]["selector"]
        assert pdb["metadata"]["namespace"] == "webscale-system"


def test_the_schema_refuses_what_the_operator_settings_refuse():
    """Every numeric bound of a setting is the schema's, and the Prometheus URLs follow the operator's
    pattern: a value the operator would refuse to start on fails `helm install`, not as a crash loop."""
    props = schema()["properties"]["settings"]["properties"]
    keywords = {"ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum"}
    for name, field in Settings.model_fields.items():
        node = props[camel(name)]
        for bound in field.metadata:  # pydantic's Ge, Gt, Le: one attribute each
            for attribute, keyword in keywords.items():
                if hasattr(bound, attribute):
                    assert node.get(keyword) == getattr(bound, attribute), (name, keyword)
    urls = re.compile(props["prometheusUrls"]["pattern"])
    assert urls.match("http://a:9090, https://b.example/prom/") and urls.match(values()["settings"]["prometheusUrls"])
    assert not any(urls.match(u) for u in ("prometheus:9090", "http://a;http://b", "http://u@a", "http://a/?q=1"))


@pytest.mark.parametrize(
    ("sets", "words"),
    [
        (("settings.wakePort=8080",), "settings.livenessPort and settings.wakePort are both 8080: they need two ports"),
        (
            ("settings.leaseRenewDeadlineSeconds=20",),
            "settings.leaseDurationSeconds > settings.leaseRenewDeadlineSeconds > settings.leaseRetrySeconds is "
            "needed, got 8, 20, 1",
        ),
    ],
)
def test_settings_the_operator_would_refuse_together_fail_the_install(sets, words):
    args = [arg for value in sets for arg in ("--set", value)]
    refused = helm("template", "rel", str(CHART), "--kube-version", "1.34.0", *args, check=False)
    assert refused.returncode != 0 and words in refused.stderr, refused.stderr
    both_off = ("--set", "settings.livenessPort=0", "--set", "settings.wakePort=0")
    assert helm("template", "rel", str(CHART), "--kube-version", "1.34.0", *both_off, check=False).returncode == 0


def test_pdb_that_would_block_every_drain_is_refused():
    sets = ("--set", "replicaCount=2", "--set", "podDisruptionBudget.minAvailable=2")
    refused = helm("template", "rel", str(CHART), "--kube-version", "1.34.0", *sets, check=False)
    assert (
        refused.returncode != 0
        and "podDisruptionBudget.minAvailable (2) must be below replicaCount (2)" in refused.stderr
    )


def ports(rule: dict) -> set[tuple[int, str]]:
    return {(p["port"], p["protocol"]) for p in rule["ports"]}


def test_network_policy_is_off_by_default_and_is_the_kustomize_component_when_on():
    assert "NetworkPolicy" not in kinds_of()
    objects = kinds_of("networkPolicy.enabled=true")
    policy, dep = objects["NetworkPolicy"]["spec"], objects["Deployment"]["spec"]
    assert policy["podSelector"] == dep["selector"]
    component = one(MANIFESTS / "components" / "networkpolicy" / "networkpolicy.yaml")["spec"]
    assert {k: v for k, v in policy.items() if k != "podSelector"} == {
        k: v for k, v in component.items() if k != "podSelector"
    }


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        ("http://prometheus.monitoring:9090", {9090}),
        ("https://prom.example, http://a:9091,http://b:9091/prefix,http://c", {443, 9091, 80}),
        ("http://[::1]:9092,https://[fd00::1]", {9092, 443}),
    ],
)
def test_network_policy_egress_is_dns_the_api_server_and_the_allowed_prometheus_ports(urls, expected):
    policy = kinds_of("networkPolicy.enabled=true", f"settings.prometheusUrls={urls.replace(',', chr(92) + ',')}")[
        "NetworkPolicy"
    ]["spec"]
    assert all(rule.get("ports") for rule in policy["egress"]), "an egress rule without ports allows every port"
    dns, api, haproxy, prometheus = policy["egress"]
    assert ports(dns) == {(53, "UDP"), (53, "TCP")}
    assert ports(api) == {(443, "TCP"), (6443, "TCP")} and "to" not in api
    assert ports(haproxy) == {(8404, "TCP")} and haproxy["to"][0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/component": "loadbalancer",
        "app.kubernetes.io/managed-by": "webscale",
    }
    assert ports(prometheus) == {(p, "TCP") for p in expected} and "to" not in prometheus
    assert [ports(r) for r in policy["ingress"]] == [{(8080, "TCP")}, {(8081, "TCP")}]
    assert "from" not in policy["ingress"][0] and policy["ingress"][1]["from"] == [{"namespaceSelector": {}}]


def test_network_policy_peers_and_no_probe_port():
    monitoring = "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}"
    policy = render_chart(
        "--set",
        "networkPolicy.enabled=true",
        "--set",
        "settings.livenessPort=0",
        "--set",
        "settings.wakePort=0",
        "--set",
        "networkPolicy.apiServerCidrs={172.18.0.2/32}",
        "--set-json",
        f"networkPolicy.prometheusTo=[{json.dumps(yaml.safe_load(monitoring))}]",
    )
    spec = next(d for d in policy if d["kind"] == "NetworkPolicy")["spec"]
    assert spec["ingress"] == []  # no port to open: nothing may connect
    _, api, _, prometheus = spec["egress"]
    assert api["to"] == [{"ipBlock": {"cidr": "172.18.0.2/32"}}]
    assert prometheus["to"] == [yaml.safe_load(monitoring)]
