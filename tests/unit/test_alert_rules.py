"""The operator's alerts (manifests/helm/webscale-operator/files/prometheus-rules.yaml) under
`promtool test rules` (Debian's prometheus package): tests/data/prometheus-rules-test.yaml has, for every
alert, a case that fires and one that stays silent. promtool is a local binary: no server.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from manifest_helpers import CHART, ROOT

RULES = CHART / "files" / "prometheus-rules.yaml"
CASES = ROOT / "tests" / "data" / "prometheus-rules-test.yaml"


def promtool() -> str:
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool not found: run `make deps` (Debian package `prometheus` ships /usr/bin/promtool)")
    return path


def run_promtool(tmp_path: Path, rules: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "prometheus-rules.yaml").write_text(rules)
    shutil.copy(CASES, tmp_path / "cases.yaml")
    return subprocess.run(
        [promtool(), "test", "rules", "cases.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def alerts() -> list[str]:
    return [r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]


def test_rules_pass_promtool_check():
    proc = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in proc.stdout


def test_every_alert_has_a_firing_and_a_silent_case():
    fires: set[str] = set()
    silent: set[str] = set()
    for case in yaml.safe_load(CASES.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            expected = check.get("exp_alerts") or []
            (fires if expected else silent).add(check["alertname"])
            # a firing check whose case also feeds series of a subject that must not alert is silent too
            labelled = [a["exp_labels"] for a in expected]
            if expected and any(not any(_carries(s["series"], lab) for lab in labelled) for s in case["input_series"]):
                silent.add(check["alertname"])
    assert fires == set(alerts()), set(alerts()) - fires
    assert silent == set(alerts()), set(alerts()) - silent


def _carries(series: str, labels: dict[str, str]) -> bool:
    """Whether a promtool series selector carries every (non-severity) label of an expected alert."""
    wanted = {k: v for k, v in labels.items() if k != "severity"}
    return all(f'{k}="{v}"' in series for k, v in wanted.items())


def test_promtool_passes_every_case(tmp_path: Path):
    proc = run_promtool(tmp_path, RULES.read_text())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@pytest.mark.parametrize(
    ("original", "broken"),
    [
        ('max by (namespace, app) (up{managed_by="webscale"}) == 0', "max by (namespace, app) (up) >= 0"),
        ("sum(webscale_leader) < 1", "sum(webscale_leader) < 2"),
        (") > 5\n", ") > 50\n"),
        ("seconds_total[15m])) > 0.5", "seconds_total[15m])) > 0.9"),  # WebscaleAppUnderCapacity misses web
        ("seconds_total[15m])) > 0.5", "seconds_total[15m])) > 0.2"),  # and fires for catching-up
    ],
)
def test_the_cases_catch_a_wrong_threshold(tmp_path: Path, original: str, broken: str):
    """The cases are not vacuous: loosening or tightening an expression makes promtool fail."""
    text = RULES.read_text()
    assert original in text
    proc = run_promtool(tmp_path, text.replace(original, broken, 1))
    assert proc.returncode != 0 and "FAILED" in proc.stdout + proc.stderr
