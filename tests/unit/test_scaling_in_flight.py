"""The in-flight signal (autoscaling.target.inFlightPerWorker): requests in flight at the load balancer
as a third signal, and the simulator's model of them (Little's law with a latency that rises near
saturation)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from test_scaling import make_spec, running

from webscale.api.crd import crd
from webscale.api.models import format_validation_error
from webscale.api.observation import Observation
from webscale.autoscaling.decide import History, decide
from webscale.autoscaling.reasons import IN_FLIGHT_ABOVE_TARGET, REASONS
from webscale.autoscaling.rules import in_flight_signal
from webscale.simulate import Trace, World, simulate
from webscale.simulate.webscale_policy import Webscale, default_spec, in_flight_at

NOW = 1000.0
PLAIN = {"headroom": {"quantile": None}, "behavior": {"scaleDown": {"rateWindow": "0s", "maxPercent": 100}}}


def flying(rps: float, in_flight: float | None) -> Observation:
    return Observation(at=NOW, requests_per_second=rps, in_flight_requests=in_flight)


def spec_with(per_worker: float | None, **extra):
    target = {"cpuUtilization": None, **({"inFlightPerWorker": per_worker} if per_worker is not None else {})}
    return make_spec({**PLAIN, "target": target, **extra})


@pytest.mark.parametrize(
    ("per_worker", "in_flight", "replicas", "needed", "within"),
    [
        (2.0, 16.0, 4, 4, True),  # 16 / (2 workers x 2) = 4 pods: on target
        (2.0, 40.0, 4, 10, False),  # 40 / 4 = 10 pods
        (2.0, 0.0, 4, 0, False),
        (5.0, 25.0, 2, 3, False),  # ceil(25 / 10)
    ],
)
def test_in_flight_signal_table(per_worker, in_flight, replicas, needed, within):
    signal = in_flight_signal(spec_with(per_worker).autoscaling, flying(100, in_flight), replicas, 2)
    assert signal is not None
    assert (signal.name, signal.needed, signal.within, signal.in_flight) == ("inFlight", needed, within, in_flight)


def test_in_flight_signal_is_off_without_a_target_or_a_reading():
    assert in_flight_signal(spec_with(None).autoscaling, flying(100, 40), 4, 2) is None
    assert in_flight_signal(spec_with(2.0).autoscaling, flying(100, None), 4, 2) is None


def test_an_overload_seen_in_flight_scales_up_and_says_so():
    # 300 req/s on 4 pods of 2 workers is within the rate target (100 req/s per pod), but 40 requests
    # are in flight (target 4 per worker: 8 per pod) -> 5 pods.
    spec = spec_with(4.0)
    decision = decide(spec, flying(300, 40), running(4), History(), NOW)
    assert (decision.replicas, decision.signal, decision.reason) == (5, "inFlight", IN_FLIGHT_ABOVE_TARGET)
    assert IN_FLIGHT_ABOVE_TARGET in REASONS
    assert "40 requests in flight at the load balancer (target 4 per worker) needs 5 pods; scaling 4 -> 5" in (
        decision.message
    )


def test_in_flight_never_lowers_what_the_rate_needs():
    decision = decide(spec_with(2.0), flying(800, 1), running(8), History(), NOW)
    assert (decision.replicas, decision.signal) == (8, "requestRate")


def test_without_the_field_in_flight_is_ignored():
    decision = decide(spec_with(None), flying(300, 400), running(4), History(), NOW)
    assert decision.replicas == 4
    assert "in flight" not in decision.message


def test_the_field_is_validated_and_the_crd_says_what_it_needs():
    with pytest.raises(ValidationError) as caught:
        make_spec({"target": {"inFlightPerWorker": 0}})
    assert format_validation_error(caught.value).startswith("spec.autoscaling.target.inFlightPerWorker: ")
    text = json.dumps(crd())
    assert "autoscaling.target.inFlightPerWorker needs metrics.requestRateSource loadbalancer" in text
    assert "inFlightPerWorker" in text


# ---- the simulator's model -------------------------------------------------------------------

WORLD = World(startup_delay=2, scrape_interval=5, min_replicas=1, max_replicas=10)  # 100 req/s per pod, 50 per worker


@pytest.mark.parametrize(
    ("load", "capacity", "expected"),
    [
        (0.0, 100.0, 0.0),
        (70.0, 100.0, 70 / 50 / 0.3),  # u = 0.7: 70 req/s x 20 ms / (1 - 0.7)
        (50.0, 100.0, 50 / 50 / 0.5),
        (300.0, 100.0, 300 / 50 / 0.05),  # overloaded: capped at 95 % utilisation
        (10.0, 0.0, 10 / 50 / 0.05),  # no ready pod
    ],
)
def test_in_flight_model_table(load, capacity, expected):
    assert WORLD.in_flight(load, capacity) == pytest.approx(expected)


def test_in_flight_per_worker_at_a_utilisation():
    # one pod of 2 workers at 70 %: 70 req/s x 20 ms / 0.3 = 4.67 in flight = 2.33 per worker
    assert in_flight_at(WORLD, 0.7) == pytest.approx(WORLD.in_flight(70, 100) / WORLD.workers_per_pod)
    assert in_flight_at(WORLD, 0.9) == pytest.approx(9.0)


@given(st.floats(0, 1e5), st.floats(0, 1e5), st.floats(1, 1e4))
def test_in_flight_grows_with_load(load, capacity, more):
    assert WORLD.in_flight(load + more, capacity) >= WORLD.in_flight(load, capacity)


def test_webscale_reads_in_flight_at_the_load_balancer_and_sees_an_overload_sooner():
    """A step from 50 to 260 req/s on 2 pods (200 req/s of capacity): with the in-flight signal
    webscale adds pods at the first poll after the scrape that saw the queue, before the rate window
    catches up; the same run with the signal off spends more seconds under capacity."""
    trace = Trace("step", (50.0,) * 30 + (260.0,) * 60)
    world = World(startup_delay=5, scrape_interval=5, rate_window=30, min_replicas=2, max_replicas=10)
    plain = Webscale(default_spec(world, {**PLAIN, "pollingInterval": "5s"}))
    lb = {"requestRateSource": "loadbalancer"}
    target = {"target": {"inFlightPerWorker": in_flight_at(world, 0.7)}}
    with_flight = Webscale(default_spec(world, {**PLAIN, "pollingInterval": "5s", **target}, lb))
    off, on = simulate(trace, plain, world), simulate(trace, with_flight, world)
    assert on.seconds_over < off.seconds_over
    assert on.pod_seconds >= off.pod_seconds  # the price: it sizes on a count that overstates the need


@pytest.mark.parametrize("field", ["requestsPerSecondPerWorker", "inFlightPerWorker"])
def test_a_target_below_a_thousandth_is_refused_by_model_and_crd(field):
    with pytest.raises(ValidationError) as caught:
        make_spec({"target": {field: 0.0009}})
    assert format_validation_error(caught.value).startswith(f"spec.autoscaling.target.{field}: ")
    target = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert target["autoscaling"]["properties"]["target"]["properties"][field]["minimum"] == 0.001
    assert make_spec({"target": {field: 0.001}}).autoscaling.target is not None


def test_a_need_beyond_any_app_s_size_is_capped_not_a_crash():
    """An app may export any counter: a rate near the float's limit over the smallest target is an
    infinite need, which scales to replicas.max like any overload."""
    spec = spec_with(0.001, target={"cpuUtilization": None, "requestsPerSecondPerWorker": 0.001})
    decision = decide(spec, flying(1e306, 1e306), running(4), History(), NOW)
    assert decision.replicas == spec.replicas.max
    assert "1000000 pods" in decision.message or "capped at replicas.max" in decision.message
