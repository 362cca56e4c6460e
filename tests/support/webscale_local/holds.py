"""What holds an app's scale-down after its load stops, read from its spec (pure): what `make load`
and `make demo` say they are waiting for, instead of a sentence that may no longer be true.

    holds, longest = scale_down_holds(spec)
    # ["scaleDown.stabilizationWindow 30s (the highest recommendation of the last 30s)",
    #  "headroom.window 3m (the p90 of the per-scrape rates of the last 3m)"], 210.0

While the app waits, the scaling decision itself says which rule holds it (the ScalingActive
condition's reason and message); the watcher prints that as it changes.
"""

from __future__ import annotations

from typing import Any

from webscale.api import models
from webscale.api.durations import seconds


def scale_down_holds(spec: dict[str, Any]) -> tuple[list[str], float]:
    """(what can keep pods after the load stops, how long they can keep them in seconds), from the
    spec with the operator's defaults filled in. The stabilisation window keeps the highest
    recommendation made while the longest of the other windows still held the load: the two add up."""
    auto = models.parse_spec(spec).autoscaling
    down = auto.behavior.scale_down
    holds, longest = [], 0.0
    stabilization = seconds(down.stabilization_window)
    if stabilization > 0:
        holds.append(
            f"scaleDown.stabilizationWindow {down.stabilization_window} "
            f"(the highest recommendation of the last {down.stabilization_window})"
        )
    rate_window = seconds(down.rate_window)
    if rate_window > 0:
        holds.append(f"scaleDown.rateWindow {down.rate_window} (the mean request rate of the last {down.rate_window})")
        longest = max(longest, rate_window)
    if auto.headroom.quantile is not None:
        label = f"p{auto.headroom.quantile * 100:g}"
        holds.append(
            f"headroom.window {auto.headroom.window} (the {label} of the per-scrape rates of the last "
            f"{auto.headroom.window})"
        )
        longest = max(longest, seconds(auto.headroom.window))
    steps = []
    if down.max_percent is not None and down.max_percent < 100:
        steps.append(f"{down.max_percent} %")
    if down.max_pods is not None:
        steps.append(f"{down.max_pods} pods")
    if steps:
        holds.append(f"then at most {' or '.join(steps)} of the pods per {down.period} (scaleDown limits)")
    return holds, stabilization + longest
