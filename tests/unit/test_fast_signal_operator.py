"""Burst mode on the in-band rate in the operator (runtime.fast_signal, Autoscaler.panic): the rate from
the HAProxy pods' counters, the bounded fan-out, which apps and pods are read, the scale-up at once, and
the floor it puts under the polls. The counters are the test's (tests/e2e/test_fast_signal_lb.py reads a
real HAProxy)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from orchestration import NS, SETTINGS, World, swa
from test_act import busy, running
from test_wake import lb_pod

from webscale.api.ref import AppRef
from webscale.autoscaling.act import Autoscaler, held_by_panic
from webscale.autoscaling.panic import Panic, in_band_rate
from webscale.runtime import fast_signal
from webscale.runtime.fast_signal import STATS_PATH, FastSignal, parse_requests, take_turns

LB = {"loadBalancer": {"provider": "haproxy"}, "replicas": {"min": 1, "max": 20, "count": 2}}
URL = f"http://10.1.2.3:8404{STATS_PATH}"  # never contacted: the reader is the test's


# ---- in_band_rate: hand-made counter series -------------------------------------------------------


def test_the_rate_is_the_newest_reading_against_the_oldest_within_the_window_summed_over_pods():
    a = [(90.0, 0.0), (94.0, 100.0), (96.0, 300.0), (98.0, 500.0), (100.0, 700.0)]
    b = [(96.0, 50.0), (100.0, 250.0)]
    # a: 94..100 is within 6 s: (700 - 100) / 6 = 100/s; b: (250 - 50) / 4 = 50/s
    assert in_band_rate({"a": a, "b": b}, 100.0, 6.0, 8.0) == pytest.approx(150.0)


def test_a_pod_read_less_often_gives_its_rate_from_the_reading_before_the_window():
    # only the newest reading is within 6 s: the one before it (10 s earlier) is used
    assert in_band_rate({"a": [(80.0, 0.0), (90.0, 100.0), (100.0, 300.0)]}, 100.0, 6.0, 40.0) == pytest.approx(20.0)


def test_stale_pods_single_readings_and_restarts():
    assert in_band_rate({}, 100.0, 6.0, 8.0) is None
    assert in_band_rate({"a": [(100.0, 5.0)]}, 100.0, 6.0, 8.0) is None  # one reading: no rate yet
    assert in_band_rate({"a": [(80.0, 0.0), (90.0, 100.0)]}, 100.0, 6.0, 8.0) is None  # newest 10 s old
    assert in_band_rate({"a": [(80.0, 0.0), (100.0, 100.0)]}, 100.0, 6.0, 8.0) is None  # pair 20 s apart
    # HAProxy restarted between 96 and 98 (900 -> 10): only 98..100 counts, (50 - 10) / 2
    restarted = [(94.0, 800.0), (96.0, 900.0), (98.0, 10.0), (100.0, 50.0)]
    assert in_band_rate({"a": restarted}, 100.0, 6.0, 8.0) == pytest.approx(20.0)
    assert in_band_rate({"a": [(98.0, 900.0), (100.0, 10.0)]}, 100.0, 6.0, 8.0) is None


# ---- bounded fan-out ------------------------------------------------------------------------------


def refs(n: int, pods: int = 2) -> list[tuple[AppRef, list[str]]]:
    return [(AppRef(NS, f"app{i:04d}"), [f"u{i}-{p}" for p in range(pods)]) for i in range(n)]


def test_apps_take_turns_within_the_budget_and_every_app_gets_its_turn():
    apps = refs(5000)
    seen: set[AppRef] = set()
    cursor, rounds = 0, 0
    while len(seen) < len(apps):
        chosen, cursor = take_turns(apps, 200, cursor)
        assert sum(len(urls) for _, urls in chosen) <= 200  # 5,000 apps: never more than the budget
        seen.update(ref for ref, _ in chosen)
        rounds += 1
    assert rounds == 50  # 10,000 pods, 200 a round


def test_all_apps_every_round_when_they_fit_and_one_app_even_when_it_alone_is_over():
    apps = refs(3)
    assert take_turns(apps, 200, 0) == (apps, 0)
    big = [(AppRef(NS, "big"), [f"u{i}" for i in range(300)]), *refs(1)]
    chosen, cursor = take_turns(big, 200, 0)
    assert [ref.name for ref, _ in chosen] == ["big"] and cursor == 1
    assert take_turns([], 200, 7) == ([], 0)


def test_the_counter_is_read_from_the_exporters_backend_section():
    text = (
        "# HELP haproxy_backend_http_requests_total Total number of HTTP requests received\n"
        'haproxy_backend_http_requests_total{proxy="stats"} 9\n'
        'haproxy_backend_http_requests_total{proxy="pods"} 1234\n'
    )
    assert parse_requests(text) == 1234.0
    assert parse_requests('haproxy_backend_http_requests_total{proxy="pods"} x\n') is None
    assert parse_requests("") is None


# ---- the loop and the act --------------------------------------------------------------------------


class Counters:
    """The HAProxy pods' request counters, as the test sets them, and which URLs were asked."""

    def __init__(self) -> None:
        self.count: float | None = 0.0
        self.asked: list[list[str]] = []

    def __call__(self, urls):
        self.asked.append(list(urls))
        return {u: self.count for u in urls}


def warm(ready: int = 2, **spec) -> World:
    world = World(swa(**{**LB, **spec}))
    running(world, ready=ready)
    world.kube.add(lb_pod())
    world.sync()
    return world


def replicas(world: World) -> int:
    return world.kube.objects[("Deployment", NS, "shop")]["spec"]["replicas"]


def fast(world: World, counters: Counters, budget: int = 200) -> FastSignal:
    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    return FastSignal(scaler, world.view, lambda: [world.app()], 2.0, budget, counters)


def test_a_surge_at_three_times_the_ready_pods_scales_up_at_once_and_says_why():
    world, counters = warm(), Counters()
    loop = fast(world, counters)
    assert replicas(world) == 2
    loop.tick(100.0)
    counters.count = 500.0  # 250 req/s for 2 s; a pod carries 1 worker x 50 req/s: 5 pods < 3 x 2 ready
    loop.tick(102.0)
    world.sync()
    assert replicas(world) == 2 and counters.asked[-1] == [URL]
    counters.count = 1000.0  # 250 req/s again: (1000 - 0) / 4 s
    loop.tick(104.0)
    world.sync()
    assert replicas(world) == 2
    counters.count = 4000.0  # 1,500 req/s for 2 s: the 6 s window's rate (4000 - 0) / 6 = 666.7 needs 14 >= 6
    loop.tick(106.0)
    world.sync()
    assert replicas(world) == 14
    app = world.app()
    assert app.status["lastScale"]["reason"] == "BurstMode"
    event = [e for e in world.kube.events if e[1] == "ScaledUp"][-1]
    assert "666.7 req/s at the load balancer over the last 6s needs 14 pods, 7.0x the 2 ready" in event[2]
    assert event[2].endswith("scaling 2 -> 14 at once")


@pytest.mark.parametrize("window", ["10s", "30s", "1m"])
def test_a_window_longer_than_the_staleness_still_gives_the_rate_over_the_whole_window(window):
    span = int(window[:-1]) * (60 if window.endswith("m") else 1)
    world = warm(autoscaling={"burst": {"fastSignal": {"window": window}}})
    counters = Counters()
    loop = fast(world, counters)
    for i in range(span // 2 + 1):  # a round every 2 s over the whole window, at 50 req/s (1 pod's worth)
        counters.count = 100.0 * i
        loop.tick(100.0 + 2 * i)
    world.sync()
    assert replicas(world) == 2  # 1 pod's worth: no burst
    counters.count += 50.0 * 20 * span  # the window now holds ~20 pods' worth: far over 3 x 2 ready
    loop.tick(100.0 + 2 * (span // 2 + 1))
    world.sync()
    assert replicas(world) > 6  # the rate is read over the whole window, not left out as too old


def test_replicas_max_bounds_the_scale_up():
    world, counters = warm(replicas={"min": 1, "max": 5, "count": 2}), Counters()
    loop = fast(world, counters)
    loop.tick(100.0)
    counters.count = 6000.0  # 1,000 req/s needs 20
    loop.tick(106.0)
    world.sync()
    assert replicas(world) == 5


@pytest.mark.parametrize(
    "spec",
    [
        {"autoscaling": {"burst": {"fastSignal": {"enabled": False}}}},
        {"autoscaling": {"mode": "recommend"}},
        {"metrics": {"requestRate": "sum(rate(x{namespace={namespace},app={app}}[{window}]))"}},
    ],
)
def test_apps_that_do_not_use_the_signal_are_never_read(spec):
    world, counters = warm(**spec), Counters()
    loop = fast(world, counters)
    loop.tick(100.0)
    assert counters.asked == [[]]


def test_a_provider_service_app_is_never_read():
    world = World(swa(replicas={"min": 1, "max": 20, "count": 2}))
    running(world)
    world.kube.add(lb_pod())
    world.sync()
    counters = Counters()
    fast(world, counters).tick(100.0)
    assert counters.asked == [[]]


def test_a_pod_that_does_not_answer_is_left_out_and_no_reading_means_no_decision():
    world, counters = warm(), Counters()
    loop = fast(world, counters)
    counters.count = None
    loop.tick(100.0)
    loop.tick(102.0)
    world.sync()
    assert replicas(world) == 2 and not loop.readings


def test_the_turn_lengthens_the_staleness_allowed():
    world, counters = warm(), Counters()
    loop = fast(world, counters, budget=1)
    loop.tick(100.0)
    assert loop.turn == 1 and loop.stale() == 8.0
    world.kube.add(lb_pod("shop-haproxy-abc-2", "10.1.2.4"))
    world.sync()
    loop.tick(102.0)
    assert loop.turn == 2 and loop.stale() == 16.0
    assert [len(a) for a in counters.asked] == [1, 2]  # one app: its two pods, even over the budget


def test_the_polls_never_go_below_the_panic_while_it_lasts():
    down = {"stabilizationWindow": "0s", "rateWindow": "0s"}  # a poll would otherwise scale down at once
    world, counters = warm(autoscaling={"behavior": {"scaleDown": down}}), Counters()
    loop = fast(world, counters)
    loop.tick(100.0)
    counters.count = 6000.0  # 1,000 req/s needs 20 pods >= 3 x 2
    loop.tick(106.0)
    world.sync()
    assert replicas(world) == 20
    scaler = loop.autoscaler
    # a poll that reads little load (Prometheus lags) would scale down: the panic holds it at 20
    decision = scaler.act(world.app(), busy(50.0), 107.0)
    assert decision is not None and decision.replicas == 20 and decision.reason == "BurstMode"
    assert "still needs 20 pods" in decision.message


def test_a_panic_no_longer_read_stops_holding_the_polls():
    down = {"stabilizationWindow": "0s", "rateWindow": "0s"}
    world, counters = warm(autoscaling={"behavior": {"scaleDown": down}}), Counters()
    loop = fast(world, counters)
    loop.tick(100.0)
    counters.count = 6000.0
    loop.tick(106.0)
    world.sync()
    assert replicas(world) == 20
    # the fast signal stops reading the app (its HAProxy pods went silent): 10 s on, the polls decide again
    decision = loop.autoscaler.act(world.app(), busy(50.0), 116.5)
    assert decision is not None and decision.replicas < 20 and decision.reason != "BurstMode"


def test_the_decision_is_taken_under_the_apps_lock():
    world, counters = warm(), Counters()
    held: list[tuple[str, bool]] = []

    class Lock:
        def __init__(self, ref):
            self.ref = ref

        def __enter__(self):
            held.append((self.ref.name, True))

        def __exit__(self, *exc):
            held.append((self.ref.name, False))

    scaler = Autoscaler(world.kube, world.view, SETTINGS.status_quantum)
    original = scaler.panic

    def panic(app, rate, now):
        assert held and held[-1] == ("shop", True), "panic ran without the app's lock"
        return original(app, rate, now)

    scaler.panic = panic  # type: ignore[method-assign]
    loop = FastSignal(scaler, world.view, lambda: [world.app()], 2.0, 200, counters, locks=Lock)
    loop.tick(100.0)
    counters.count = 6000.0
    loop.tick(106.0)
    world.sync()
    assert replicas(world) == 20 and held == [("shop", True), ("shop", False)]


def test_held_by_panic_only_ever_raises_within_the_bounds():
    world = warm()
    scaler = Autoscaler(world.kube, world.view)
    decision = scaler.act(world.app(), busy(50.0), 100.0)
    assert decision is not None
    spec = world.app().valid_spec
    low = replace(decision, replicas=1, from_replicas=3)
    held = held_by_panic(spec, low, Panic(since=99.0, most=30))
    assert held.replicas == 20 and held.message.endswith("scaling 3 -> 20")  # replicas.max 20
    assert held_by_panic(spec, replace(decision, replicas=9), Panic(since=99.0, most=4)).replicas == 9


def test_off_at_zero_interval(monkeypatch):
    import asyncio

    world, counters = warm(), Counters()
    loop = fast(world, counters)
    loop.interval = 0
    asyncio.run(fast_signal.fast_loop(loop, lambda: True))  # returns at once: off
    assert counters.asked == []


@pytest.mark.parametrize("window", ["1s", "500ms", "61s", "2m"])
def test_a_window_outside_2s_to_1m_is_refused_with_where_it_is(window):
    from pydantic import ValidationError

    from webscale.api.models import ScaledWebAppSpec

    with pytest.raises(ValidationError, match=r"autoscaling.burst.fastSignal.window must be between 2s and 1m"):
        ScaledWebAppSpec.model_validate({"image": "x:1", "autoscaling": {"burst": {"fastSignal": {"window": window}}}})
