"""Quantiles of a Prometheus histogram between two scrapes of an exporter (pure).

    lag = quantiles(before, after, "webscale_decision_lag_seconds")   # {0.5: 0.61, 0.99: 1.4}

Samples are `OperatorProcess.metrics()` dicts: (sample name, sorted labels) -> value. The quantile is
interpolated linearly within its bucket, as PromQL's histogram_quantile does; one that falls in the
+Inf bucket is reported as the last finite bound (a lower bound on the truth).
"""

from __future__ import annotations

import math

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def buckets(
    before: Samples, after: Samples, name: str, where: dict[str, str] | None = None
) -> list[tuple[float, float]]:
    """(upper bound, cumulative count observed between the scrapes), by bound, summed over the
    histogram's label sets (only those that have every label of `where`, when given)."""
    bucket = f"{name}_bucket"
    by_bound: dict[float, float] = {}
    for (sample, labels), value in after.items():
        if sample != bucket or not (where or {}).items() <= dict(labels).items():
            continue
        bound = float(dict(labels)["le"])
        by_bound[bound] = by_bound.get(bound, 0.0) + value - before.get((sample, labels), 0.0)
    return sorted(by_bound.items())


def quantile(cumulative: list[tuple[float, float]], q: float) -> float:
    """The q-quantile of cumulative buckets (NaN when they hold no observation)."""
    count = cumulative[-1][1] if cumulative else 0.0
    if count <= 0:
        return math.nan
    rank, lower, below = q * count, 0.0, 0.0
    for upper, seen in cumulative:
        if seen >= rank:
            if math.isinf(upper):
                return lower
            inside = seen - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = upper, seen
    return lower


def quantiles(
    before: Samples,
    after: Samples,
    name: str,
    qs: tuple[float, ...] = (0.5, 0.99),
    where: dict[str, str] | None = None,
) -> dict[float, float]:
    cumulative = buckets(before, after, name, where)
    return {q: quantile(cumulative, q) for q in qs}
