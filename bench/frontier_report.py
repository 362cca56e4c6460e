"""Tables, plots and the points file of the frontier sweep (bench/scaling_frontier.py).

`curves` maps (trace, start-up, policy) to that policy's sweep as `Point`s (cost = pod-seconds over
the oracle of the standard world, under = % of seconds under capacity), in target order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from webscale.simulate.elasticity import Elasticity
from webscale.simulate.frontier import Point, Standing, iso_ratio, lower_frontier, standing
from webscale.simulate.plot import COLOURS

Curves = Mapping[tuple[str, int, str], Sequence[Point]]
GOAL = 0.90
STRETCH = 0.80
PEERS = ("hpa", "keda", "kpa")


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _beaten(curves: Curves, trace: str, startup: int) -> tuple[str, int]:
    """The HPA's and the KPA's points that dominate a point of webscale's curve, by target; and
    how many."""
    ours = curves[(trace, startup, "webscale")]
    out, count = [], 0
    for peer in ("hpa", "kpa"):
        s = standing(ours, curves[(trace, startup, peer)])
        count += len(s.beaten_by)
        if s.beaten_by:
            out.append(f"{peer} at {', '.join(f'{p.target:.2f}' for p in s.beaten_by)}")
    return "; ".join(out) or "none", count


def verdict(s: Standing, beating: int) -> str:
    """The goal's verdict on one trace (`beating`: peer points that beat the curve), and how far."""
    if not s.ratios:
        return "not shown (webscale's curve reaches no peer point)"
    worst = max(s.ratios)
    if s.met(STRETCH):
        return f"**met, stretch too** (worst {worst:.2f}x)"
    if s.met(GOAL):
        return f"**met** (worst {worst:.2f}x; stretch {STRETCH:.2f}x not)"
    why = [f"worst {worst:.2f}x, {100 * (worst / GOAL - 1):+.0f} % over {GOAL:.2f}x"]
    if beating:
        why.append(f"{beating} peer point(s) beat the curve")
    return "not met: " + ", ".join(why)


def goal_table(labels: Sequence[str], tuned: set[str], startups: Sequence[int], curves: Curves) -> str:
    """Per start-up and trace: webscale's curve against the HPA's and the KPA's points together."""
    lines = [
        "| start-up | trace | iso-service cost vs the better of HPA, KPA: mean / worst | their frontier's points "
        "reached | HPA / KPA points beating webscale's curve | goal (<= 0.90x, none beating) |",
        "|---:|---|---:|---:|---|---|",
    ]
    met = {s: 0 for s in startups}
    for startup in startups:
        for t in labels:
            better = lower_frontier([*curves[(t, startup, "hpa")], *curves[(t, startup, "kpa")]])
            s = standing(curves[(t, startup, "webscale")], better)
            beaten, beating = _beaten(curves, t, startup)
            met[startup] += s.met(GOAL) and not beating
            reached = f"{len(s.ratios)} of {len(better)}"
            if s.unreached_better or s.unreached_worse:
                reached += f" ({s.unreached_better} with less time under, {s.unreached_worse} with more)"
            lines.append(
                f"| {startup} s | {t}{' (tuned)' if t in tuned else ''} | {_ratio(s.mean)} / {_ratio(s.worst)} | "
                f"{reached} | {beaten} | {verdict(s, beating)} |"
            )
    summary = ", ".join(f"{met[s]} of {len(labels)} traces at start-up {s} s" for s in startups)
    return f"**Goal met on {summary}.**\n\n" + "\n".join(lines)


def iso_table(labels: Sequence[str], startup: int, curves: Curves) -> str:
    """Per trace and peer: webscale's iso-service cost ratio at the peer's points."""
    lines = ["| trace | vs HPA | vs KEDA | vs KPA |", "|---|---:|---:|---:|"]
    for t in labels:
        cells = []
        for peer in PEERS:
            theirs = lower_frontier(curves[(t, startup, peer)])  # a dominated point would flatter us
            s = standing(curves[(t, startup, "webscale")], theirs)
            cells.append(f"{_ratio(s.mean)} / {_ratio(s.worst)} ({len(s.ratios)} of {len(theirs)})")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def elasticity_table(
    labels: Sequence[str], policies: Sequence[str], metrics: Mapping[tuple[str, str], Elasticity]
) -> str:
    lines = [
        "| trace | policy | accuracy_U (missing pods) | accuracy_O (surplus pods) | timeshare_U | timeshare_O | "
        "jitter (per min) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for t in labels:
        for p in policies:
            m = metrics[(t, p)]
            lines.append(
                f"| {t} | {p} | {m.accuracy_under:.3f} | {m.accuracy_over:.2f} | {100 * m.timeshare_under:.2f} % | "
                f"{100 * m.timeshare_over:.1f} % | {m.jitter_per_minute:+.2f} |"
            )
    return "\n".join(lines)


def points_csv(curves: Curves) -> str:
    """Every point of the sweep; for the peers, webscale's iso-service cost ratio at that point.
    Policy names hold commas ("webscale, fast scale-down, checked"), so fields are quoted as needed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "trace",
            "startup",
            "policy",
            "target",
            "pod_seconds_over_oracle",
            "percent_under_capacity",
            "webscale_iso_ratio",
        ]
    )
    for (t, startup, policy), pts in sorted(curves.items()):
        ours = lower_frontier(curves[(t, startup, "webscale")])
        for p in pts:
            ratio = None if policy == "webscale" else iso_ratio(ours, p)
            cell = "" if ratio is None else f"{ratio:.4f}"
            writer.writerow([t, startup, policy, f"{p.target:.2f}", f"{p.cost:.4f}", f"{p.under:.4f}", cell])
    return out.getvalue()


def plot_trace(
    trace: str, startups: Sequence[int], curves: Mapping[tuple[int, str], Sequence[Point]], path: Path
) -> Path:
    """One panel per start-up: each policy's sweep (pod-seconds over the oracle against % time
    under capacity), in target order, the 0.70 point ringed; webscale's lower frontier dashed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    levers = iter(("#ff7f0e", "#8c564b", "#e377c2", "#17becf"))
    names = dict.fromkeys(policy for _, policy in curves if policy not in COLOURS)
    extra = {policy: next(levers, "#bcbd22") for policy in names}
    fig, axes = plt.subplots(1, len(startups), figsize=(5.2 * len(startups), 4.6), squeeze=False)
    for ax, startup in zip(axes[0], startups, strict=True):
        for (s, policy), pts in curves.items():
            if s != startup:
                continue
            colour = COLOURS.get(policy) or extra[policy]  # a lever: dash-dotted
            style = "-" if policy in COLOURS else "-."
            ax.plot(
                [p.under for p in pts],
                [p.cost for p in pts],
                style,
                marker="o",
                markersize=3,
                color=colour,
                label=policy,
            )
            ref = [p for p in pts if abs(p.target - 0.7) < 1e-9]
            ax.plot([p.under for p in ref], [p.cost for p in ref], "o", markersize=9, mfc="none", color=colour)
            if policy == "webscale":
                front = lower_frontier(pts)
                ax.plot([p.under for p in front], [p.cost for p in front], "--", color=colour, linewidth=2.5, alpha=0.4)
        ax.axhline(1.0, color=COLOURS["oracle"], linestyle=":", linewidth=1)
        ax.set_title(f"{trace}, start-up {startup} s")
        ax.set_xlabel("% time under capacity")
        ax.set_ylabel("pod-seconds over the oracle (target 0.70)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="targets 0.50..0.95; ring: 0.70", title_fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def lever_table(
    labels: Sequence[str], tuned: set[str], startups: Sequence[int], curves: Curves, levers: Sequence[str]
) -> str:
    """Per lever: its curve against the defaults' (iso-service cost at the defaults' points, mean)
    and against the HPA's and the KPA's points (worst), per trace and start-up; and the verdict:
    kept when it lowers the curve on the tuning traces and does not raise it on the held-out ones."""
    lines = []
    for lever in levers:
        head = "| start-up | " + " | ".join(f"{t}{' (tuned)' if t in tuned else ''}" for t in labels) + " |"
        lines += [f"**{lever}**", "", head, "|---:|" + "---:|" * len(labels)]
        by_set: dict[bool, list[float]] = {True: [], False: []}
        for startup in startups:
            cells = []
            for t in labels:
                defaults = lower_frontier(curves[(t, startup, "webscale")])
                vs_defaults = standing(curves[(t, startup, lever)], defaults)
                peers = [*curves[(t, startup, "hpa")], *curves[(t, startup, "kpa")]]
                ours, theirs = (
                    standing(curves[(t, startup, "webscale")], peers),
                    standing(curves[(t, startup, lever)], peers),
                )
                if vs_defaults.mean is not None:
                    by_set[t in tuned].append(vs_defaults.mean)
                cells.append(
                    f"{_ratio(vs_defaults.mean)} ({len(vs_defaults.ratios)}/{len(defaults)}); "
                    f"worst vs HPA, KPA {_ratio(theirs.worst)} (defaults {_ratio(ours.worst)})"
                )
            lines.append(f"| {startup} s | " + " | ".join(cells) + " |")
        tuning = sum(by_set[True]) / len(by_set[True]) if by_set[True] else None
        held = sum(by_set[False]) / len(by_set[False]) if by_set[False] else None
        wins = tuning is not None and tuning < 0.99
        holds = held is not None and held <= 1.0
        verdict = (
            "**kept**: it lowers the curve on the tuning traces and holds on the held-out ones"
            if wins and holds
            else "not kept: it does not lower the curve on the tuning traces"
            if not wins
            else "not kept: it lowers the curve on the tuning traces but raises it on the held-out ones"
        )
        lines += [
            "",
            f"Mean iso-service cost against the defaults' curve: tuning traces {_ratio(tuning)}, held out "
            f"{_ratio(held)}; {verdict}.",
            "",
        ]
    return "\n".join(lines).rstrip()
