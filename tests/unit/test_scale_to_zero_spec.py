"""Scale to zero in the spec: every bad combination is refused (by the model's checks and, with the same
words, by CEL rules in the generated CRD; tests/integration/test_scale_to_zero_admission.py sends them to
a real API server), and an app without the section renders and defaults exactly as before."""

from __future__ import annotations

import json

import pytest

from webscale.api import scale_to_zero
from webscale.api.crd import crd
from webscale.api.models import parse_spec
from webscale.api.validation import semantic_errors

ZERO = {"idleAfter": "5m", "holdRequestsFor": "30s"}


def _errors(**spec: object) -> list[str]:
    return semantic_errors(
        parse_spec({"image": "a", **spec}), allowed_prometheus_urls=["http://prometheus.monitoring:9090"]
    )


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"replicas": {"min": 0}}, "spec.replicas.min", "needs an autoscaling.scaleToZero section"),
        (
            {"replicas": {"min": 0}, "autoscaling": {"scaleToZero": ZERO}, "loadBalancer": {"provider": "service"}},
            "spec.autoscaling.scaleToZero",
            "needs loadBalancer.provider haproxy",
        ),
        (
            {"replicas": {"min": 1}, "autoscaling": {"scaleToZero": ZERO}, "loadBalancer": {"provider": "service"}},
            "spec.autoscaling.scaleToZero",
            "needs loadBalancer.provider haproxy",
        ),
        (
            {"replicas": {"min": 0}, "autoscaling": {"pollingInterval": "1m", "scaleToZero": {"idleAfter": "45s"}}},
            "spec.autoscaling.scaleToZero.idleAfter",
            "below autoscaling.pollingInterval",
        ),
    ],
)
def test_bad_combinations_are_refused_naming_the_field(spec, field, words):
    found = _errors(**spec)
    assert len(found) == 1, found
    assert found[0].startswith(field + ":") and words in found[0]


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"idleAfter": "10s"}, "idleAfter must be between 30s and 168h"),
        ({"idleAfter": "200h"}, "idleAfter must be between 30s and 168h"),
        ({"holdRequestsFor": "500ms"}, "holdRequestsFor must be between 1s and 5m"),
        ({"holdRequestsFor": "6m"}, "holdRequestsFor must be between 1s and 5m"),
        ({"idleAfter": "5m", "grace": "1s"}, "Extra inputs are not permitted"),
    ],
)
def test_out_of_range_settings_fail_to_parse(section, words):
    with pytest.raises(ValueError, match=words):
        parse_spec({"image": "a", "replicas": {"min": 0}, "autoscaling": {"scaleToZero": section}})


def test_good_combinations_pass_and_default():
    assert _errors(replicas={"min": 0}, autoscaling={"scaleToZero": {}}) == []
    assert _errors(replicas={"min": 1, "max": 3}, autoscaling={"scaleToZero": ZERO}) == []
    spec = parse_spec({"image": "a", "replicas": {"min": 0}, "autoscaling": {"scaleToZero": {}}})
    assert scale_to_zero.settings(spec) == scale_to_zero.ZeroSettings(idle_after=300.0, hold=30.0)
    assert scale_to_zero.may_scale_to_zero(spec)
    # with min 1 the section only makes the LB hold requests (e.g. while the one pod restarts)
    assert not scale_to_zero.may_scale_to_zero(parse_spec({"image": "a", "autoscaling": {"scaleToZero": {}}}))


def test_without_the_section_nothing_changes():
    spec = parse_spec({"image": "a"})
    assert spec.autoscaling.scale_to_zero is None and scale_to_zero.settings(spec) is None
    assert not scale_to_zero.may_scale_to_zero(spec)


def test_the_crd_carries_the_same_rules_and_no_default_section():
    schema = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]
    messages = json.dumps(spec["x-kubernetes-validations"])
    assert "replicas.min 0 needs an autoscaling.scaleToZero section" in messages
    assert "autoscaling.scaleToZero needs loadBalancer.provider haproxy" in messages
    autoscaling = spec["properties"]["autoscaling"]
    assert "idleAfter must be at least autoscaling.pollingInterval" in json.dumps(
        autoscaling["x-kubernetes-validations"]
    )
    # the section is never defaulted in: an app without it keeps replicas.min >= 1 and today's HAProxy config
    assert "scaleToZero" not in autoscaling["default"]
    assert "default" not in autoscaling["properties"]["scaleToZero"]
    assert spec["properties"]["replicas"]["properties"]["min"]["minimum"] == 0
    assert "x-webscale-no-default" not in json.dumps(schema)
