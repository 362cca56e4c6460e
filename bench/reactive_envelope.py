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

each at targets 0.50 to 1.00. The lower frontier of all of them (for each level of service, the best
member, chosen with hindsight) is the curve read against the HPA's and the KPA's points exactly as
webscale's curve is. Where even it needs more than 0.90x their pod-seconds, no policy that reacts
to a window of the rate the way these do meets the goal there. A check, not a proof: a policy outside
the family (a forecast that knows more than a window of the past) could.

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


def window_stats(rps: np.ndarray, window: int, bin_: int = BIN) -> tuple[np.ndarray, np.ndarray]:
    """At every second t, the mean and standard deviation of the per-second load over the `window`
    seconds that end with the last whole bin completed by t + 1 (fewer at the start)."""
    n = len(rps)
    c1 = np.concatenate([[0.0], np.cumsum(rps)])
    c2 = np.concatenate([[0.0], np.cumsum(rps * rps)])
    end = ((np.arange(n) + 1) // bin_) * bin_
    start = np.maximum(0, end - window)
    count = np.maximum(1, end - start)
    mean = (c1[end] - c1[start]) / count
    var = np.maximum(0.0, (c2[end] - c2[start]) / count - mean * mean)
    return mean, np.sqrt(var)


def held(values: np.ndarray, seconds: int) -> np.ndarray:
    """At every second, the most of `values` over the last `seconds` seconds (itself included)."""
    if seconds <= 0:
        return values
    padded = np.concatenate([np.full(seconds, values[0]), values])
    return sliding_window_view(padded, seconds + 1).max(axis=1)


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


ENVELOPE_TEXT = """\
**Is the goal reachable by reacting?** A family of idealised reactive policies (`bench/reactive_envelope.py`):
every second, exactly the pods a statistic of the in-band rate needs at the member's target (2 s
readings, 2 s late, as the KPA and the fast signal read it; no scrape, rate window, tolerance or
rate limit), with the engine's pods (ready one start-up after they are asked for, the newest removed
first). One window: the mean + 0, 1 or 2 standard deviations of the last 6, 30, 60, 120 or 300 s,
held 0, 60 or 300 s (the most asked for in that time, as the HPA's stabilisation window holds).
Two windows, the KPA's panic: the mean of the last 60, 120 or 300 s, or of the last 6 s when that is
above 1, 1.5 or 2 times it, held 0 or 60 s. Each at targets 0.50 to 1.00. Their *envelope* is the
lower frontier of all of them together with every point swept above (webscale, its levers, the HPA,
KEDA and the KPA themselves, so it is never above 1.00x of a peer point): at each level of service
the best of them, chosen with hindsight per trace, so no single policy is as good. It is read against the HPA's
and the KPA's frontier (the better of the two at each level of service) as webscale's curve is in
the goal table. Where it needs more than 0.90x a peer point's
pod-seconds, no policy of the family and none swept here reaches the goal at that point, even
mixed with hindsight; a policy that sizes from what it has seen would have to beat all of them by
that margin, and one that knows more of the future than a window of the past could. A check, not a
proof."""


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
        "| peer points it reaches | of them above 0.90x | peer points beating it | goal met by the envelope |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    unreachable: dict[int, list[str]] = {s: [] for s in startups}
    for startup in startups:
        for t in labels:
            rps, bounds, oracle = inputs(t, startup)
            env, size = envelope_standing(rps, startup, bounds, oracle, peers(t, startup), known(t, startup))
            web = ours(t, startup)
            above = sum(r > 0.90 + 1e-12 for r in env.ratios)
            met = env.met(0.90)
            if not met:
                unreachable[startup].append(t)
            worst = "-" if web.worst is None else f"{web.worst:.2f}x ({len(web.ratios)})"
            lines.append(
                f"| {startup} s | {t}{' (tuned)' if t in tuned else ''} | {worst} | "
                f"{env.mean:.2f}x / {env.worst:.2f}x | {len(env.ratios)} of {len(peers(t, startup))} | {above} | "
                f"{len(env.beaten_by)} | {'yes' if met else 'no'} |"
            )
    summary = "; ".join(f"start-up {s} s: {', '.join(unreachable[s]) if unreachable[s] else 'none'}" for s in startups)
    return (
        f"The family has {size} members per trace and start-up. Traces where even the envelope "
        f"misses the goal: {summary}.\n\n" + "\n".join(lines)
    )
