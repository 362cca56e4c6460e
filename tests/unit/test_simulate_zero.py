"""Scale to zero in the simulator (simulate.zero, engine.Wake): on a trace with a long idle gap, the
policies that scale to zero cost fewer pod-seconds than their warm selves, wake once per gap, and
hold (not lose) the requests that come while a pod starts. Ratios and counts from one run only."""

from __future__ import annotations

from dataclasses import replace

from webscale.api.models import parse_spec
from webscale.simulate.engine import Wake, World, simulate
from webscale.simulate.fast_signal import FastSignal, configured
from webscale.simulate.kpa import Kpa
from webscale.simulate.traces import Trace
from webscale.simulate.webscale_policy import Webscale, default_spec
from webscale.simulate.zero import KpaToZero, WebscaleToZero

GAP = Trace("gap", tuple([100.0] * 600 + [0.0] * 1200 + [100.0] * 600), "busy 10 min, idle 20 min, busy 10 min")
WARM = World(startup_delay=10, min_replicas=1, max_replicas=20)
ZERO = replace(WARM, min_replicas=0)


def webscale_to_zero(idle_after: str = "5m", fast: bool = False) -> WebscaleToZero:
    spec = default_spec(WARM).model_dump(by_alias=True)
    spec["replicas"]["min"] = 0
    spec["autoscaling"]["scaleToZero"] = {"idleAfter": idle_after}
    warm = Webscale(default_spec(WARM))
    return WebscaleToZero(configured(warm) if fast else warm, parse_spec(spec))


def test_webscale_goes_to_zero_in_the_gap_and_holds_the_first_requests():
    warm = simulate(GAP, Webscale(default_spec(WARM)), WARM)
    zero = simulate(GAP, webscale_to_zero(), ZERO)
    assert zero.pod_seconds < warm.pod_seconds and warm.cold_starts == 0 and warm.requests_delayed == 0
    assert zero.cold_starts == 1 and 0 in zero.replicas
    # the requests of the start-up seconds (plus the wake-up's 1 s unless a poll woke it first) are held
    assert 100.0 * WARM.startup_delay <= zero.requests_delayed <= 100.0 * (1 + WARM.startup_delay)
    assert zero.requests_timed_out == 0
    first_zero = zero.replicas.index(0)
    assert first_zero >= 600 + 300  # not before idleAfter (5 min) after the last request


def test_with_the_fast_round_the_app_goes_to_zero_only_at_a_poll_and_stays_there_until_woken():
    policy = webscale_to_zero(fast=True)
    assert isinstance(policy.warm, FastSignal) and policy.interval == 1 and policy.poll == 15
    run = simulate(GAP, policy, ZERO)
    first_zero = run.replicas.index(0)
    assert first_zero % policy.poll == 0 and first_zero >= 600 + 300  # the poll decides, after idleAfter
    # asleep through the rest of the gap although the warm policy asks for a pod every second
    assert set(run.replicas[first_zero:1800]) == {0}
    assert run.cold_starts == 1 and run.requests_timed_out == 0
    # the same decision as the polls alone: the fast round changes nothing at zero
    polls = simulate(GAP, webscale_to_zero(), ZERO)
    assert polls.replicas.index(0) == first_zero


def test_a_shorter_idle_after_saves_more_and_knative_goes_sooner_still_with_the_same_cold_start():
    five = simulate(GAP, webscale_to_zero("5m"), ZERO)
    half = simulate(GAP, webscale_to_zero("30s"), ZERO)
    kpa_warm = Kpa(WARM.target_per_pod, 1, WARM.max_replicas)
    kpa = simulate(GAP, KpaToZero(kpa_warm), ZERO)
    assert half.pod_seconds < five.pod_seconds
    assert kpa.replicas.index(0) < five.replicas.index(0)
    assert kpa.cold_starts == half.cold_starts == 1
    assert abs(kpa.requests_delayed - half.requests_delayed) <= 100.0  # the same cold start, +- one poll


def test_held_requests_time_out_when_the_cold_start_is_longer_than_the_hold():
    slow = replace(ZERO, startup_delay=40)
    run = simulate(GAP, webscale_to_zero(), slow)  # hold 30 s, cold start 41 s
    assert run.requests_timed_out > 0 and run.requests_delayed > run.requests_timed_out


def test_wake_accounting():
    wake = Wake(wake_delay=1, hold=3)
    assert not wake.due(0, pods=0, offered=0.0)
    assert not wake.due(1, pods=0, offered=5.0) and wake.due(2, pods=0, offered=5.0)
    for now in range(1, 5):
        wake.account(now, 5.0, ready=False)  # the request of second 1 waits 3 s: timed out at second 4
    wake.account(5, 5.0, ready=True)
    assert wake.timed_out == 5.0 and wake.delayed == 20.0
