"""The SPEC Research Group's elasticity metrics (Herbst et al., "Quantifying Cloud Performance and
Dependability: Taxonomy, Metric Design, and Emerging Challenges", ACM TOMPECS 2018; the BUNGEE
elasticity benchmark), from per-second series of the pods needed d(t) and the pods supplied s(t)
over a run of T seconds:

* accuracy_U = sum over t of max(d - s, 0) / T: mean missing pods (under-provisioning);
* accuracy_O = sum over t of max(s - d, 0) / T: mean surplus pods (over-provisioning);
* timeshare_U / timeshare_O: the share of seconds with s < d / s > d;
* jitter = (adaptations of s - adaptations of d) per minute, an adaptation being a second whose
  value differs from the one before: negative, the supply follows too few of the demand's changes
  (too slow); positive, it changes more often than the demand (it oscillates).

Pure; the benchmark chooses what d and s are (see bench/scaling_frontier.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Elasticity:
    accuracy_under: float
    accuracy_over: float
    timeshare_under: float
    timeshare_over: float
    jitter_per_minute: float


def adaptations(series: Sequence[float]) -> int:
    """Seconds whose value differs from the second before."""
    return sum(1 for before, now in itertools.pairwise(series) if now != before)


def elasticity(demand: Sequence[float], supply: Sequence[float]) -> Elasticity:
    """The five metrics for per-second `demand` d(t) and `supply` s(t) of the same length."""
    if len(demand) != len(supply):
        raise ValueError(f"demand has {len(demand)} seconds and supply {len(supply)}: they must match")
    if not demand:
        raise ValueError("demand and supply are empty: the metrics need at least one second")
    seconds = len(demand)
    missing = [max(d - s, 0.0) for d, s in zip(demand, supply, strict=True)]
    surplus = [max(s - d, 0.0) for d, s in zip(demand, supply, strict=True)]
    return Elasticity(
        accuracy_under=sum(missing) / seconds,
        accuracy_over=sum(surplus) / seconds,
        timeshare_under=sum(1 for m in missing if m > 0) / seconds,
        timeshare_over=sum(1 for x in surplus if x > 0) / seconds,
        jitter_per_minute=(adaptations(supply) - adaptations(demand)) / (seconds / 60.0),
    )
