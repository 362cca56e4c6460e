"""The Grafana dashboard (manifests/grafana/webscale-dashboard.json, written by build_dashboard.py):
the committed files are what the builder writes, the layout is sound, every query (panels, variables,
annotations) parses as PromQL with the real parser (`promtool check rules`), and every operator metric the
dashboard and the alerts name is one the operator exports (operator/webscale/telemetry.py).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from manifest_helpers import CHART, MANIFESTS

from webscale import telemetry

GRAFANA = MANIFESTS / "grafana"
# Grafana's variables, as the e2e test and a dashboard with "All" selected substitute them
GRAFANA_VARS = {"$__rate_interval": "1m", "$namespace": ".*", "$app": ".*"}
# webscale_* series the sample app exports (sample-app/README.md "Metrics"), not the operator
APP_METRICS = {"webscale_workers", "webscale_workers_desired", "webscale_worker_crashes_total"}


def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_dashboard", GRAFANA / "build_dashboard.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dashboard() -> dict[str, Any]:
    return json.loads((GRAFANA / "webscale-dashboard.json").read_text())


def substitute(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, f"an unknown Grafana variable in {expr}"
    return expr


def queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every query of the dashboard, Grafana variables substituted."""
    out = []
    for p in board["panels"]:
        for t in p.get("targets", []):
            out.append((f"panel {p['title']!r} {t['refId']}", substitute(t["expr"])))
    for a in board["annotations"]["list"]:
        out.append((f"annotation {a['name']!r}", substitute(a["expr"])))
    for v in board["templating"]["list"]:
        if v["type"] == "query":
            inner = re.fullmatch(r"label_values\((.*), \w+\)", v["query"]["query"])
            assert inner, v["query"]
            out.append((f"variable {v['name']}", substitute(inner.group(1))))
    return out


def test_committed_files_are_what_the_builder_writes():
    text = builder().render()
    for path in (GRAFANA / "webscale-dashboard.json", CHART / "files" / "webscale-dashboard.json"):
        assert path.read_text() == text, f"{path} is stale: run .venv/bin/python manifests/grafana/build_dashboard.py"


def test_layout():
    board = dashboard()
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert [p["title"] for p in panels if p["type"] == "row"] == ["Apps", "Operator"]
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not area & cells, f"{p['title']} overlaps another panel"
        cells |= area
        if p["type"] != "row":
            assert p["targets"] and p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert all(t["datasource"] == p["datasource"] for t in p["targets"])
            assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])
    names = [v["name"] for v in board["templating"]["list"]]
    assert names == ["datasource", "namespace", "app"]


def test_the_issue_panels_are_there():
    titles = " | ".join(p["title"].lower() for p in dashboard()["panels"])
    for word in ("offered load", "replicas", "workers per pod", "decision", "under capacity"):
        assert word in titles, word
    for word in ("decision lag", "poll duration", "api requests by verb and code", "queue depth", "leadership"):
        assert word in titles, word


def test_every_query_parses_as_promql(tmp_path: Path):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool not found: run `make deps` (Debian package `prometheus`)")
    found = queries(dashboard())
    rules = {
        "groups": [{"name": "dashboard", "rules": [{"record": f"q:{i}", "expr": q} for i, (_, q) in enumerate(found)]}]
    }
    (tmp_path / "queries.yaml").write_text(yaml.safe_dump(rules))
    proc = subprocess.run([promtool, "check", "rules", "queries.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(found)} rules found" in proc.stdout


def test_a_broken_query_is_caught(tmp_path: Path):
    """The PromQL check is not vacuous: a query with a syntax error fails it."""
    promtool = shutil.which("promtool") or pytest.fail("promtool not found")
    rules = {"groups": [{"name": "d", "rules": [{"record": "q:0", "expr": "sum by (app (rate(x[1m]))"}]}]}
    (tmp_path / "queries.yaml").write_text(yaml.safe_dump(rules))
    proc = subprocess.run([promtool, "check", "rules", "queries.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0


def exported() -> set[str]:
    """Every series name the operator's registry exports (histograms: _bucket, _count, _sum)."""
    names = set()
    for family in telemetry.REGISTRY.collect():
        suffixes = {"histogram": ("_bucket", "_count", "_sum"), "counter": ("_total",)}.get(family.type, ("",))
        names |= {family.name + s for s in suffixes}
    return names


def test_operator_metrics_named_by_the_dashboard_and_the_alerts_exist():
    text = json.dumps([q for _, q in queries(dashboard())]) + (CHART / "files" / "prometheus-rules.yaml").read_text()
    used = set(re.findall(r"\b(webscale_[a-z_]+)", text)) - APP_METRICS
    assert used, "no operator metric found: the pattern is wrong"
    assert used <= exported(), used - exported()
