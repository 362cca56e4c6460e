"""The frontier arithmetic on hand-made points (every expected number worked out in the comments)."""

from __future__ import annotations

import pytest

from webscale.simulate.frontier import (
    Point,
    beats_curve,
    cost_at,
    dominates,
    iso_ratio,
    lower_frontier,
    standing,
)

A = Point(0.50, 1.20, 0.0)
B = Point(0.60, 1.10, 1.0)
C = Point(0.70, 1.15, 2.0)  # B has less cost (1.10) and less time under (1.0): C is dominated
D = Point(0.80, 1.00, 3.0)
E = Point(0.90, 0.90, 5.0)


def test_dominance_needs_no_worse_on_both_axes_and_better_on_one():
    assert dominates(B, C)
    assert not dominates(C, B)
    assert not dominates(A, B)  # A has less time under but more cost: a different trade
    assert not dominates(B, B)  # equal is not better
    assert dominates(Point(0.5, 1.0, 2.0), Point(0.6, 1.0, 3.0))  # same cost, less time under


def test_lower_frontier_drops_dominated_points_and_sorts_by_time_under():
    assert lower_frontier([E, C, A, D, B]) == (A, B, D, E)
    # Equal time under capacity: only the cheaper stays; equal on both axes: the first listed.
    twin = Point(0.55, 1.20, 0.0)
    assert lower_frontier([Point(0.6, 1.3, 0.0), A, twin]) == (A,)
    assert lower_frontier([]) == ()


def test_cost_at_interpolates_between_neighbours_and_does_not_extrapolate():
    frontier = lower_frontier([A, B, C, D, E])
    # Halfway from A (0.0, 1.20) to B (1.0, 1.10): 1.20 - 0.5 x 0.10 = 1.15.
    assert cost_at(frontier, 0.5) == pytest.approx(1.15)
    # Halfway from D (3.0, 1.00) to E (5.0, 0.90): 0.95.
    assert cost_at(frontier, 4.0) == pytest.approx(0.95)
    assert cost_at(frontier, 3.0) == pytest.approx(1.00)  # on a point
    assert cost_at(frontier, 5.0) == pytest.approx(0.90)  # the last point
    assert cost_at(frontier, 5.5) is None  # more time under than the curve ever has
    assert cost_at(frontier, -0.1) is None
    assert cost_at((B,), 1.0) == pytest.approx(1.10)  # one point reaches only its own level
    assert cost_at((B,), 1.5) is None
    assert cost_at((), 1.0) is None


def test_iso_ratio_is_our_cost_at_the_peers_level_over_the_peers_cost():
    frontier = lower_frontier([A, B, C, D, E])
    assert iso_ratio(frontier, Point(0.7, 1.00, 4.0)) == pytest.approx(0.95)  # 0.95 / 1.00
    assert iso_ratio(frontier, Point(0.7, 1.25, 0.5)) == pytest.approx(0.92)  # 1.15 / 1.25
    assert iso_ratio(frontier, Point(0.7, 0.50, 0.5)) == pytest.approx(2.30)  # 1.15 / 0.50
    assert iso_ratio(frontier, Point(0.7, 0.50, 9.0)) is None


def test_a_peer_beats_the_curve_below_it_or_left_of_its_best_point_at_no_more_cost():
    frontier = lower_frontier([B, D, E])
    assert beats_curve(frontier, Point(0.7, 1.00, 2.0))  # the curve needs 1.05 at 2.0
    assert not beats_curve(frontier, Point(0.7, 1.05, 2.0))  # on the curve: no better
    assert beats_curve(frontier, Point(0.7, 1.05, 0.5))  # less time under than B at less cost
    assert beats_curve(frontier, Point(0.7, 1.10, 0.5))  # less time under than B at B's cost
    assert not beats_curve(frontier, Point(0.7, 1.20, 0.5))  # less time under, but dearer than B
    assert not beats_curve(frontier, Point(0.7, 0.10, 9.0))  # cheaper, but more time under than E
    assert not beats_curve((), Point(0.7, 0.10, 0.0))


def test_standing_against_peer_points():
    peers = [
        Point(0.7, 1.00, 4.0),  # reached: 0.95 / 1.00 = 0.95
        Point(0.7, 1.05, 0.5),  # left of B (under 1.0), cheaper than B: unreached, and beats the curve
        Point(0.7, 1.20, 0.5),  # left of B, dearer: unreached, no beat
        Point(0.7, 0.50, 9.0),  # right of E (under 5.0): unreached
        Point(0.7, 1.00, 2.0),  # reached: the curve needs 1.05 -> 1.05, and beats it
    ]
    s = standing([B, C, D, E], peers)
    assert s.ratios == pytest.approx((0.95, 1.05))
    assert (s.unreached_better, s.unreached_worse) == (2, 1)
    assert s.beaten_by == (peers[1], peers[4])
    assert s.worst == pytest.approx(1.05)
    assert s.mean == pytest.approx(1.00)
    assert not s.met(0.90)
    # Only the first peer: 0.95 is within 1.0 but not within 0.90.
    one = standing([B, C, D, E], peers[:1])
    assert one.met(1.0) and not one.met(0.90)
    # Reaching no peer point shows nothing: not met.
    assert not standing([B, D, E], peers[3:4]).met(1.0)
