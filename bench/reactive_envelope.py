"""How close can reacting get? The frontier of a family of idealised reactive policies.

Every policy in the family sees the in-band request rate the way the KPA and webscale's fast signal
do (2 s bins, read 2 s late) and asks, every second, for exactly the pods a statistic of it needs at
its target utilisation; nothing else stands in its way: no scrape, no rate window, no tolerance, no
rate limits. Its pods are the engine's: a pod carries load `startup` seconds after it is asked for,
and a scale-down removes the newest first, so the ready pods at second s are the fewest asked for
in [s - startup, s]; every pod asked for costs from that second on. The family:

* one window: the mean + k standard deviations of the last `w` seconds, held (the most of the
  last `h` seconds, as the HPA's stabilisation window holds its recommendations);
* two windows, the KPA's panic: the mean of the long window, or of the last 6 s when that is above
  `p` times it, held `h` seconds;

each at targets 0.50 to 1.00; and forecasts calibrated on their own errors:

* a level (the mean of the last `w` seconds) or a trend (the least-squares line through them,
  extended to the end of the start-up), times the `a`-quantile of how far the most load of the
  start-up that followed each earlier forecast was from it (the ratios of the last hour whose
  outcome is already known: a conformal prediction bound at the horizon that matters), held `h`
  seconds, at targets 0.80 to 1.00.

The lower frontier of all of them (for each level of service, the best member, chosen with
hindsight) is the curve read against the HPA's and the KPA's points exactly as webscale's curve is.
Where even it needs more than 0.90x their pod-seconds, no policy that sizes from the past the way
these do meets the goal there. A check, not a proof. What no policy can beat, however much of the
future it knows, is `any_policy_bound`.

numpy: a day of seconds times 693 members is too slow in pure Python.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from webscale.simulate.frontier import Point, Standing, standing

BIN = 2
"""Seconds per in-band reading (the KPA's tick, webscale's fast signal)."""
SENSE = 2
"""Seconds from a reading's end to the pods it asks for."""
ONE = [(w, k, h) for w in (6, 30, 60, 120, 300) for k in (0.0, 1.0, 2.0) for h in (0, 60, 300)]
"""One window: (window s, k standard deviations, held s)."""
PANIC_WINDOW = 6
TWO = [(w, p, h) for w in (60, 120, 300) for p in (1.0, 1.5, 2.0) for h in (0, 60)]
"""Two windows: (long window s, panic when the 6 s mean is above p x the long one, held s)."""
TARGETS = tuple(round(0.50 + 0.05 * i, 2) for i in range(11))
FORECAST = [
    (base, w, a, h)
    for base in ("level", "trend")
    for w in (6, 30, 60, 120, 300)
    for a in (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
    for h in (0, 60)
]
"""Forecasts: (level or trend, window s, quantile of the past errors, held s)."""
FORECAST_TARGETS = (0.8, 0.9, 1.0)
HISTORY = 3600
"""Seconds of past forecast errors a calibrated forecast reads."""
RECALIBRATE = 10
"""Seconds between two readings of the past errors' quantile."""
NO_HISTORY = 2.0
"""The factor on a forecast before any of its errors is known: twice it."""


def _windows(n: int, window: int, bin_: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At every second t < n, the window read then: its start and end (exclusive), ending with the
    last whole bin completed by t + 1, and its length (at least 1)."""
    end = ((np.arange(n) + 1) // bin_) * bin_
    start = np.maximum(0, end - window)
    return start, end, np.maximum(1, end - start)


def _window_means(values: np.ndarray, start: np.ndarray, end: np.ndarray, count: np.ndarray) -> np.ndarray:
    sums = np.concatenate([[0.0], np.cumsum(values)])
    return (sums[end] - sums[start]) / count


def window_stats(rps: np.ndarray, window: int, bin_: int = BIN) -> tuple[np.ndarray, np.ndarray]:
    """At every second t, the mean and standard deviation of the per-second load over the `window`
    seconds that end with the last whole bin completed by t + 1 (fewer at the start)."""
    start, end, count = _windows(len(rps), window, bin_)
    mean = _window_means(rps, start, end, count)
    var = np.maximum(0.0, _window_means(rps * rps, start, end, count) - mean * mean)
    return mean, np.sqrt(var)


def held(values: np.ndarray, seconds: int) -> np.ndarray:
    """At every second, the most of `values` over the last `seconds` seconds (itself included)."""
    if seconds <= 0:
        return values
    padded = np.concatenate([np.full(seconds, values[0]), values])
    return sliding_window_view(padded, seconds + 1).max(axis=1)


def trend(rps: np.ndarray, window: int, ahead: int, bin_: int = BIN) -> np.ndarray:
    """At every second t, the least-squares line through the per-second load of the window
    `window_stats` reads, at its last second and `ahead` seconds later, whichever is higher (a
    falling trend is not extended: the pods asked for now must carry the next seconds too)."""
    start, end, count = _windows(len(rps), window, bin_)
    mean = _window_means(rps, start, end, count)
    centre = (start + end - 1) / 2.0
    cov = _window_means(np.arange(len(rps), dtype=float) * rps, start, end, count) - centre * mean
    var = (count * count - 1) / 12.0
    slope = np.where(count > 2, cov / np.maximum(var, 1e-12), 0.0)
    last = mean + slope * (end - 1 - centre)
    return np.maximum(0.0, np.maximum(last, last + slope * ahead))


def future_max(rps: np.ndarray, horizon: int) -> np.ndarray:
    """At every second t, the most load of seconds t..t + horizon (the trace's last value beyond it)."""
    padded = np.concatenate([rps, np.full(horizon, rps[-1])])
    return sliding_window_view(padded, horizon + 1).max(axis=1)


def calibrated(
    rps: np.ndarray,
    forecast: np.ndarray,
    horizon: int,
    quantiles: Sequence[float],
    history: int = HISTORY,
    every: int = RECALIBRATE,
    bin_: int = BIN,
) -> np.ndarray:
    """Per quantile (rows) and second (columns): the factor a forecast made then is multiplied by:
    that quantile of the ratios (most load of the following `horizon` seconds over the forecast) of
    the forecasts made every `bin_` seconds in the last `history` seconds whose whole horizon has
    passed, read every `every` seconds; NO_HISTORY before any is known."""
    n = len(rps)
    ratio = (future_max(rps, horizon) / np.maximum(forecast, 1e-9))[::bin_]
    size = max(1, history // bin_)
    at = np.arange(0, n, every)
    known = np.clip((at - horizon) // bin_ + 1, 0, len(ratio))  # forecasts whose outcome is in
    padded = np.concatenate([np.full(size, np.nan), ratio])
    windows = sliding_window_view(padded, size)[known]  # the `size` forecasts before each
    qs = np.asarray(quantiles, dtype=float)
    factor = np.full((len(qs), len(at)), NO_HISTORY)
    full = known >= size
    if full.any():
        factor[:, full] = np.quantile(windows[full], qs, axis=1)
    partial = (known > 0) & ~full
    if partial.any():
        factor[:, partial] = np.nanquantile(windows[partial], qs, axis=1)
    return np.repeat(factor, every, axis=1)[:, :n]


def any_policy_bound(rps: Sequence[float], per_pod: float, low: int, under: float) -> float:
    """The fewest pod-seconds any policy, even one that knows the future and starts pods at no
    delay, pays for at most `under` % of seconds under capacity: the pods that carry each second's
    load at full capacity (at least `low`), except in the seconds that need the most, which it may
    leave short at `low` pods."""
    need = np.maximum(low, np.ceil(np.asarray(rps, dtype=float) / per_pod - 1e-9))
    short = int(under / 100.0 * len(need) + 1e-9)
    kept = np.sort(need)[: len(need) - short]
    return float(kept.sum() + low * short)


def run(rps: np.ndarray, want: np.ndarray, startup: int, per_pod: float, sense: int = SENSE) -> tuple[float, int]:
    """Pod-seconds and seconds under capacity of asking, at second q, for want[q - sense] pods."""
    asked = np.concatenate([np.full(sense, want[0]), want[: len(want) - sense]]) if sense else want
    ready = -held(-asked, startup)
    return float(asked.sum()), int((rps > ready * per_pod + 1e-9).sum())


def pods(load: np.ndarray, per_pod: float, target: float, low: int, high: int) -> np.ndarray:
    return np.clip(np.ceil(load / (per_pod * target) - 1e-9), low, high)


@dataclass(frozen=True)
class Bounds:
    per_pod: float
    low: int
    high: int


def family(rps: Sequence[float], startup: int, bounds: Bounds) -> list[tuple[str, float, int]]:
    """Every member at every target: (name, pod-seconds, seconds under capacity)."""
    x = np.asarray(rps, dtype=float)
    stats = {w: window_stats(x, w) for w in sorted({w for w, _, _ in ONE} | {w for w, _, _ in TWO} | {PANIC_WINDOW})}
    out = []
    for u in TARGETS:

        def need(load: np.ndarray, u: float = u) -> np.ndarray:
            return pods(load, bounds.per_pod, u, bounds.low, bounds.high)

        for w, k, h in ONE:
            mean, sd = stats[w]
            cost, under = run(x, held(need(mean + k * sd), h), startup, bounds.per_pod)
            out.append((f"mean+{k:g}sd of {w} s, held {h} s, target {u:.2f}", cost, under))
        short = stats[PANIC_WINDOW][0]
        for w, p, h in TWO:
            long_ = stats[w][0]
            load = np.where(short > p * long_, np.maximum(short, long_), long_)
            cost, under = run(x, held(need(load), h), startup, bounds.per_pod)
            out.append((f"{w} s, panic at {p:g}x, held {h} s, target {u:.2f}", cost, under))
    out += forecasts(x, startup, bounds)
    return out


def forecasts(x: np.ndarray, startup: int, bounds: Bounds) -> list[tuple[str, float, int]]:
    """The calibrated forecasts, each at FORECAST_TARGETS: the pods asked for now serve from one
    start-up (and the reading's age) on, so each forecasts the most load until then."""
    horizon = startup + SENSE
    quantiles = sorted({a for _, _, a, _ in FORECAST})
    out = []
    for base in ("level", "trend"):
        for w in sorted({w for b, w, _, _ in FORECAST if b == base}):
            guess = window_stats(x, w)[0] if base == "level" else trend(x, w, horizon)
            factors = dict(zip(quantiles, calibrated(x, guess, horizon, quantiles), strict=True))
            for b, ww, a, h in FORECAST:
                if (b, ww) != (base, w):
                    continue
                for u in FORECAST_TARGETS:
                    want = held(pods(guess * factors[a], bounds.per_pod, u, bounds.low, bounds.high), h)
                    cost, under = run(x, want, startup, bounds.per_pod)
                    out.append((f"{base} of {w} s x its q{a:g} error, held {h} s, target {u:.2f}", cost, under))
    return out


def envelope_standing(
    rps: Sequence[float],
    startup: int,
    bounds: Bounds,
    oracle: float,
    peers: Sequence[Point],
    known: Sequence[Point] = (),
) -> tuple[Standing, int]:
    """The lower frontier of the family's members and the `known` points (cost over `oracle`, % of
    seconds under capacity, as the peers' points) against the peer points; and the family's size."""
    members = family(rps, startup, bounds)
    points = [Point(0.0, cost / oracle, 100.0 * under / len(rps)) for _, cost, under in members]
    return standing([*points, *known], peers), len(members)


def member_curves(members: Sequence[tuple[str, float, int]], oracle: float, seconds: int) -> dict[str, list[Point]]:
    """Each member of the family as a policy swept over its targets: its points by the member's name
    without the target (cost over `oracle`, % of `seconds` under capacity)."""
    curves: dict[str, list[Point]] = {}
    for name, cost, under in members:
        policy, target = name.rsplit(", target ", 1)
        curves.setdefault(policy, []).append(Point(float(target), cost / oracle, 100.0 * under / seconds))
    return curves


def rank(stand: Standing) -> tuple[bool, int, float, int]:
    """How a single policy's curve is ranked against the peers: one that reaches no peer point
    shows nothing and comes last; then the fewest peer points beating it, the lowest worst
    iso-service cost, the most peer points reached."""
    return stand.worst is None, len(stand.beaten_by), stand.worst or 0.0, -len(stand.ratios)


def best_single(standings: dict[str, Standing]) -> tuple[str, Standing]:
    """The one member whose own curve ranks best (`rank`): chosen with hindsight, but not mixed."""
    name = min(standings, key=lambda n: (rank(standings[n]), n))
    return name, standings[name]


def chosen_on(tuning: Sequence[dict[str, Standing]]) -> str:
    """The member a tuning procedure would pick: the best worst `rank` over the tuning traces."""
    names = set.intersection(*(set(s) for s in tuning))
    return min(names, key=lambda n: (max(rank(s[n]) for s in tuning), n))


ENVELOPE_TEXT = """\
**Is the goal reachable by reacting, or by forecasting?** A family of idealised policies
(`bench/reactive_envelope.py`): every second, exactly the pods a statistic of the in-band rate needs
at the member's target (2 s readings, 2 s late, as the KPA and the fast signal read it; no scrape,
rate window, tolerance or rate limit), with the engine's pods (ready one start-up after they are
asked for, the newest removed first). One window: the mean + 0, 1 or 2 standard deviations of the
last 6, 30, 60, 120 or 300 s, held 0, 60 or 300 s (the most asked for in that time, as the HPA's
stabilisation window holds). Two windows, the KPA's panic: the mean of the last 60, 120 or 300 s,
or of the last 6 s when that is above 1, 1.5 or 2 times it, held 0 or 60 s. Each at targets 0.50 to
1.00. And forecasts calibrated on their own errors: the level (the mean of the last 6 to 300 s) or
the trend (the least-squares line through them, extended to the end of the start-up), times the
0.5 to 0.99 quantile of how far the most load of the start-up after each of its forecasts of the
last hour was from it (a conformal prediction bound at exactly the horizon a new pod has to cover),
held 0 or 60 s, at targets 0.80 to 1.00. Their *envelope* is the lower frontier of all of them
together with every point swept above (webscale, its levers, the HPA, KEDA and the KPA themselves,
so it is never above 1.00x of a peer point): at each level of service the best of them, chosen with
hindsight per trace, so no single policy is as good. It is read against the HPA's and the KPA's
frontier (the better of the two at each level of service) as webscale's curve is in the goal table.
Where it needs more than 0.90x a peer point's pod-seconds, no member and no policy swept here
reaches the goal at that point, even mixed with hindsight. A check, not a proof: a policy that
sizes from the past would have to beat all of them by that margin. *Any policy's bound* is what
none can beat, however much of the future it knows: the pods that carry each second's load at full
capacity with no start-up, except in the seconds that need the most, as many as the peer point
spends under capacity (each at the floor of one pod); a peer point where even that is above 0.90x
is out of every policy's reach."""


def envelope_table(
    labels: Sequence[str],
    tuned: set[str],
    startups: Sequence[int],
    peers: Callable[[str, int], Sequence[Point]],
    ours: Callable[[str, int], Standing],
    inputs: Callable[[str, int], tuple[Sequence[float], Bounds, float]],
    known: Callable[[str, int], Sequence[Point]],
) -> str:
    """Per start-up and trace: webscale's worst against the HPA and the KPA, and the envelope's.
    `peers(t, s)`: their frontier's points; `ours(t, s)`: webscale's standing against them; `inputs(t, s)`:
    the trace's load, the world's pods and the oracle's pod-seconds; `known(t, s)`: every point
    swept (the peers' own among them), which the envelope includes."""
    lines = [
        "| start-up | trace | webscale's curve: worst (peer points reached) | envelope: mean / worst "
        "| peer points it reaches | of them above 0.90x | peer points beating it | goal met by the envelope "
        "| any policy's bound: worst | out of every policy's reach | the best single member, chosen per trace |",
        "|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    unreachable: dict[int, list[str]] = {s: [] for s in startups}
    singles: dict[tuple[int, str], dict[str, Standing]] = {}
    for startup in startups:
        for t in labels:
            rps, bounds, oracle = inputs(t, startup)
            members = family(rps, startup, bounds)
            size = len(members)
            points = [Point(0.0, cost / oracle, 100.0 * under / len(rps)) for _, cost, under in members]
            env = standing([*points, *known(t, startup)], peers(t, startup))
            curves = member_curves(members, oracle, len(rps))
            singles[(startup, t)] = {n: standing(c, peers(t, startup)) for n, c in curves.items()}
            one, alone = best_single(singles[(startup, t)])
            web = ours(t, startup)
            above = sum(r > 0.90 + 1e-12 for r in env.ratios)
            met = env.met(0.90)
            if not met:
                unreachable[startup].append(t)
            worst = "-" if web.worst is None else f"{web.worst:.2f}x ({len(web.ratios)})"
            bound = [
                any_policy_bound(rps, bounds.per_pod, bounds.low, p.under) / oracle / p.cost for p in peers(t, startup)
            ]
            beyond = sum(b > 0.90 + 1e-12 for b in bound)
            lines.append(
                f"| {startup} s | {t}{' (tuned)' if t in tuned else ''} | {worst} | "
                f"{env.mean:.2f}x / {env.worst:.2f}x | {len(env.ratios)} of {len(peers(t, startup))} | {above} | "
                f"{len(env.beaten_by)} | {'yes' if met else 'no'} | {max(bound, default=0.0):.2f}x | {beyond} | "
                f"{_worst(alone)}, {len(alone.beaten_by)} beating ({one}) |"
            )
    summary = "; ".join(f"start-up {s} s: {', '.join(unreachable[s]) if unreachable[s] else 'none'}" for s in startups)
    chosen = [
        "| start-up | member chosen on the tuning traces | "
        + " | ".join(f"{t}{' (tuned)' if t in tuned else ''}" for t in labels)
        + " |",
        "|---:|---|" + "---:|" * len(labels),
    ]
    for startup in startups:
        name = chosen_on([singles[(startup, t)] for t in labels if t in tuned])
        cells = [singles[(startup, t)][name] for t in labels]
        chosen.append(
            f"| {startup} s | {name} | " + " | ".join(f"{_worst(c)}, {len(c.beaten_by)} beating" for c in cells) + " |"
        )
    return (
        f"The family has {size} members per trace and start-up. Traces where even the envelope "
        f"misses the goal: {summary}.\n\n" + "\n".join(lines) + "\n\n" + SINGLE_TEXT + "\n\n" + "\n".join(chosen)
    )


def _worst(stand: Standing) -> str:
    return "- (0 reached)" if stand.worst is None else f"{stand.worst:.2f}x ({len(stand.ratios)} reached)"


SINGLE_TEXT = """\
The envelope mixes members with hindsight. A single member (one statistic, swept over its targets
as the policies are) is what an autoscaler could run: *the best single member, chosen per trace*
is the one whose own curve reaches a peer point, has the fewest peer points beating it, and then
the lowest worst iso-service cost on that trace, with hindsight (its worst, the peer points it
reaches, how many beat it, which).
Chosen the way the defaults are, on the tuning traces only (the member whose ranking on the worse
of the two is best), one member does this on every trace (worst iso-service cost against the HPA's and the KPA's
frontier, and how many of their points beat its curve; compare webscale's in the goal table):"""
