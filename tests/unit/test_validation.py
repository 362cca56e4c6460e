"""Semantic checks the schema cannot express: each names the field and the problem."""

from __future__ import annotations

import pytest

from webscale.api.models import parse_spec
from webscale.api.validation import semantic_errors


def test_a_sound_spec_has_no_errors():
    spec = {"image": "a", "resources": {"cpu": "1", "limits": {"cpu": "2"}}, "env": [{"name": "A", "value": "1"}]}
    assert semantic_errors(parse_spec(spec)) == []
    template = 'sum(rate(nginx_requests_total{namespace={namespace}, service={app}, code!~"5.."}[{window}]))'
    assert semantic_errors(parse_spec({"image": "a", "metrics": {"requestRate": template}})) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"resources": {"cpu": "2", "limits": {"cpu": "1"}}},
            "spec.resources.cpu: request 2 is above spec.resources.limits.cpu 1",
        ),
        (
            {"resources": {"memory": "1Gi", "limits": {"memory": "512Mi"}}},
            "spec.resources.memory: request 1Gi is above spec.resources.limits.memory 512Mi",
        ),
        ({"resources": {"cpu": "0"}}, "spec.resources.cpu: must be above zero, got 0"),
        ({"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}, "spec.env[1] (A): duplicate"),
        ({"env": [{"name": "WEB_CONCURRENCY", "value": "9"}]}, "spec.env[0] (WEB_CONCURRENCY): set by the operator"),
        (
            {"env": [{"name": "B", "value": "1", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]},
            "spec.env[0] (B): give value or valueFrom, not both",
        ),
        (
            {"metrics": {"requestRate": "sum(rate(x{app={application}}[{window}]))"}},
            "spec.metrics.requestRate: unknown placeholder {application} (known: {namespace}, {app}, {window})",
        ),
        (
            {"metrics": {"requestRate": 'sum(rate(x{app="{app}"}[{window}]))'}},
            "spec.metrics.requestRate: placeholder {app} is inside quotes",
        ),
        (
            {"metrics": {"requestRate": "sum(rate(x{app={app}}[{window}])"}},
            "spec.metrics.requestRate: unclosed '('",
        ),
        (
            {"metrics": {"requestRate": "sum(x{app={app}}))"}},
            "spec.metrics.requestRate: unbalanced ')'",
        ),
        ({"metrics": {"requestRate": "  "}}, "spec.metrics.requestRate is empty"),
    ],
)
def test_semantic_errors(spec, expected):
    errors = semantic_errors(parse_spec({"image": "a", **spec}))
    assert any(e.startswith(expected) for e in errors), errors


# ---- tenancy: the Prometheus URL allow-list ------------------------------------------------------

ALLOWED = ["http://prometheus.monitoring:9090", "https://thanos.obs.svc:10902/"]


@pytest.mark.parametrize(
    "url",
    [
        "http://prometheus.monitoring:9090",
        "http://prometheus.monitoring:9090/",
        "http://Prometheus.Monitoring:9090",
        "https://thanos.obs.svc:10902",
    ],
)
def test_allowed_prometheus_urls(url):
    assert semantic_errors(parse_spec({"image": "a", "metrics": {"prometheus": {"url": url}}}), ALLOWED) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:10250",
        "http://prometheus.monitoring:9091",
        "https://prometheus.monitoring:9090",
        "http://prometheus.monitoring:9090/admin",
        "http://user:pw@prometheus.monitoring:9090",
        "http://prometheus.monitoring.evil.example:9090",
    ],
)
def test_any_other_prometheus_url_is_invalid_naming_the_field_and_the_list(url):
    (error,) = semantic_errors(parse_spec({"image": "a", "metrics": {"prometheus": {"url": url}}}), ALLOWED)
    assert error.startswith(f"spec.metrics.prometheus.url: {url} is not a Prometheus this operator may query")
    assert "allowed: http://prometheus.monitoring:9090, https://thanos.obs.svc:10902/" in error


def test_an_empty_allow_list_allows_nothing():
    (error,) = semantic_errors(parse_spec({"image": "a"}), [])
    assert "(allowed: none;" in error


def test_the_allow_list_defaults_to_the_installed_setting(monkeypatch):
    from webscale.api import validation

    validation.installed_prometheus_urls.cache_clear()
    monkeypatch.setenv("WEBSCALE_PROMETHEUS_URLS", "http://a:1, http://b:2")
    try:
        spec = parse_spec({"image": "a", "metrics": {"prometheus": {"url": "http://b:2/"}}})
        assert semantic_errors(spec) == []
        assert "allowed: http://a:1, http://b:2" in semantic_errors(parse_spec({"image": "a"}))[0]
    finally:
        validation.installed_prometheus_urls.cache_clear()
