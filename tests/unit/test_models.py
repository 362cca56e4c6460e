"""The ScaledWebApp model: defaults, durations, and a clear message for every bad field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from webscale.api.durations import seconds
from webscale.api.models import format_validation_error, parse_spec


def test_defaults_follow_the_design():
    spec = parse_spec({"image": "app:1"})
    assert spec.port == 3000
    assert spec.workers.mode == "auto" and (spec.workers.min, spec.workers.max) == (1, 16)
    assert (spec.replicas.min, spec.replicas.max) == (2, 20)
    a = spec.autoscaling
    assert (a.mode, a.polling_interval, a.tolerance) == ("auto", "15s", 0.1)
    assert (a.target.requests_per_second_per_worker, a.target.cpu_utilization) == (50.0, 70)
    assert (a.behavior.scale_up.max_pods, a.behavior.scale_up.max_percent) == (4, 100)
    down = a.behavior.scale_down
    assert (down.stabilization_window, down.rate_window, down.max_percent) == ("300s", "0s", 100)
    assert (a.headroom.quantile, a.headroom.window, a.headroom.percent_of_target) == (0.9, "1m", 100)
    up = a.behavior.scale_up
    assert (up.checked_forecast, up.learn_lead_time, up.recent_rate) == (True, True, False)
    assert (a.burst.threshold, a.fallback.after_failures, a.fallback.action) == (2.0, 3, "hold")
    assert (spec.load_balancer.strategy, spec.load_balancer.provider) == ("round-robin", "haproxy")
    assert spec.state.redis_url is None


def test_camel_case_on_the_wire():
    spec = parse_spec({"image": "a", "state": {"redisURL": "redis://r:6379/0"}, "loadBalancer": {"replicas": 3}})
    dumped = spec.model_dump(by_alias=True)
    assert dumped["state"]["redisURL"] == "redis://r:6379/0"
    assert dumped["loadBalancer"]["replicas"] == 3
    assert "pollingInterval" in dumped["autoscaling"]


@pytest.mark.parametrize(("text", "value"), [("500ms", 0.5), ("15s", 15), ("5m", 300), ("1h", 3600), ("0s", 0)])
def test_seconds(text, value):
    assert seconds(text) == value


@pytest.mark.parametrize(
    ("spec", "where", "what"),
    [
        ({}, "spec.image", "Field required"),
        ({"image": ""}, "spec.image", "at least 1 character"),
        ({"image": "a", "port": 0}, "spec.port", "greater than or equal to 1"),
        ({"image": "a", "port": 70000}, "spec.port", "less than or equal to 65535"),
        ({"image": "a", "workers": {"mode": "sometimes"}}, "spec.workers.mode", "'auto' or 'fixed'"),
        ({"image": "a", "workers": {"count": 0}}, "spec.workers.count", "greater than or equal to 1"),
        ({"image": "a", "replicas": {"min": -1}}, "spec.replicas.min", "greater than or equal to 0"),
        (
            {"image": "a", "autoscaling": {"pollingInterval": "soon"}},
            "spec.autoscaling.pollingInterval",
            "must be a duration: a whole number and ms, s, m or h (15s, 5m, 1h), got 'soon'",
        ),
        (
            {"image": "a", "autoscaling": {"pollingInterval": "0s"}},
            "spec.autoscaling.pollingInterval",
            "must be between 5s and 1h",
        ),
        (
            {"image": "a", "autoscaling": {"pollingInterval": "4999ms"}},
            "spec.autoscaling.pollingInterval",
            "autoscaling.pollingInterval must be between 5s and 1h, got 4999ms",
        ),
        (
            {"image": "a", "autoscaling": {"behavior": {"scaleUp": {"period": "0s"}}}},
            "spec.autoscaling.behavior.scaleUp.period",
            "between 1s and 1h, got 0s",
        ),
        (
            {"image": "a", "autoscaling": {"behavior": {"scaleDown": {"period": "2562048h"}}}},
            "spec.autoscaling.behavior.scaleDown.period",
            "between 1s and 1h, got 2562048h",
        ),
        ({"image": "a", "serviceAccountName": "Not_A_Name"}, "spec.serviceAccountName", "must be a lowercase DNS name"),
        ({"image": "a", "autoscaling": {"tolerance": 2}}, "spec.autoscaling.tolerance", "less than or equal to 1"),
        ({"image": "a", "autoscaling": {"burst": {"threshold": 1}}}, "spec.autoscaling.burst.threshold", "greater"),
        (
            {"image": "a", "resources": {"cpu": "lots"}},
            "spec.resources.cpu",
            "must be a Kubernetes quantity such as 500m, 2, 1.5 or 256Mi, got 'lots'",
        ),
        ({"image": "a", "loadBalancer": {"strategy": "random"}}, "spec.loadBalancer.strategy", "round-robin"),
        (
            {"image": "a", "state": {"redisURL": "http://x"}},
            "spec.state.redisURL",
            "must be a redis:// or rediss:// URL",
        ),
        (
            {"image": "a", "metrics": {"prometheus": {"url": "ftp://x"}}},
            "spec.metrics.prometheus.url",
            "must be an http:// or https:// URL",
        ),
        ({"image": "a", "colour": "red"}, "spec.colour", "unknown field"),
        ({"image": "a", "env": [{"name": "X", "value": "v" * 4097}]}, "spec.env[0].value", "at most 4096 characters"),
        ({"image": "a", "env": [{"name": f"V{i}"} for i in range(129)]}, "spec.env", "at most 128 items"),
        ({"image": "a", "state": {"redisURL": "redis://" + "r" * 2048}}, "spec.state.redisURL", "at most 2048"),
        ({"image": "a", "resources": {"memory": "1" * 65}}, "spec.resources.memory", "at most 64 characters"),
        (
            {"image": "a", "autoscaling": {"burst": {"hold": "1" * 32 + "s"}}},
            "spec.autoscaling.burst.hold",
            "at most 32",
        ),
    ],
)
def test_every_bad_field_is_named_with_the_problem(spec, where, what):
    with pytest.raises(ValidationError) as exc:
        parse_spec(spec)
    message = format_validation_error(exc.value)
    assert message.startswith(f"{where}: "), message
    assert what in message
    assert "^" not in message and "Value error" not in message  # no regular expression, no pydantic words
