"""Semantic checks the schema cannot express: each names the field and the problem."""

from __future__ import annotations

import pytest

from webscale.models import parse_spec
from webscale.validation import semantic_errors


def test_a_sound_spec_has_no_errors():
    spec = {"image": "a", "resources": {"cpu": "1", "limits": {"cpu": "2"}}, "env": [{"name": "A", "value": "1"}]}
    assert semantic_errors(parse_spec(spec)) == []


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
    ],
)
def test_semantic_errors(spec, expected):
    errors = semantic_errors(parse_spec({"image": "a", **spec}))
    assert any(e.startswith(expected) for e in errors), errors
