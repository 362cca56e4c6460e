"""Operator settings: a value the operator cannot run with is refused before anything starts, in words
that name the environment variable the installer set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from webscale.settings import DEFAULT_PROMETHEUS_URL, Settings, settings_problem, unknown_variables

OPERATOR = Path(__file__).resolve().parents[2] / "operator"


def problem(monkeypatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    return settings_problem(refused.value)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"WEBSCALE_PROMETHEUS_URLS": ""}, "WEBSCALE_PROMETHEUS_URLS: at least one Prometheus URL is needed"),
        ({"WEBSCALE_PROMETHEUS_URLS": " , "}, "WEBSCALE_PROMETHEUS_URLS: at least one Prometheus URL is needed"),
        (
            {"WEBSCALE_PROMETHEUS_URLS": "prometheus.monitoring:9090"},
            "WEBSCALE_PROMETHEUS_URLS: 'prometheus.monitoring:9090' is not an http:// or https:// base URL",
        ),
        ({"WEBSCALE_PROMETHEUS_URLS": "http://a:9090;http://b:9090"}, "'http://a:9090;http://b:9090' is not"),
        ({"WEBSCALE_PROMETHEUS_URLS": '["http://a:9090"]'}, """'["http://a:9090"]' is not"""),
        ({"WEBSCALE_PROMETHEUS_URLS": "http://user@a:9090"}, "'http://user@a:9090' is not"),
        ({"WEBSCALE_SCALING_TICK_SECONDS": "inf"}, "WEBSCALE_SCALING_TICK_SECONDS: Input should be a finite number"),
        ({"WEBSCALE_METRICS_TIMEOUT_SECONDS": "nan"}, "WEBSCALE_METRICS_TIMEOUT_SECONDS: Input should be a finite"),
        ({"WEBSCALE_METRICS_TIMEOUT_SECONDS": "1e10"}, "WEBSCALE_METRICS_TIMEOUT_SECONDS: Input should be less than"),
        ({"WEBSCALE_REQUEST_TIMEOUT_SECONDS": "1e10"}, "WEBSCALE_REQUEST_TIMEOUT_SECONDS: Input should be less than"),
        ({"WEBSCALE_NAMESPACE": ""}, "WEBSCALE_NAMESPACE: String should have at least 1 character"),
        (
            {"WEBSCALE_LEASE_RENEW_DEADLINE_SECONDS": "20"},
            "WEBSCALE_LEASE_DURATION_SECONDS > WEBSCALE_LEASE_RENEW_DEADLINE_SECONDS > WEBSCALE_LEASE_RETRY_SECONDS "
            "is needed, got 8, 20, 1",
        ),
        ({"WEBSCALE_WAKE_PORT": "8080"}, "WEBSCALE_LIVENESS_PORT and WEBSCALE_WAKE_PORT are both 8080"),
    ],
)
def test_a_setting_the_operator_cannot_run_with_is_refused_by_its_name(monkeypatch, env, words):
    assert words in problem(monkeypatch, **env)


def test_good_settings_are_taken_as_written(monkeypatch):
    monkeypatch.setenv("WEBSCALE_PROMETHEUS_URLS", "http://a:9090, https://b.example/prom/, http://[fd00::1]:9090")
    monkeypatch.setenv("WEBSCALE_LIVENESS_PORT", "0")
    monkeypatch.setenv("WEBSCALE_WAKE_PORT", "0")  # both off: no clash
    settings = Settings()
    assert settings.prometheus_urls == ("http://a:9090", "https://b.example/prom/", "http://[fd00::1]:9090")
    assert Settings.model_fields["prometheus_urls"].default == (DEFAULT_PROMETHEUS_URL,)


def test_the_operator_refuses_to_start_before_anything_runs(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "webscale.cli", "run"],
        env={"PYTHONPATH": str(OPERATOR), "WEBSCALE_PROMETHEUS_URLS": "prometheus:9090", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("webscale: refusing to start: WEBSCALE_PROMETHEUS_URLS: 'prometheus:9090' is not")


def test_a_variable_that_is_no_setting_is_named_with_the_setting_it_may_mean():
    environ = {"WEBSCALE_PROMETHEUS_URL": "http://a:9090", "WEBSCALE_RESYNC_SECONDS": "5", "WEBSCALE_CACHE": "/x"}
    assert unknown_variables({**environ, "HOME": "/root"}) == [
        "WEBSCALE_CACHE",
        "WEBSCALE_PROMETHEUS_URL (WEBSCALE_PROMETHEUS_URLS?)",
    ]
