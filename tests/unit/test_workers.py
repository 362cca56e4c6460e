"""Workers per pod follow the pod's CPU (limit, else request), never the node's cores."""

from __future__ import annotations

import pytest

from webscale.api.models import parse_spec
from webscale.api.workers import workers_per_pod


@pytest.mark.parametrize(
    ("resources", "workers", "expected"),
    [
        ({"cpu": "500m"}, {}, 1),  # below one core: still one worker
        ({"cpu": "1"}, {}, 1),
        ({"cpu": "1500m"}, {}, 1),  # whole cores only
        ({"cpu": "2"}, {}, 2),
        ({"cpu": 2}, {}, 2),  # a bare number, as kubectl users write it
        ({"cpu": "16"}, {}, 16),
        ({"cpu": "2", "limits": {"cpu": "4"}}, {}, 4),  # the limit wins over the request
        ({"cpu": None, "limits": {"cpu": "3"}}, {}, 3),  # limit only
        ({"cpu": "3"}, {}, 3),  # request only
        ({"cpu": None}, {}, 1),  # no CPU at all: one worker
        ({"cpu": "32"}, {}, 16),  # clamped to workers.max (default 16)
        ({"cpu": "32"}, {"max": 8}, 8),
        ({"cpu": "500m"}, {"min": 2}, 2),  # clamped up to workers.min
        ({"cpu": "8"}, {"mode": "fixed", "count": 3}, 3),  # fixed ignores the CPU
    ],
)
def test_workers_per_pod(resources, workers, expected):
    spec = parse_spec({"image": "app:1", "resources": resources, "workers": workers})
    assert workers_per_pod(spec) == expected
