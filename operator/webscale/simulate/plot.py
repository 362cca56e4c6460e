"""One PNG per trace: the load against each policy's ready capacity, and replicas over time.

matplotlib is a development dependency: it is imported only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path

from webscale.simulate.comparison import Comparison

COLOURS = {
    "webscale": "#d62728",
    "hpa": "#1f77b4",
    "keda": "#2ca02c",
    "kpa": "#9467bd",
    "oracle": "#7f7f7f",
}


def plot(comparison: Comparison, path: Path) -> Path:
    """Draw `comparison` into `path` (PNG) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    trace = comparison.trace
    minutes = [s / 60.0 for s in range(trace.seconds)]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True, height_ratios=[3, 2])
    top.fill_between(minutes, trace.rps, color="#000000", alpha=0.12, linewidth=0, label="offered load")
    top.plot(minutes, trace.rps, color="#000000", linewidth=0.6)
    for score in comparison.scores:
        run = score.run
        # webscale is drawn wide and underneath, so it shows as a halo where another policy coincides.
        ours = run.policy == "webscale"
        line = {
            "color": COLOURS.get(run.policy),
            "linestyle": ":" if run.policy == "oracle" else "-",
            "linewidth": 3.2 if ours else 1.2,
            "alpha": 0.55 if ours else 1.0,
            "zorder": 1 if ours else 2,
            "where": "post",
        }
        label = f"{run.policy} ({run.seconds_over:,} s under capacity, cost {score.cost_ratio or 0:.2f}x oracle)"
        top.step(minutes, run.capacity, label=label, **line)
        bottom.step(minutes, run.replicas, label=run.policy, **line)
    top.set_ylabel("req/s (load) / ready capacity")
    top.set_title(f"{trace.name}: {trace.description}" if trace.description else trace.name)
    top.legend(loc="upper right", fontsize=8, framealpha=0.9)
    top.grid(alpha=0.3)
    bottom.set_ylabel("pods (ready + starting)")
    bottom.set_xlabel("minutes")
    bottom.grid(alpha=0.3)
    bottom.legend(loc="upper right", fontsize=8, ncol=len(comparison.scores), framealpha=0.9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
