"""The scale-to-zero rules (autoscaling.zero), table-driven: when an idle app goes to zero, when it
wakes, and that an app without scaleToZero (or with replicas.min 1) never goes to zero."""

from __future__ import annotations

import pytest

from webscale.api.models import parse_spec
from webscale.api.observation import Observation
from webscale.autoscaling.zero import (
    SCALED_TO_ZERO,
    WAKING,
    busy,
    decide_zero,
    idle_text,
    last_request,
    wake,
    warm_spec,
)

NOW = 10_000.0
ZERO = parse_spec({"image": "a", "replicas": {"min": 0}, "autoscaling": {"scaleToZero": {"idleAfter": "5m"}}})
MIN_ONE = parse_spec({"image": "a", "replicas": {"min": 1}, "autoscaling": {"scaleToZero": {"idleAfter": "5m"}}})
PLAIN = parse_spec({"image": "a", "replicas": {"min": 1}})
RECOMMEND = parse_spec({"image": "a", "replicas": {"min": 0}, "autoscaling": {"mode": "recommend", "scaleToZero": {}}})


def reading(rps: float | None = 0.0, in_flight: float | None = None, error: str | None = None) -> Observation:
    if error:
        return Observation.failed(NOW, error)
    return Observation(at=NOW, requests_per_second=rps, in_flight_requests=in_flight)


@pytest.mark.parametrize(
    ("name", "spec", "replicas", "obs", "waiting", "idle", "want"),
    [
        # warm apps: go to zero only after idleAfter of nothing, with a usable reading
        ("idle long enough", ZERO, 3, reading(0.0), 0, 300, (0, SCALED_TO_ZERO)),
        ("idle much longer", ZERO, 1, reading(0.0), 0, 4000, (0, SCALED_TO_ZERO)),
        ("idle not long enough", ZERO, 3, reading(0.0), 0, 299, None),
        ("traffic", ZERO, 3, reading(0.5), 0, 0, None),
        ("only in flight", ZERO, 3, reading(0.0, in_flight=1), 0, 0, None),
        ("no reading is not no load", ZERO, 3, reading(error="prometheus down"), 0, 900, None),
        ("min 1 never goes to zero", MIN_ONE, 3, reading(0.0), 0, 4000, None),
        ("no section never goes to zero", PLAIN, 3, reading(0.0), 0, 4000, None),
        ("recommend mode never goes to zero", RECOMMEND, 3, reading(0.0), 0, 4000, None),
        # at zero: wake on the first held request or any traffic, else stay
        ("held request wakes", ZERO, 0, reading(0.0), 1, 0, (1, WAKING)),
        ("many held requests wake to one pod", ZERO, 0, reading(error="no series"), 100, 0, (1, WAKING)),
        ("traffic in the reading wakes", ZERO, 0, reading(2.0), 0, 0, (1, WAKING)),
        ("nothing waiting stays at zero", ZERO, 0, reading(0.0), 0, 42, (0, SCALED_TO_ZERO)),
        ("no reading at zero stays at zero", ZERO, 0, reading(error="no series"), 0, 42, (0, SCALED_TO_ZERO)),
        ("min 1 app found at zero is woken", MIN_ONE, 0, reading(0.0), 3, 0, (1, WAKING)),
        ("no section: left to decide", PLAIN, 0, reading(0.0), 3, 0, None),
    ],
)
def test_decide_zero(name, spec, replicas, obs, waiting, idle, want):
    last = last_request(NOW - idle, obs, waiting, NOW)
    got = decide_zero(spec, replicas, obs, waiting, last, NOW)
    assert (None if got is None else (got.replicas, got.reason)) == want, name


def test_messages_say_how_long_and_how_many():
    gone = decide_zero(ZERO, 2, reading(0.0), 0, NOW - 312.4, NOW)
    assert gone is not None and gone.message == "no request for 5 min 12 s (idleAfter 5 min); scaling 2 -> 0"
    woken = wake(ZERO, 0, 7)
    assert (
        woken is not None and woken.message == "7 requests waiting at the load balancer; scaling 0 -> 1 to serve them"
    )
    stay = decide_zero(ZERO, 0, reading(0.0), 0, NOW - 3600, NOW)
    assert stay is not None and stay.message == "no request for 1 h; keeping 0 pods"


@pytest.mark.parametrize(
    ("spec", "replicas", "waiting", "want"),
    [(ZERO, 0, 1, 1), (ZERO, 0, 0, None), (ZERO, 2, 5, None), (PLAIN, 0, 5, None), (MIN_ONE, 0, 2, 1)],
)
def test_the_fast_wake_path(spec, replicas, waiting, want):
    got = wake(spec, replicas, waiting)
    assert (None if got is None else got.replicas) == want


@pytest.mark.parametrize(
    ("previous", "obs", "waiting", "want"),
    [
        (None, reading(0.0), 0, NOW),  # first poll: idleness counts from what was measured
        (NOW - 50, reading(0.0), 0, NOW - 50),
        (NOW - 50, reading(0.1), 0, NOW),
        (NOW - 50, reading(error="down"), 0, NOW - 50),
        (NOW - 50, reading(error="down"), 2, NOW),
    ],
)
def test_last_request(previous, obs, waiting, want):
    assert last_request(previous, obs, waiting, NOW) == want
    assert busy(obs, waiting) == (want == NOW and previous is not None)


def test_warm_spec_floors_min_at_one_and_keeps_the_rest():
    warm = warm_spec(ZERO)
    assert warm.replicas.min == 1 and warm.replicas.max == ZERO.replicas.max
    assert warm.autoscaling == ZERO.autoscaling and warm_spec(PLAIN) is PLAIN


@pytest.mark.parametrize(("seconds", "text"), [(0, "0 s"), (45, "45 s"), (312.4, "5 min 12 s"), (7260, "2 h 1 min")])
def test_idle_text(seconds, text):
    assert idle_text(seconds) == text
