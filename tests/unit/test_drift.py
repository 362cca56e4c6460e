"""holds(): the live object already carries everything we would apply (so no write is needed)."""

from __future__ import annotations

import pytest

from webscale.kube.drift import drifted_paths, holds


@pytest.mark.parametrize(
    ("desired", "live", "expected"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),  # server defaults are extra fields
        ({"a": 1}, {"a": 2}, False),
        ({"a": {"b": [1, 2]}}, {"a": {"b": [1, 2]}}, True),
        ({"a": [1, 2]}, {"a": [1]}, False),  # a list must match in length
        ({"a": [{"x": 1}]}, {"a": [{"x": 1, "y": 0}]}, True),
        ({"resources": {"cpu": "1.5"}}, {"resources": {"cpu": "1500m"}}, True),
        ({"memory": "1024Mi"}, {"memory": "1Gi"}, True),
        ({"cpu": "2"}, {"cpu": "3"}, False),
        ({"image": "1"}, {"image": "1.0"}, False),  # only quantity fields compare by value
        ({"flag": False}, {}, True),  # zero values are omitted by the server
        ({"flag": True}, {}, False),
    ],
)
def test_holds(desired, live, expected):
    assert holds(desired, live) is expected


def test_drifted_paths_name_what_changed():
    desired = {"spec": {"containers": [{"image": "a:1", "name": "app"}]}}
    live = {"spec": {"containers": [{"image": "evil:1", "name": "app"}]}}
    assert drifted_paths(desired, live) == ["spec.containers[0].image"]
