"""The panic rule on the fast in-band signal (a lever under test in the simulator)."""

from __future__ import annotations

from webscale.autoscaling.panic import Panic, panic_step
from webscale.simulate import Trace, World, simulate
from webscale.simulate.fast_signal import FastSignal
from webscale.simulate.webscale_policy import Webscale, default_spec

TARGET = 70.0  # req/s per pod


def test_no_panic_below_the_threshold_keeps_webscales_decision():
    # 490 req/s needs ceil(490 / 70) = 7 pods; panic needs 2 x 4 ready = 8: webscale's 5 stands.
    assert panic_step(5, 4, 490.0, TARGET, 2.0, 60, 100, Panic()) == (5, Panic())


def test_panic_sizes_for_the_fast_window_and_holds_until_its_condition_is_gone_for_hold():
    # 700 req/s needs 10 pods >= 2 x 4 ready: panic at t=100, 10 pods.
    wanted, state = panic_step(5, 4, 700.0, TARGET, 2.0, 60, 100, Panic())
    assert (wanted, state) == (10, Panic(100, 10))
    # Two seconds later the load is gone (140 req/s needs 2): still panicking, no scale-down.
    wanted, state = panic_step(5, 10, 140.0, TARGET, 2.0, 60, 102, state)
    assert (wanted, state) == (10, Panic(100, 10))
    # Webscale's own decision wins when it asks for more.
    assert panic_step(12, 10, 140.0, TARGET, 2.0, 60, 104, state)[0] == 12
    # 60 s after the condition was last seen it still holds (160 - 100 = 60); at 161 panic ends.
    assert panic_step(5, 10, 140.0, TARGET, 2.0, 60, 160, state) == (10, Panic(100, 10))
    assert panic_step(5, 10, 140.0, TARGET, 2.0, 60, 161, state) == (5, Panic())


def test_with_no_hold_panic_ends_at_the_first_tick_its_condition_is_gone():
    # 1,000 req/s needs 15 pods >= 3 x 4 ready: panic at t=100, 15 pods.
    wanted, state = panic_step(5, 4, 1000.0, TARGET, 3.0, 0, 100, Panic())
    assert (wanted, state) == (15, Panic(100, 15))
    # The pods are still starting (4 ready) and the load is a little lower: still 3x, still 15.
    wanted, state = panic_step(5, 4, 900.0, TARGET, 3.0, 0, 102, state)
    assert (wanted, state) == (15, Panic(102, 15))
    # Ready at last (15): the condition is gone, and with no hold webscale's own decision stands.
    assert panic_step(9, 15, 900.0, TARGET, 3.0, 0, 104, state) == (9, Panic())


def test_a_surge_is_met_before_the_next_poll():
    # 1 pod carries 70 req/s at the target; the load jumps from 50 to 400 req/s at t=20.
    world = World(startup_delay=2, scrape_interval=15, min_replicas=1, max_replicas=20, target_utilization=0.7)
    trace = Trace("surge", (50.0,) * 20 + (400.0,) * 40)
    spec = default_spec(world)
    plain = simulate(trace, Webscale(spec), world)
    fast = simulate(trace, FastSignal(Webscale(spec)), world)
    # The fast signal sees the surge within one 2 s tick (the 6 s window's mean reaches 2 x 1 pod's
    # 70 req/s at t=22) and its pods are ready 2 s later; Prometheus sees it a scrape or more later.
    assert fast.replicas[22] > 1
    assert fast.seconds_over < plain.seconds_over
