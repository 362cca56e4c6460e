"""Autoscaling benchmark: every built-in trace through every policy of `webscale.simulate`.

Writes bench/results/scaling.md (tables, and a summary in which every figure is computed from the
runs: nothing in the prose is typed in by hand) and one plot per trace,
bench/results/scaling-<trace>.png. Deterministic: the same code gives the same files.

    .venv/bin/python bench/scaling.py
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webscale.api.models import seconds
from webscale.api.observation import Observation
from webscale.api.workers import workers_per_pod
from webscale.autoscaling.decide import Current, History, decide
from webscale.autoscaling.rules import TREND_CAP, TREND_READINGS
from webscale.simulate import BUILT_IN, POLICIES, Comparison, Run, World, compare
from webscale.simulate.engine import Load, Policy, View
from webscale.simulate.plot import plot
from webscale.simulate.report import markdown
from webscale.simulate.webscale_policy import Webscale, default_spec

RESULTS = Path(__file__).resolve().parent / "results"
PEERS = ("hpa", "keda", "kpa")
OUTAGE = (420.0, 780.0)
FAST = {"scrape_interval": 5, "rate_window": 20}
"""The 'fresher metrics' world: what changes against the default World."""

OURS = "webscale"
SHORT_WINDOW = "120s"
SHORT = f"webscale, {SHORT_WINDOW} window"
PREVIOUS_NAME = "webscale, previous defaults"
LEAD0 = "webscale, leadTime 0s"
RECENT = "webscale, recent for every scale-up"
PREVIOUS = {
    "scaleUp": {"leadTime": "0s"},
    "scaleDown": {"stabilizationWindow": "300s", "maxPercent": 50, "period": "60s"},
}
"""The scale-down and scale-up behaviour before the trend forecast and the HPA's scale-down rate."""


def variant(name: str, autoscaling: dict[str, Any]) -> Callable[[World], Policy]:
    """webscale with spec overrides: what-if rows, not the defaults."""
    return lambda world: Webscale(default_spec(world, autoscaling), name=name)


class RecentForScaleUp(Webscale):
    """What-if: the recent rate (last two scrapes) sizes EVERY scale-up, not only bursts.
    Not a spec knob, so it is emulated: decide on the windowed rate and on max(windowed, recent), and
    take the second only when it asks for more pods (the recent rate never sizes a scale-down)."""

    def step(self, state: History, view: View) -> tuple[int, History]:
        rate, recent = view.prometheus_rate(), view.prometheus_rate(2 * view.world.scrape_interval)
        plain = super().step(state, view)
        if rate is None or recent is None or recent <= rate:
            return plain
        workers = workers_per_pod(self.spec)
        current = Current(view.replicas, view.ready, workers, float(view.world.workers_per_pod))
        observation = Observation(at=view.now, requests_per_second=recent, pods_reporting=view.ready)
        fresh = decide(self.spec, observation, current, state, float(view.now), recent_rps=recent)
        return (fresh.replicas, fresh.history) if fresh.replicas > plain[0] else plain


VARIANTS: dict[str, Callable[[World], Policy]] = {
    SHORT: variant(SHORT, {"behavior": {"scaleDown": {"stabilizationWindow": SHORT_WINDOW}}}),
    PREVIOUS_NAME: variant(PREVIOUS_NAME, {"behavior": PREVIOUS}),
    LEAD0: variant(LEAD0, {"behavior": {"scaleUp": {"leadTime": "0s"}}}),
    RECENT: lambda world: RecentForScaleUp(default_spec(world), name=RECENT),
}


# --- numbers -------------------------------------------------------------------------------------


def pct(ours: float, theirs: float) -> str:
    return "n/a" if theirs == 0 else f"{(ours - theirs) / theirs * 100:+.1f} %"


def pods(value: float) -> str:
    return f"{value:,.0f}"


def listing(items: Iterable[str], empty: str = "none") -> str:
    """'a', 'a and b', 'a, b and c'; `empty` when there is nothing."""
    items = list(items)
    if not items:
        return empty
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def compared(mine: float, theirs: float, less: str = "less", more: str = "more", same: str = "the same") -> str:
    return same if mine == theirs else (less if mine < theirs else more)


def run_of(comparisons: list[Comparison], trace: str, policy: str) -> Run:
    return next(c for c in comparisons if c.trace.name == trace).score(policy).run


def sample(comparisons: list[Comparison], trace: str, policy: str) -> str:
    """'826 s over capacity at 18,225 pod-seconds' for one policy on one trace."""
    run = run_of(comparisons, trace, policy)
    return f"{run.seconds_over:,} s over capacity at {pods(run.pod_seconds)} pod-seconds"


def less_time(c: Comparison, ours: str, peer: str) -> bool:
    return c.score(ours).run.seconds_over < c.score(peer).run.seconds_over


def no_more_cost(c: Comparison, ours: str, peer: str) -> bool:
    return c.score(ours).run.pod_seconds <= c.score(peer).run.pod_seconds


def meets(c: Comparison, ours: str, peer: str) -> bool:
    return less_time(c, ours, peer) and no_more_cost(c, ours, peer)


Test = Callable[[Comparison, str, str], bool]


def count(comparisons: list[Comparison], ours: str, test: Test = meets) -> int:
    return sum(test(c, ours, peer) for c in comparisons for peer in PEERS)


def pairs(comparisons: list[Comparison], ours: str, test: Test = meets) -> list[str]:
    return [f"{c.trace.name} vs {peer}" for c in comparisons for peer in PEERS if test(c, ours, peer)]


@dataclass(frozen=True)
class CostSplit:
    """Where the pod-seconds of `ours` minus a peer's went, second by second.

    while_over: extra pods of ours in seconds when the peer ran over capacity (pods that served
    load the peer could not); otherwise: extra pods in the other seconds; fewer: pods ours had less.
    """

    total: float
    while_over: float
    otherwise: float
    fewer: float


def cost_split(c: Comparison, ours: str, peer: str) -> CostSplit:
    mine, theirs, load = c.score(ours).run, c.score(peer).run, c.trace.rps
    while_over = otherwise = fewer = 0.0
    for second, offered in enumerate(load):
        extra = mine.replicas[second] - theirs.replicas[second]
        if extra < 0:
            fewer -= extra
        elif offered > theirs.capacity[second] + 1e-9:  # the engine's own test for "over capacity"
            while_over += extra
        else:
            otherwise += extra
    return CostSplit(mine.pod_seconds - theirs.pod_seconds, while_over, otherwise, fewer)


def jump(c: Comparison) -> int:
    """The second of the largest one-second rise in load."""
    rps = c.trace.rps
    return max(range(1, len(rps)), key=lambda s: rps[s] - rps[s - 1])


def reaction(run: Run, at: int) -> int | None:
    """Seconds from `at` until the policy first changed its replica count (None: never)."""
    return next((s - at for s in range(max(at, 1), len(run.replicas)) if run.replicas[s] != run.replicas[s - 1]), None)


# --- tables --------------------------------------------------------------------------------------


def verdict_table(comparisons: list[Comparison], ours: str = OURS) -> str:
    """One row per trace and peer: time over capacity, cost, and whether the goal is met."""
    lines = [
        f"| trace | vs | s over capacity ({ours} / peer) | cost vs peer | less time over at no more cost? |",
        "|---|---|---:|---:|---|",
    ]
    for c in comparisons:
        mine = c.score(ours).run
        for peer in PEERS:
            theirs = c.score(peer).run
            time = compared(mine.seconds_over, theirs.seconds_over)
            cost = "no more cost" if no_more_cost(c, ours, peer) else "more cost"
            verdict = "**yes**" if meets(c, ours, peer) else f"no: {time} time over, {cost}"
            lines.append(
                f"| {c.trace.name} | {peer} | {mine.seconds_over:,} / {theirs.seconds_over:,} | "
                f"{pct(mine.pod_seconds, theirs.pod_seconds)} | {verdict} |"
            )
    return "\n".join(lines)


def overview_table(rows: list[tuple[str, list[Comparison], str]]) -> str:
    """Per configuration: pairs where the goal is met, where time over is less, where cost is no more."""
    total = len(rows[0][1]) * len(PEERS)
    lines = [
        "| configuration | goal met | less time over capacity | no more cost |",
        "|---|---:|---:|---:|",
    ]
    for label, comparisons, ours in rows:
        lines.append(
            f"| {label} | **{count(comparisons, ours)} of {total}** | {count(comparisons, ours, less_time)} of {total} | "
            f"{count(comparisons, ours, no_more_cost)} of {total} |"
        )
    return "\n".join(lines)


def cost_table(comparisons: list[Comparison], ours: str = OURS) -> str:
    lines = [
        "| trace | vs | pod-seconds, webscale - peer | extra pods while the peer was over capacity | "
        "extra pods at other times | pods fewer than the peer |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for c in comparisons:
        for peer in PEERS:
            split = cost_split(c, ours, peer)
            lines.append(
                f"| {c.trace.name} | {peer} | {split.total:+,.0f} | {pods(split.while_over)} | "
                f"{pods(split.otherwise)} | {pods(split.fewer)} |"
            )
    return "\n".join(lines)


def window_table(comparisons: list[Comparison], long: str, short: str) -> str:
    lines = [
        f"| trace | s over capacity, {long} / {short} window | pod-seconds, {long} / {short} window | "
        f"what the {long} window costs |",
        "|---|---:|---:|---:|",
    ]
    for c in comparisons:
        a, b = c.score(OURS).run, c.score(SHORT).run
        lines.append(
            f"| {c.trace.name} | {a.seconds_over:,} / {b.seconds_over:,} | {pods(a.pod_seconds)} / "
            f"{pods(b.pod_seconds)} | {pct(a.pod_seconds, b.pod_seconds)} |"
        )
    return "\n".join(lines)


def outage_table(normal: Comparison, outage: Comparison) -> str:
    """Each policy on the step with and without the Prometheus outage."""
    lines = [
        "| policy | s over capacity, no outage | s over capacity, outage | pod-seconds, no outage | pod-seconds, outage |",
        "|---|---:|---:|---:|---:|",
    ]
    for score in outage.scores:
        before, after = normal.score(score.policy).run, score.run
        lines.append(
            f"| {score.policy} | {before.seconds_over:,} | {after.seconds_over:,} | "
            f"{pods(before.pod_seconds)} | {pods(after.pod_seconds)} |"
        )
    return "\n".join(lines)


# --- prose ---------------------------------------------------------------------------------------


def per_second(duration: str) -> str:
    return f"{seconds(duration):g} s"


def hpa_policies(policies: Iterable[tuple[str, int, int]], sign: str) -> str:
    unit = {"Percent": " %", "Pods": " pods"}
    return " or ".join(f"{sign}{value}{unit[kind]} per {period} s" for kind, value, period in policies)


def configuration(world: World) -> dict[str, str]:
    """The setup paragraph's figures, read from the default spec and the peer models."""
    auto = default_spec(world).autoscaling
    up, down = auto.behavior.scale_up, auto.behavior.scale_down
    poll, lead = seconds(auto.polling_interval), seconds(up.lead_time)
    hpa, keda, kpa = (POLICIES[name](world) for name in PEERS)
    return {
        "ws_poll": per_second(auto.polling_interval),
        "ws_tolerance": f"{auto.tolerance:g}",
        "ws_up": f"+{up.max_pods} pods or +{up.max_percent} % per {per_second(up.period)}",
        "ws_lead": per_second(up.lead_time),
        "ws_window": per_second(down.stabilization_window),
        "ws_down": f"-{down.max_percent} % per {per_second(down.period)}",
        "ws_burst": f"{auto.burst.threshold:g}x",
        "ws_hold": per_second(auto.burst.hold),
        "trend_readings": str(TREND_READINGS),
        "horizon": f"{lead + poll:g} s",
        "trend_cap": f"{TREND_CAP * 100:g} %",
        "hpa_tolerance": f"{hpa.tolerance:g}",
        "hpa_up": f"window {hpa.scale_up_window} s, {hpa_policies(hpa.scale_up_policies, '+')}",
        "hpa_down": f"window {hpa.scale_down_window} s, {hpa_policies(hpa.scale_down_policies, '-')}",
        "hpa_sync": f"{hpa.interval} s",
        "keda_poll": f"{keda.polling_interval} s",
        "keda_fallback": f"failureThreshold {keda.failure_threshold}, replicas {keda.fallback_replicas}",
        "kpa_tick": f"{kpa.interval} s",
        "kpa_stable": f"{kpa.stable_window} s",
        "kpa_panic": f"{max(1, round(kpa.stable_window * kpa.panic_window_percentage / 100))} s",
        "kpa_threshold": f"{kpa.panic_threshold * 100:g} %",
        "kpa_rates": f"{kpa.max_scale_up_rate:g} up / {kpa.max_scale_down_rate:g} down",
    }


def outage_text(world: World, normal: Comparison, outage: Comparison) -> str:
    """What each policy did while Prometheus was away, from the two runs."""
    start, end = int(OUTAGE[0]), int(OUTAGE[1])
    needs = sorted({world.need(normal.trace.rps[s]) for s in range(start, end)})
    need = f"{needs[0]} pods throughout" if len(needs) == 1 else f"{needs[0]} to {needs[-1]} pods during"
    keda = POLICIES["keda"](world)

    def effect(policy: str) -> str:
        before, after = normal.score(policy).run, outage.score(policy).run
        if (before.seconds_over, before.pod_seconds) == (after.seconds_over, after.pod_seconds):
            return f"the outage costs it nothing ({before.seconds_over:,} s over capacity either way)"
        return (
            f"{before.seconds_over:,} -> {after.seconds_over:,} s over capacity, pod-seconds "
            f"{pct(after.pod_seconds, before.pod_seconds)}"
        )

    short = needs[-1] - keda.fallback_replicas
    keda_short = f"{short} pods short" if short > 0 else "not short of pods"
    return f"""\
The load needs {need} the outage. What each policy does when its metrics go away:

* **webscale** keeps the last good count (fallback `hold`; a failed poll never lowers replicas):
  {effect("webscale")}.
* **hpa** freezes the scale (ScalingActive=False): {effect("hpa")}.
* **keda** falls back to its fixed `replicas: {keda.fallback_replicas}` after {keda.failure_threshold} failed polls, so it
  runs {keda_short} for the rest of the outage (kedacore/keda#965, #4249): {effect("keda")}.
* **kpa** does not read Prometheus: {effect("kpa")}."""


def facts(comparisons: list[Comparison], peer: str, ours: str = OURS) -> str:
    """Where `ours` has less / the same / more time over capacity than `peer`, and its cost."""
    groups: dict[str, list[str]] = {"less": [], "the same": [], "more": []}
    for c in comparisons:
        mine, theirs = c.score(ours).run, c.score(peer).run
        groups[compared(mine.seconds_over, theirs.seconds_over)].append(
            f"{c.trace.name} ({mine.seconds_over:,} vs {theirs.seconds_over:,} s, cost "
            f"{pct(mine.pod_seconds, theirs.pod_seconds)})"
        )
    return "; ".join(f"{key} time over capacity on {listing(items)}" for key, items in groups.items() if items)


NAMES = {
    "hpa": "the HPA",
    "keda": "KEDA",
    "kpa": "KPA",
    OURS: "webscale (defaults)",
    SHORT: f"webscale with the {SHORT_WINDOW} window",
}


def paid_sooner(comparisons: list[Comparison], peer: str) -> str:
    """Where the defaults cost more than `peer`: how much of the extra fell while the peer was over capacity."""
    whole, partly = [], []
    for c in comparisons:
        split = cost_split(c, OURS, peer)
        if split.total <= 0:
            continue
        extra = split.while_over + split.otherwise
        if split.otherwise == 0:
            whole.append(f"{c.trace.name} ({pods(extra)} extra, net {split.total:+,.0f})")
        else:
            partly.append(f"{c.trace.name} ({pods(split.while_over)} of {pods(extra)})")
    name = NAMES[peer]
    parts = []
    if whole:
        parts.append(f"on {listing(whole)} every extra pod-second fell in a second when {name} was over capacity")
    if partly:
        parts.append(f"on {listing(partly)} part of it did, the rest came at other times (headroom)")
    return "; ".join(parts) if parts else f"webscale costs no more than {name} on any trace"


def cost_sentence(comparisons: list[Comparison], ours: str, total: int) -> str:
    cheap = pairs(comparisons, ours, no_more_cost)
    if not cheap:
        return f"but it costs more than the peer in every pair (no more cost in 0 of {total})"
    return f"and it costs no more than the peer in {len(cheap)} of {total} ({listing(cheap)})"


def window_text(comparisons: list[Comparison], window: str) -> str:
    saved = [(c.trace.name, c.score(OURS).run, c.score(SHORT).run) for c in comparisons]
    cheaper = [(name, (a.pod_seconds - b.pod_seconds) / a.pod_seconds * 100) for name, a, b in saved]
    cheaper = [(name, share) for name, share in cheaper if share > 0]
    where = "every trace" if len(cheaper) == len(saved) else listing(name for name, _ in cheaper)
    span = f"{min(x for _, x in cheaper):.1f} to {max(x for _, x in cheaper):.1f} % fewer pod-seconds on {where}"
    more = [
        f"{name} ({a.seconds_over:,} -> {b.seconds_over:,} s)"
        for name, a, b in saved
        if b.seconds_over > a.seconds_over
    ]
    less = [
        f"{name} ({a.seconds_over:,} -> {b.seconds_over:,} s)"
        for name, a, b in saved
        if b.seconds_over < a.seconds_over
    ]
    same = [name for name, a, b in saved if b.seconds_over == a.seconds_over]
    gap = seconds(window) - seconds(SHORT_WINDOW)
    parts = [f"the same on {listing(same)}" if same else "", f"more on {listing(more)}" if more else ""]
    parts.append(f"less on {listing(less)}" if less else "less on no trace")
    return (
        f"A {per_second(SHORT_WINDOW)} window lets the surplus go {gap:g} s sooner after each drop: "
        f"{span if cheaper else 'no fewer pod-seconds anywhere'}. Its time over capacity is "
        f"{'; '.join(x for x in parts if x)}."
    )


def reaction_text(comparisons: list[Comparison], world: World, peer: str = "kpa") -> str:
    """Where the defaults run over capacity longer than `peer`: who asked for pods how soon after the jump."""
    groups: dict[tuple[int, int | None, int | None, int, int], list[str]] = {}
    for c in comparisons:
        mine, theirs = c.score(OURS).run, c.score(peer).run
        if mine.seconds_over <= theirs.seconds_over:
            continue
        at = jump(c)
        key = (at, reaction(theirs, at), reaction(mine, at), theirs.seconds_over, mine.seconds_over)
        groups.setdefault(key, []).append(c.trace.name)
    parts = [
        f"on {listing(names)} the load jumps at second {at:,}; {NAMES[peer]} asks for pods {kp} s later, "
        f"webscale {ws} s later, and with {world.startup_delay} s of start-up that is {over_p:,} vs {over_w:,} s "
        f"over capacity"
        for (at, kp, ws, over_p, over_w), names in groups.items()
    ]
    return "; ".join(parts) if parts else f"webscale runs over capacity no longer than {NAMES[peer]} on any trace"


def kpa_cost_text(comparisons: list[Comparison]) -> str:
    ratios = [(c.trace.name, c.score("kpa")) for c in comparisons]
    low, high = min(s.cost_ratio or 0 for _, s in ratios), max(s.cost_ratio or 0 for _, s in ratios)
    under = [
        f"{name} ({s.cost_ratio:.2f}, {s.run.seconds_over:,} s over)" for name, s in ratios if (s.cost_ratio or 1) < 1
    ]
    return (
        f"Its cost/oracle is {low:.2f} to {high:.2f}, below 1 (cheaper than never running over capacity) "
        f"on {listing(under)}"
    )


def versus(comparisons: list[Comparison], trace: str, ours: str, peers: Iterable[str]) -> str:
    """'less time over capacity than the HPA (175 s, cost +0.9 %) and ...' for one trace."""
    mine = run_of(comparisons, trace, ours)
    parts = []
    for peer in peers:
        theirs = run_of(comparisons, trace, peer)
        parts.append(
            f"{compared(mine.seconds_over, theirs.seconds_over)} time over capacity than {NAMES.get(peer, peer)} "
            f"({mine.seconds_over:,} vs {theirs.seconds_over:,} s, cost {pct(mine.pod_seconds, theirs.pod_seconds)})"
        )
    return listing(parts)


def gains(before: list[Comparison], after: list[Comparison], policies: list[str]) -> str:
    """'for webscale on 3 of 5 traces, ...': where time over capacity fell from `before` to `after`."""
    parts = []
    for policy in policies:
        fell = sum(run_of(after, c.trace.name, policy).seconds_over < c.score(policy).run.seconds_over for c in before)
        parts.append(f"for {NAMES.get(policy, policy)} on {fell} of {len(before)} traces")
    return listing(parts)


def noise_text(comparisons: list[Comparison], trace: str, window: int) -> str:
    """How many of each policy's seconds over capacity fell while the mean load of the `window`
    seconds around them was within its ready capacity (noise, not a level the count missed)."""
    c = next(c for c in comparisons if c.trace.name == trace)
    load = Load.of(c.trace)
    parts, shares = [], []
    for policy, name in ((OURS, "webscale"), ("hpa", "the HPA"), ("keda", "KEDA")):
        run = c.score(policy).run
        over = [t for t in range(len(load)) if load.at(t) > run.capacity[t] + 1e-9]
        noise = [t for t in over if load.mean(t - window // 2, t + window // 2) <= run.capacity[t] + 1e-9]
        parts.append(f"{len(noise):,} of {name}'s {len(over):,}")
        shares.append(len(noise) / len(over) if over else 0.0)
    how = "mostly" if min(shares) > 0.5 else "partly"
    return (
        f"The time over capacity there is {how} noise above a pod count that matches the mean: "
        f"{listing(parts)} seconds over capacity fell while the mean load of the {window} s around them "
        f"was within the ready capacity"
    )


def in_parens(items: list[str]) -> str:
    return f" ({listing(items)})" if items else ""


def kpa_versus(comparisons: list[Comparison], short: str) -> str:
    """On which traces webscale (defaults, and the short window) costs no more than KPA."""
    mine = [c.trace.name for c in comparisons if no_more_cost(c, OURS, "kpa")]
    shorter = [c.trace.name for c in comparisons if no_more_cost(c, SHORT, "kpa")]
    if not mine and not shorter:
        return f"webscale costs more than KPA on every trace, with the defaults and with the {short} window"
    return (
        f"webscale costs no more than KPA on {listing(mine, 'no trace')} with the defaults, and on "
        f"{listing(shorter, 'no trace')} with the {short} window"
    )


def remaining_cost(comparisons: list[Comparison], ours: str, peers: Iterable[str] = ("hpa", "keda")) -> str:
    """The pairs where `ours` still costs more than an HPA-like peer, with the second-by-second split."""
    parts = []
    for c in comparisons:
        for peer in peers:
            split = cost_split(c, ours, peer)
            if split.total > 0:
                parts.append(
                    f"{c.trace.name} vs {NAMES[peer]} ({split.total:+,.0f} pod-seconds: {pods(split.while_over)} extra "
                    f"while {NAMES[peer]} was over capacity, {pods(split.otherwise)} at other times, "
                    f"{pods(split.fewer)} fewer)"
                )
    return listing(parts, "nowhere")


GLUE = re.compile(r"(\d) (%|s\b|req/s|pods?\b|pod-seconds)")


def reflow(text: str, width: int = 100) -> str:
    """Wrap the prose paragraphs and bullets of generated Markdown; tables, headings, code untouched."""
    out = []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        if any(line.startswith(("|", "#", "```", "    ")) for line in lines):
            out.append(block)
            continue
        items: list[list[str]] = []
        for line in lines:
            if line.startswith(("* ", "- ")) or not items:
                items.append([line.strip()])
            else:
                items[-1].append(line.strip())
        wrapped = []
        for item in items:
            joined = GLUE.sub("\\1\u00a0\\2", " ".join(item))  # a number and its unit stay on one line
            bullet = joined.startswith(("* ", "- "))
            wrapped.append(
                textwrap.fill(
                    joined,
                    width=width,
                    subsequent_indent="  " if bullet else "",
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
        out.append("\n".join(wrapped).replace("\u00a0", " "))
    return "\n\n".join(out)


def previous_text() -> str:
    up, down = PREVIOUS["scaleUp"], PREVIOUS["scaleDown"]
    forecast = "no forecast" if seconds(up["leadTime"]) == 0 else f"leadTime {per_second(up['leadTime'])}"
    return (
        f"{forecast}, {per_second(down['stabilizationWindow'])} window, "
        f"-{down['maxPercent']} % per {per_second(down['period'])}"
    )


def render(world: World) -> str:
    traces = [make() for make in BUILT_IN.values()]
    runs = compare(traces, list(POLICIES), world)
    for comparison in runs:
        plot(comparison, RESULTS / f"scaling-{comparison.trace.name}.png")
    outage = compare([BUILT_IN["step"]()], list(POLICIES), World(outages=(OUTAGE,)))
    fast_world = World(**FAST)
    fast = compare(traces, [OURS, SHORT, *PEERS], fast_world, VARIANTS)
    what_if = compare(traces, [OURS, *VARIANTS, *PEERS], world, VARIANTS)
    auto = default_spec(world).autoscaling
    window, short = per_second(auto.behavior.scale_down.stabilization_window), per_second(SHORT_WINDOW)
    total = len(runs) * len(PEERS)
    fast_label = f"{fast_world.scrape_interval} s scrapes, {fast_world.rate_window} s rate window"
    overview = overview_table(
        [
            (f"defaults (scale-down window {window})", what_if, OURS),
            (f"what-if: {short} window", what_if, SHORT),
            (f"what-if: previous defaults ({previous_text()})", what_if, PREVIOUS_NAME),
            ("what-if: leadTime 0s (no forecast)", what_if, LEAD0),
            ("what-if: recent rate for every scale-up", what_if, RECENT),
            (f"defaults, {fast_label}", fast, OURS),
            (f"{short} window, {fast_label}", fast, SHORT),
        ]
    )
    noisy = "noisy"
    return TEMPLATE.format(
        world=world,
        per_pod=world.per_pod,
        settle=world.rate_window - world.scrape_interval,
        **configuration(world),
        tables=markdown(runs),
        outage_start=OUTAGE[0] / 60,
        outage_end=OUTAGE[1] / 60,
        outage_text=outage_text(world, runs[0], outage[0]),
        outage_compare=outage_table(runs[0], outage[0]),
        outage_table=markdown(outage, level=4),
        n_traces=len(runs),
        n_peers=len(PEERS),
        total=total,
        overview=overview,
        window=window,
        short=short,
        goal=count(what_if, OURS),
        goal_short=count(what_if, SHORT),
        less=count(what_if, OURS, less_time),
        less_short=count(what_if, SHORT, less_time),
        met=in_parens(pairs(what_if, OURS)),
        met_short=in_parens(pairs(what_if, SHORT)),
        not_less=listing(pairs(what_if, OURS, lambda c, o, p: not less_time(c, o, p)), "none"),
        cost=cost_sentence(what_if, OURS, total),
        cost_short=cost_sentence(what_if, SHORT, total),
        vs_kpa_cost=kpa_versus(what_if, short),
        remaining=remaining_cost(what_if, SHORT),
        verdicts=verdict_table(what_if),
        short_verdicts=verdict_table(what_if, SHORT),
        previous=previous_text(),
        previous_verdicts=verdict_table(what_if, PREVIOUS_NAME),
        vs_hpa=facts(what_if, "hpa"),
        vs_keda=facts(what_if, "keda"),
        vs_kpa=facts(what_if, "kpa"),
        paid_hpa=paid_sooner(what_if, "hpa"),
        paid_keda=paid_sooner(what_if, "keda"),
        cost_table=cost_table(what_if),
        window_text=window_text(what_if, auto.behavior.scale_down.stabilization_window),
        window_table=window_table(what_if, window, short),
        reaction=reaction_text(what_if, world),
        fast_reaction=(
            "the result is the same"
            if reaction_text(fast, fast_world) == reaction_text(what_if, world)
            else reaction_text(fast, fast_world)
        ),
        kpa_cost=kpa_cost_text(what_if),
        noise=noise_text(what_if, noisy, world.rate_window),
        noisy_now=versus(what_if, noisy, OURS, ["hpa", "keda", "kpa"]),
        noisy_short=versus(what_if, noisy, SHORT, ["hpa", "keda"]),
        noisy_recent=versus(what_if, noisy, RECENT, ["hpa", "keda"]),
        noisy_recent_cost=pct(run_of(what_if, noisy, RECENT).pod_seconds, run_of(what_if, noisy, OURS).pod_seconds),
        noisy_recent_time=pct(run_of(what_if, noisy, RECENT).seconds_over, run_of(what_if, noisy, OURS).seconds_over),
        ramp_lead0=sample(what_if, "ramp", LEAD0),
        ramp_now=sample(what_if, "ramp", OURS),
        ramp_hpa=sample(what_if, "ramp", "hpa"),
        diurnal_lead0=sample(what_if, "diurnal", LEAD0),
        diurnal_now=sample(what_if, "diurnal", OURS),
        diurnal_hpa=sample(what_if, "diurnal", "hpa"),
        fast_label=fast_label,
        fast_gains=gains(what_if, fast, [OURS, SHORT, "hpa", "keda"]),
        fast_goal=count(fast, OURS),
        fast_goal_short=count(fast, SHORT),
        fast_verdicts=verdict_table(fast),
        fast_short_verdicts=verdict_table(fast, SHORT),
        what_if_tables=markdown(what_if, level=4),
    )


def main() -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = reflow(render(World()))
    (RESULTS / "scaling.md").write_text(text, encoding="utf-8")
    print(f"wrote {RESULTS / 'scaling.md'} and {len(BUILT_IN)} plots", file=sys.stderr)
    return 0


TEMPLATE = """\
# Autoscaling benchmark: webscale vs HPA, KEDA, Knative KPA (simulated)

Generated by `bench/scaling.py` (`.venv/bin/python bench/scaling.py`); do not edit by hand. Every
figure below, in the tables and in the prose, is computed from the runs.
Every policy runs in the same simulated world (`webscale.simulate`): a pod carries load
{world.startup_delay} s after it is asked for; a ready pod carries {world.workers_per_pod} workers x \
{world.rps_per_worker:g} req/s; replicas {world.min_replicas}..{world.max_replicas}. Prometheus scrapes every \
{world.scrape_interval} s; webscale, the HPA and KEDA read `rate(...[{world.rate_window}s])` from it (the mean of the
samples inside the window, so a new level needs {settle} s to show fully);
Knative's KPA reads the pods directly every {kpa_tick}, as it does in a real cluster.

* **webscale**: `webscale.autoscaling.decide.decide` itself with the default ScaledWebApp spec ({ws_poll} poll,
  tolerance {ws_tolerance}, scale-up {ws_up} with `leadTime` {ws_lead}, scale-down window
  {ws_window} then {ws_down}, burst at {ws_burst} ready capacity with a {ws_hold} hold). It also reads
  the rate over the last two scrapes (`recent_rps`): it starts and sizes burst mode, and while the
  load rose at each of the last {trend_readings} polls, the line fitted through those readings, read
  {horizon} ahead (leadTime + poll, capped at +{trend_cap}), sizes scale-up.
* **hpa**: Kubernetes HPA v2, default behaviour (sync every {hpa_sync}, tolerance {hpa_tolerance}; scale-up
  {hpa_up}; scale-down {hpa_down}), External metric with an AverageValue target of
  {per_pod:g} req/s per pod.
* **keda**: the same HPA fed by KEDA's Prometheus scaler, pollingInterval {keda_poll}, fallback
  {{{keda_fallback}}}.
* **kpa**: Knative KPA defaults ({kpa_stable} stable / {kpa_panic} panic window, panic at {kpa_threshold},
  scale rates {kpa_rates}, a tick every {kpa_tick}), with the same {per_pod:g} req/s per pod as its
  effective target.
* **oracle**: knows the future and starts each pod {world.startup_delay} s before load needs it: the
  cheapest schedule that never runs over capacity. A cost/oracle below 1 means a policy saved
  pods by running over capacity.

Columns: pod-seconds (cost: every pod that exists, starting or ready), cost/oracle, seconds in
which the offered load exceeded the ready capacity, the requests above that capacity, and the
number of replica changes.

## Results

{tables}
Plots: `scaling-<trace>.png` (top: load and each policy's ready capacity; bottom: pods).

### step, with Prometheus unreachable from minute {outage_start:g} to {outage_end:g}

{outage_text}

{outage_compare}

{outage_table}
## Summary

The goal: less time over capacity than the HPA, KEDA and KPA at no more than their cost, on every
trace: {n_traces} traces x {n_peers} peers = {total} (trace, peer) pairs. In how many pairs each
configuration meets it, and each half of it:

{overview}

**With the defaults (scale-down window {window}, as the HPA's) the goal is met in {goal} of {total}
pairs**{met}. webscale runs over capacity for less time than the peer in {less} of {total}
pairs (not in: {not_less}), {cost}.

**With a {short} window (what-if) it is met in {goal_short} of {total}**{met_short}: less time
over capacity in {less_short} of {total}, {cost_short}.

Defaults:

{verdicts}

What-if, {short} window:

{short_verdicts}

What-if, previous defaults ({previous}):

{previous_verdicts}

Per peer, with the defaults. Against the HPA: {vs_hpa}. Against KEDA: {vs_keda}. Against KPA:
{vs_kpa}.

### Why the goal is met where it is, and not elsewhere

* **Less time over capacity is paid in pods, and the {window} window does not give them back.**
  webscale's pods come sooner than the HPA's and KEDA's (burst mode sizes a surge at the first
  poll that sees it; the trend forecast sizes a rising load for {horizon} ahead), which is why it
  runs over capacity for less time. Those pods cost pod-seconds, and with the default window
  webscale scales down as the HPA does ({window} window, then {ws_down}), so they are not offset
  by removing pods sooner after the load drops (last column: pods fewer than the peer). Against the HPA: {paid_hpa}. Against KEDA: {paid_keda}. Split second by
  second (an extra pod in a second when the peer was over capacity served load the peer could not):

{cost_table}

* **The {window} window costs pod-seconds after every drop.** {window_text} That setting alone
  turns {goal} pairs into {goal_short}. The default stays at {window} anyway: it is the Kubernetes
  HPA's default and the engine's specification; load must stay lower for that long before pods go,
  which guards against scaling down and then having to panic when the load comes back
  (knative/serving#15121). A shorter `behavior.scaleDown.stabilizationWindow` trades that safety
  for cost. Where the {short} window still costs more than the HPA or KEDA: {remaining}.

{window_table}

* **KPA reads the pods every {kpa_tick}** (where KPA runs over capacity for less time than
  webscale): {reaction}. A surge reaches webscale through Prometheus (a scrape every
  {world.scrape_interval} s), at its next poll (every {ws_poll}); no decision rule on that data
  can see it sooner. With fresher metrics ({fast_label}) webscale still decides once per poll:
  {fast_reaction}.
* **KPA's cost.** KPA removes pods on a {kpa_stable} *mean* read every {kpa_tick}, with no window
  that keeps the highest recommendation. {kpa_cost}. {vs_kpa_cost}.
* **Noise needs headroom (the noisy trace).** {noise}. Only headroom removes that, and headroom is pods. With the defaults webscale has {noisy_now}. With the {short} window it has
  {noisy_short}. Sizing every scale-up on the recent rate (a what-if, not applied: it would make
  every noisy scrape ask for pods that the window then keeps) changes time over capacity by
  {noisy_recent_time} for {noisy_recent_cost} pod-seconds against the defaults: {noisy_recent}.
* **Trend forecast (ramp, diurnal).** A pod asked for now serves only after its start-up, so on a
  rising load every decision sized on the present reading is short. Ramp: {ramp_lead0} with
  `leadTime: 0s`, {ramp_now} with the forecast (HPA: {ramp_hpa}). Diurnal: {diurnal_lead0}
  without, {diurnal_now} with (HPA: {diurnal_hpa}).

### Fresher metrics (not the decision engine)

With {fast_label}, time over capacity falls {fast_gains}. webscale then meets the goal in
{fast_goal} of {total} pairs with the defaults and {fast_goal_short} of {total} with the {short}
window. Defaults:

{fast_verdicts}

{short} window:

{fast_short_verdicts}

### What-if variants of webscale

The what-if runs, in the default world (their goal counts are in the first table of the summary):

{what_if_tables}"""


if __name__ == "__main__":
    raise SystemExit(main())
