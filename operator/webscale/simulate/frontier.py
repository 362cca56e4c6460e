"""Cost / service trade-off curves: compare autoscalers at the same level of service.

A policy that runs hotter is cheaper and more often short of capacity, so one operating point per
policy says little; sweeping each policy's target utilisation gives a curve of points (cost, time
under capacity), and the fair comparison is the cost each needs for the same time under capacity
(iso-service cost). Pure functions; `bench/scaling_frontier.py` runs the sweep.

* A point dominates another when it is no worse on both axes and better on one.
* The lower frontier of a set of points is the points no other point dominates, sorted by time
  under capacity (ascending), so their cost falls strictly.
* `cost_at(frontier, under)` reads the curve at a level of service by linear interpolation between
  the frontier's neighbouring points; outside the frontier's range of time under capacity the curve
  does not reach that level and the answer is None (no extrapolation).
* `iso_ratio` is the curve's cost at a peer point's time under capacity over the peer's cost
  (below 1: the curve is cheaper at that level of service).
* A peer point beats a curve when it dominates some point on it: it lies strictly below the curve
  where the curve reaches its level, or it has less time under capacity than the curve's best
  point at no more than that point's cost.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EPSILON = 1e-12


@dataclass(frozen=True)
class Point:
    """One run of a sweep: `cost` (pod-seconds, or pod-seconds over the oracle) and `under` (time
    under capacity, in any unit used alike for every point) at the policy's `target` utilisation."""

    target: float
    cost: float
    under: float


def dominates(a: Point, b: Point) -> bool:
    """`a` is no worse than `b` on both axes and better on at least one."""
    no_worse = a.cost <= b.cost + EPSILON and a.under <= b.under + EPSILON
    better = a.cost < b.cost - EPSILON or a.under < b.under - EPSILON
    return no_worse and better


def lower_frontier(points: Iterable[Point]) -> tuple[Point, ...]:
    """The points no other point dominates, by time under capacity ascending (cost descending).
    Of points equal on both axes, the one listed first stays."""
    ordered = sorted(points, key=lambda p: (p.under, p.cost))
    out: list[Point] = []
    for p in ordered:
        if out and p.cost >= out[-1].cost - EPSILON:
            continue  # out[-1] has no more time under capacity and no more cost
        out.append(p)
    return tuple(out)


def cost_at(frontier: Sequence[Point], under: float) -> float | None:
    """The cost the curve through `frontier` (from `lower_frontier`) needs for `under` time under
    capacity: linear between the two frontier points around it; None outside the curve's range."""
    if not frontier or under < frontier[0].under - EPSILON or under > frontier[-1].under + EPSILON:
        return None
    for left, right in itertools.pairwise(frontier):
        if left.under - EPSILON <= under <= right.under + EPSILON:
            share = (under - left.under) / (right.under - left.under)
            return left.cost + share * (right.cost - left.cost)
    return frontier[-1].cost  # a frontier of one point, at exactly its level


def iso_ratio(frontier: Sequence[Point], peer: Point) -> float | None:
    """The curve's cost at the peer point's time under capacity over the peer's cost; None where the
    curve does not reach that level of service (or the peer costs nothing)."""
    ours = cost_at(frontier, peer.under)
    return None if ours is None or peer.cost <= 0 else ours / peer.cost


def beats_curve(frontier: Sequence[Point], peer: Point) -> bool:
    """The peer point dominates some point on the curve through `frontier`."""
    if not frontier:
        return False
    ours = cost_at(frontier, peer.under)
    if ours is not None:
        return peer.cost < ours - EPSILON
    best = frontier[0]  # the least time under capacity, at the highest cost
    return peer.under < best.under and peer.cost <= best.cost + EPSILON


@dataclass(frozen=True)
class Standing:
    """Where a curve stands against a set of peer points (e.g. every point of the HPA and the KPA)."""

    ratios: tuple[float, ...]
    """iso_ratio at each peer point the curve reaches, in the peers' order."""
    unreached_better: int
    """Peer points with less time under capacity than any point of the curve."""
    unreached_worse: int
    """Peer points with more time under capacity than any point of the curve."""
    beaten_by: tuple[Point, ...]
    """Peer points that dominate some point of the curve."""

    @property
    def worst(self) -> float | None:
        return max(self.ratios) if self.ratios else None

    @property
    def mean(self) -> float | None:
        return sum(self.ratios) / len(self.ratios) if self.ratios else None

    def met(self, bound: float) -> bool:
        """Every reached peer point at most `bound` and no peer point beating the curve (False when
        the curve reaches no peer point: nothing was shown)."""
        return bool(self.ratios) and max(self.ratios) <= bound + EPSILON and not self.beaten_by


def standing(ours: Iterable[Point], peers: Iterable[Point]) -> Standing:
    """Our curve (the lower frontier of `ours`) against every point in `peers`."""
    frontier = lower_frontier(ours)
    ratios: list[float] = []
    better = worse = 0
    beaten: list[Point] = []
    for peer in peers:
        ratio = iso_ratio(frontier, peer)
        if ratio is not None:
            ratios.append(ratio)
        elif frontier and peer.under < frontier[0].under:
            better += 1
        elif frontier:
            worse += 1
        if beats_curve(frontier, peer):
            beaten.append(peer)
    return Standing(tuple(ratios), better, worse, tuple(beaten))
