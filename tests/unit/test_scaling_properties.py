"""Properties of decide() that must hold for any input (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_scaling import make_spec, reading

from webscale.api.observation import Observation
from webscale.autoscaling.decide import Current, History, decide
from webscale.autoscaling.history import Recommendation, ScaleEvent

POLL = 15.0
SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def specs(draw: st.DrawFn) -> Any:
    low = draw(st.integers(1, 10))
    high = draw(st.integers(low, 30))
    autoscaling = {
        "tolerance": draw(st.sampled_from([0.0, 0.05, 0.1, 0.3])),
        "target": {"cpuUtilization": draw(st.sampled_from([None, 50, 70]))},
        "burst": {"threshold": draw(st.sampled_from([1.5, 2.0, 100.0])), "hold": "60s"},
        "behavior": {
            "scaleDown": {
                "stabilizationWindow": draw(st.sampled_from(["0s", "60s", "300s"])),
                "maxPercent": draw(st.sampled_from([None, 10, 50, 100])),
                "maxPods": draw(st.sampled_from([None, 1, 4])),
            },
            "scaleUp": {"stabilizationWindow": draw(st.sampled_from(["0s", "30s"]))},
        },
        "fallback": draw(
            st.sampled_from([{"action": "hold"}, {"action": "replicas", "replicas": 5, "afterFailures": 2}])
        ),
    }
    return make_spec(autoscaling, replicas={"min": low, "max": high})


observations = st.one_of(
    st.builds(
        reading,
        rps=st.floats(0, 5000),
        cpu=st.one_of(st.none(), st.floats(0, 100)),
        pods=st.one_of(st.none(), st.integers(0, 40)),
    ),
    st.builds(reading, error=st.sampled_from(["no series", "Prometheus unreachable"])),
    st.builds(reading, cpu=st.floats(0, 100), pods=st.integers(1, 40)),  # request rate missing
)


@st.composite
def histories(draw: st.DrawFn, now: float = 1000.0) -> History:
    recs = draw(st.lists(st.tuples(st.floats(0, 400), st.integers(0, 40)), max_size=10))
    events = draw(st.lists(st.tuples(st.floats(0, 100), st.integers(0, 40), st.integers(0, 40)), max_size=4))
    return History(
        recommendations=tuple(Recommendation(now - ago, n) for ago, n in sorted(recs, reverse=True)),
        events=tuple(ScaleEvent(now - ago, a, b) for ago, a, b in sorted(events, reverse=True)),
        failures=draw(st.integers(0, 5)),
        last_good=draw(st.one_of(st.none(), st.integers(1, 40))),
        burst_until=draw(st.one_of(st.none(), st.floats(900, 1100))),
    )


@SETTINGS
@given(spec=specs(), obs=observations, history=histories(), replicas=st.integers(0, 40), data=st.data())
def test_bounds_always_hold(spec, obs, history, replicas, data):
    ready = data.draw(st.integers(0, replicas + 2))
    decision = decide(spec, obs, Current(replicas, ready, 2, 2.0), history, 1000.0)
    assert spec.replicas.min <= decision.replicas <= spec.replicas.max


@SETTINGS
@given(spec=specs(), obs=observations, history=histories(), data=st.data())
def test_a_metrics_failure_never_lowers_replicas(spec, obs, history, data):
    replicas = data.draw(st.integers(spec.replicas.min, spec.replicas.max))
    failed = data.draw(st.sampled_from([reading(error="no series"), reading(cpu=obs.cpu_cores, pods=2)]))
    decision = decide(spec, failed, Current(replicas, replicas, 2, 2.0), history, 1000.0)
    assert decision.replicas >= replicas
    assert not decision.metrics_available


def run(spec: Any, loads: list[float], replicas: int) -> list[tuple[float, int, int, int]]:
    """Poll every 15s with the given loads; pods become ready one poll after they are asked for.
    Returns (now, from, to, recommended) per poll."""
    history, ready, out = History(), replicas, []
    for i, load in enumerate(loads):
        now = i * POLL
        decision = decide(
            spec, Observation(at=now, requests_per_second=load), Current(replicas, ready, 2), history, now
        )
        out.append((now, replicas, decision.replicas, decision.recommended_replicas or 0))
        history, ready, replicas = decision.history, replicas, decision.replicas
    return out


@SETTINGS
@given(spec=specs(), load=st.floats(0, 4000), data=st.data())
def test_constant_load_settles_and_never_flaps(spec, load, data):
    start = data.draw(st.integers(spec.replicas.min, spec.replicas.max))
    polls = run(spec, [load] * 200, start)
    # 40 minutes settle anything: the 300s window, then 1 pod or 10% per 60s from 30 pods to 1.
    settled = {to for _, _, to, _ in polls[160:]}
    assert len(settled) == 1


@SETTINGS
@given(spec=specs(), loads=st.lists(st.floats(0, 3000), min_size=5, max_size=40), data=st.data())
def test_no_scale_down_inside_the_window_after_a_higher_recommendation(spec, loads, data):
    window = float(spec.autoscaling.behavior.scale_down.stabilization_window.rstrip("s"))
    polls = run(spec, loads, data.draw(st.integers(spec.replicas.min, spec.replicas.max)))
    for now, before, after, _ in polls:
        if after < before:
            recent = [rec for t, _, _, rec in polls if now - window < t <= now]
            assert all(min(rec, spec.replicas.max) <= after for rec in recent)


@SETTINGS
@given(history=histories())
def test_history_round_trips_through_a_dict(history):
    again = History.from_dict(history.to_dict())
    assert again.to_dict() == history.to_dict()
    assert again.failures == history.failures and again.last_good == history.last_good


@SETTINGS
@given(spec=specs(), obs=observations, history=histories(), recent=st.floats(0, 8000), data=st.data())
def test_the_recent_rate_never_lowers_replicas(spec, obs, history, recent, data):
    replicas = data.draw(st.integers(spec.replicas.min, spec.replicas.max))
    current = Current(replicas, data.draw(st.integers(0, replicas)), 2, 2.0)
    plain = decide(spec, obs, current, history, 1000.0)
    fresh = decide(spec, obs, current, history, 1000.0, recent_rps=recent)
    assert fresh.replicas >= plain.replicas
