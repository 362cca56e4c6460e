"""Cold starts measured at the load balancer (autoscaling.cold_start), step by step."""

from __future__ import annotations

from webscale.autoscaling.cold_start import ColdStart, Measured, step


def test_a_cold_start_from_the_first_held_request_to_the_first_served():
    track, done = step(None, waiting=3, oldest=0.4, released=0, ready_pods=0, now=100.0)
    assert track == ColdStart(held_at=99.6) and done is None
    track, done = step(track, waiting=5, oldest=0.9, released=0, ready_pods=0, now=100.5)
    assert track == ColdStart(held_at=99.6) and done is None
    track, done = step(track, waiting=5, oldest=2.4, released=0, ready_pods=1, now=102.0)
    assert track == ColdStart(held_at=99.6, ready_at=102.0) and done is None
    track, done = step(track, waiting=0, oldest=0.0, released=5, ready_pods=1, now=102.5)
    assert track is None and done is not None
    assert (round(done.to_ready, 3), round(done.to_served, 3)) == (2.4, 2.9)


def test_nothing_held_nothing_tracked():
    assert step(None, waiting=0, oldest=0.0, released=0, ready_pods=0, now=1.0) == (None, None)


def test_a_start_seen_only_when_released_still_counts():
    # held and released between two reads: ready and served at the same read
    assert step(None, waiting=0, oldest=0.0, released=2, ready_pods=1, now=5.0) == (None, Measured(0.0, 0.0))


def test_timed_out_requests_end_the_track_without_a_measurement():
    track, _ = step(None, waiting=2, oldest=1.0, released=0, ready_pods=0, now=10.0)
    assert step(track, waiting=0, oldest=0.0, released=0, ready_pods=0, now=40.0) == (None, None)
