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


# ---- windows over the remembered polls -----------------------------------------------------------


@pytest.mark.parametrize(
    ("autoscaling", "expected"),
    [
        (  # 64 polls of 15 s reach 960 s = 16m
            {"behavior": {"scaleDown": {"rateWindow": "30m"}}},
            "spec.autoscaling.behavior.scaleDown.rateWindow may reach back at most 64 times "
            "autoscaling.pollingInterval (the polls the operator remembers): 30m is more than 64 x 15s (960s)",
        ),
        (
            {"headroom": {"window": "17m"}},
            "spec.autoscaling.headroom.window may reach back at most 64 times autoscaling.pollingInterval",
        ),
    ],
)
def test_a_window_longer_than_the_remembered_polls_marks_the_app_invalid(autoscaling, expected):
    errors = semantic_errors(parse_spec({"image": "a", "autoscaling": autoscaling}))
    assert any(e.startswith(expected) for e in errors), errors


@pytest.mark.parametrize(
    "autoscaling",
    [
        {"behavior": {"scaleDown": {"rateWindow": "16m"}}},  # exactly 64 polls
        {"headroom": {"window": "16m"}},
        {"headroom": {"quantile": None, "window": "2h"}},  # the headroom is off: its window is not read
        {"pollingInterval": "1m", "behavior": {"scaleDown": {"rateWindow": "1h"}}},  # 64 polls of 1m
    ],
)
def test_windows_within_the_remembered_polls_are_sound(autoscaling):
    assert semantic_errors(parse_spec({"image": "a", "autoscaling": autoscaling})) == []


@pytest.mark.parametrize(
    ("autoscaling", "field"),
    [
        ({"burst": {"hold": "99999999h"}}, "autoscaling.burst.hold"),
        ({"behavior": {"scaleUp": {"stabilizationWindow": "61m"}}}, "autoscaling.behavior.scaleUp.stabilizationWindow"),
        (
            {"behavior": {"scaleDown": {"stabilizationWindow": "2h"}}},
            "autoscaling.behavior.scaleDown.stabilizationWindow",
        ),
        ({"behavior": {"scaleUp": {"leadTime": "3601s"}}}, "autoscaling.behavior.scaleUp.leadTime"),
        ({"pollingInterval": "2h"}, "autoscaling.pollingInterval"),
    ],
)
def test_durations_beyond_an_hour_are_refused_naming_the_field(autoscaling, field):
    with pytest.raises(ValueError, match=f"{field} must be between"):
        parse_spec({"image": "a", "autoscaling": autoscaling})


# ---- the CRD's rules across fields, checked again by the operator --------------------------------

LB_SOURCE = {"metrics": {"requestRateSource": "loadbalancer"}}
TEMPLATE = "sum(rate(x{namespace={namespace}, app={app}}[{window}]))"
VIOLATIONS = {  # every cross-field CEL rule of the CRD -> a spec that breaks it (and only it, where it can)
    "workers.min must be <= workers.max": {"workers": {"min": 5, "max": 4}},
    "workers.count is required when workers.mode is fixed": {"workers": {"mode": "fixed"}},
    "workers.count must lie within workers.min..workers.max": {"workers": {"mode": "fixed", "count": 9, "max": 8}},
    "replicas.min must be <= replicas.max": {"replicas": {"min": 5, "max": 4}},
    "replicas.count must lie within replicas.min..replicas.max": {"replicas": {"min": 1, "max": 4, "count": 5}},
    "autoscaling.fallback.replicas is required when action is replicas": {
        "autoscaling": {"fallback": {"action": "replicas"}}
    },
    "autoscaling.fallback.replicas must lie within replicas.min..replicas.max": {
        "autoscaling": {"fallback": {"replicas": 50}}
    },
    "autoscaling.target.inFlightPerWorker needs metrics.requestRateSource loadbalancer and no metrics.requestRate "
    "(the in-flight count is read at the load balancer)": {"autoscaling": {"target": {"inFlightPerWorker": 4}}},
    "autoscaling.seasonal.offset needs no metrics.requestRate (the prior reads the request-rate series the "
    "operator queries itself)": {"metrics": {"requestRate": TEMPLATE}, "autoscaling": {"seasonal": {"offset": "24h"}}},
    "autoscaling.seasonal.lookahead must be shorter than autoscaling.seasonal.offset": {
        "autoscaling": {"seasonal": {"offset": "1h", "lookahead": "1h"}}
    },
    "loadBalancer.strategy least-connections needs provider haproxy (kube-proxy Services cannot balance by "
    "connections)": {"loadBalancer": {"provider": "service", "strategy": "least-connections"}},
    "autoscaling.fallback.replicas is read only when action is replicas (action hold keeps the last good count)": {
        "autoscaling": {"fallback": {"replicas": 3}}
    },
    "workers.count is read only when workers.mode is fixed (mode auto sizes workers from the pod's CPU)": {
        "workers": {"count": 4}
    },
    "metrics.requestRateSource loadbalancer is not read when metrics.requestRate is set (the template is the "
    "request rate): remove one": {**LB_SOURCE, "metrics": {**LB_SOURCE["metrics"], "requestRate": TEMPLATE}},
    # the four the operator already checked in its own words
    "metrics.requestRateSource loadbalancer needs loadBalancer.provider haproxy": {
        **LB_SOURCE,
        "loadBalancer": {"provider": "service"},
    },
    "replicas.min 0 needs an autoscaling.scaleToZero section (idleAfter, holdRequestsFor): without it an app keeps "
    "at least one pod": {"replicas": {"min": 0}},
    "autoscaling.scaleToZero needs loadBalancer.provider haproxy: at zero the HAProxy tier holds requests until a "
    "pod is ready, a kube-proxy Service would refuse them": {
        "replicas": {"min": 0},
        "autoscaling": {"scaleToZero": {}},
        "loadBalancer": {"provider": "service"},
    },
    "autoscaling.scaleToZero.idleAfter must be at least autoscaling.pollingInterval (idleness is measured once per "
    "poll)": {"replicas": {"min": 0}, "autoscaling": {"pollingInterval": "1m", "scaleToZero": {"idleAfter": "30s"}}},
    "autoscaling.behavior.scaleDown.rateWindow may reach back at most 64 times autoscaling.pollingInterval (the "
    "polls the operator remembers)": {
        "autoscaling": {"pollingInterval": "5s", "behavior": {"scaleDown": {"rateWindow": "321s"}}}
    },
    "autoscaling.headroom.window may reach back at most 64 times autoscaling.pollingInterval (the polls the operator "
    "remembers)": {"autoscaling": {"pollingInterval": "5s", "headroom": {"window": "320001ms"}}},
}


def cross_field_messages() -> set[str]:
    from webscale.api.crd import crd

    found: set[str] = set()

    def walk(node: dict) -> None:
        for rule in node.get("x-kubernetes-validations", []):
            if "self." in rule["rule"] and ".all(k," not in rule["rule"]:  # across fields (not a map's keys)
                found.add(rule["message"])
        for child in node.get("properties", {}).values():
            walk(child)

    walk(crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"])
    return found


def test_every_rule_across_fields_of_the_crd_has_a_violation_here():
    assert cross_field_messages() == set(VIOLATIONS)  # a new CEL rule needs its twin in the operator


@pytest.mark.parametrize("message", sorted(VIOLATIONS))
def test_the_operator_refuses_what_the_crd_refuses_across_fields(message):
    """An object stored before a rule existed (or by a client the API server did not validate) is marked
    Invalid by the operator too, not used as it is."""
    errors = semantic_errors(parse_spec({"image": "a", **VIOLATIONS[message]}))
    assert errors, message
    if not message.startswith(("metrics.requestRateSource", "replicas.min 0", "autoscaling.scaleToZero")):
        assert any(e.split(": ")[0] == f"spec.{message}" for e in errors), errors  # the same words, then detail


# ---- the CPU the utilisation target is measured against -----------------------------------------------


@pytest.mark.parametrize(
    ("resources", "autoscaling", "expected"),
    [
        ({"cpu": None}, {}, "spec.autoscaling.target.cpuUtilization: 70% of no CPU request"),
        ({"cpu": None}, {"target": {"cpuUtilization": None}}, None),  # request rate alone: nothing to measure
        ({"cpu": None}, {"mode": "off"}, None),  # not scaling: the target is not read
        ({"cpu": None, "limits": {"cpu": "2"}}, {}, None),  # Kubernetes requests the limit
        ({"cpu": "1", "limits": {"cpu": "0"}}, {}, "spec.resources.limits.cpu: must be above zero, got 0"),
        ({"cpu": "0.0001m"}, {}, "spec.resources.cpu: 0.0001m is below 1m (Kubernetes counts CPU in whole"),
        ({"cpu": "1", "limits": {"cpu": "0.5m"}}, {}, "spec.resources.limits.cpu: 0.5m is below 1m"),
        ({"cpu": "1m"}, {}, None),
    ],
)
def test_the_cpu_target_needs_a_cpu_request_of_at_least_a_millicore(resources, autoscaling, expected):
    errors = semantic_errors(parse_spec({"image": "a", "resources": resources, "autoscaling": autoscaling}))
    if expected is None:
        assert errors == []
    else:
        assert any(e.startswith(expected) for e in errors), errors


def test_the_cpu_limit_is_the_request_when_no_request_is_given():
    from webscale.autoscaling.act import cpu_request_cores

    assert cpu_request_cores(parse_spec({"image": "a", "resources": {"cpu": None, "limits": {"cpu": "1500m"}}})) == 1.5
    assert cpu_request_cores(parse_spec({"image": "a", "resources": {"cpu": "500m", "limits": {"cpu": "2"}}})) == 0.5
