"""Request-rate traces: the built-in shapes and `t,rps` CSV files.

A trace is the offered load in requests per second for each whole second. Built-ins are
deterministic (the noisy one uses a seeded RNG). They stay within what 20 pods of 2 workers at
50 req/s each carry (2000 req/s), so the replica bounds never decide a comparison.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_SECONDS = 7 * 24 * 3600
"""Longest trace accepted (one week at one-second resolution)."""


class TraceError(ValueError):
    """A trace that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Trace:
    """Offered load per second; rps[i] is the load during second i."""

    name: str
    rps: tuple[float, ...]
    description: str = ""

    @property
    def seconds(self) -> int:
        return len(self.rps)

    @property
    def requests(self) -> float:
        return sum(self.rps)


def step() -> Trace:
    """150 req/s, a jump to 900 req/s for 15 minutes, back to 150."""
    rps = [150.0] * 300 + [900.0] * 900 + [150.0] * 600
    return Trace("step", tuple(rps), "150 -> 900 req/s at 5 min, back to 150 at 20 min")


def spike() -> Trace:
    """A two-minute spike of 8x the base load (a flash sale, a link on a front page)."""
    rps = [200.0] * 300 + [1600.0] * 120 + [200.0] * 780
    return Trace("spike", tuple(rps), "200 req/s with a 2-minute spike to 1600 req/s at 5 min")


def diurnal() -> Trace:
    """A day compressed into an hour: quiet night, a late-morning peak, an evening peak, and a quiet
    night again (long enough for every policy to settle, so no cost is left outside the trace)."""

    def at(t: int) -> float:
        x = t / 3600.0
        day = 900.0 * math.exp(-(((x - 0.4) / 0.1) ** 2))
        evening = 700.0 * math.exp(-(((x - 0.68) / 0.06) ** 2))
        return 120.0 + day + evening

    return Trace("diurnal", tuple(at(t) for t in range(3600)), "one day in an hour: 120 to ~1020 req/s")


def ramp() -> Trace:
    """A steady climb from 100 to 1500 req/s over 20 minutes, a plateau, a 10-minute descent, a
    13-minute quiet tail."""
    rps = [100.0] * 120
    rps += [100.0 + 1400.0 * i / 1200 for i in range(1200)]
    rps += [1500.0] * 300
    rps += [1500.0 - 1400.0 * i / 600 for i in range(600)]
    rps += [100.0] * 780  # long enough for every policy to settle
    return Trace("ramp", tuple(rps), "100 -> 1500 req/s over 20 min, 5 min plateau, back over 10 min")


def noisy(seed: int = 7) -> Trace:
    """A wandering mean around 600 req/s, second-to-second noise and short bursts (seeded)."""
    rng = random.Random(seed)
    mean, burst_left, rps = 600.0, 0, []
    for _ in range(1800):
        mean = min(1100.0, max(300.0, mean + rng.gauss(0.0, 8.0)))
        if burst_left == 0 and rng.random() < 0.003:
            burst_left = rng.randint(10, 40)
        extra = 350.0 if burst_left > 0 else 0.0
        burst_left = max(0, burst_left - 1)
        rps.append(max(0.0, mean + extra + rng.gauss(0.0, 0.1 * mean)))
    return Trace("noisy", tuple(rps), "random walk around 600 req/s, 10% noise, short +350 bursts (seed 7)")


BUILT_IN: dict[str, Callable[[], Trace]] = {
    "step": step,
    "spike": spike,
    "diurnal": diurnal,
    "ramp": ramp,
    "noisy": noisy,
}


def parse_csv(text: str, name: str = "trace.csv") -> Trace:
    """Read `t,rps` rows (t in seconds, increasing; rps >= 0). A header row, blank lines and
    `#` comments are allowed. Each row's rate holds until the next row's t; the trace ends at
    the last row's second. Errors name the line: "trace.csv:7: rps must be >= 0, got -3"."""
    rows: list[tuple[float, float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        fields = [f.strip() for f in content.split(",")]
        if not rows and fields and fields[0].lower() in {"t", "time", "second", "seconds"}:
            continue  # header
        where = f"{name}:{number}"
        if len(fields) != 2:
            raise TraceError(f"{where}: expected 2 fields 't,rps', got {len(fields)}: {line.strip()!r}")
        t, rps = _number(fields[0], "t", where), _number(fields[1], "rps", where)
        if t < 0 or rps < 0:
            raise TraceError(f"{where}: {'t' if t < 0 else 'rps'} must be >= 0, got {fields[0 if t < 0 else 1]}")
        if rows and t <= rows[-1][0]:
            raise TraceError(f"{where}: t must increase, got {fields[0]} after {rows[-1][0]:g}")
        if t - (rows[0][0] if rows else t) >= MAX_SECONDS:
            raise TraceError(f"{where}: the trace is longer than {MAX_SECONDS} seconds")
        rows.append((t, rps))
    if not rows:
        raise TraceError(f"{name}: no rows (expected lines of 't,rps')")
    start, values, row = rows[0][0], [], 0
    for second in range(int(rows[-1][0] - start) + 1):
        while row + 1 < len(rows) and rows[row + 1][0] <= start + second:
            row += 1
        values.append(rows[row][1])
    return Trace(name, tuple(values), f"{len(rows)} rows from {name}")


def scaled(trace: Trace, peak: float) -> Trace:
    """`trace` with every second multiplied so that its highest second is `peak` req/s (the shape of
    a real trace at the scale of the world it runs in). A trace of zeros stays zeros."""
    top = max(trace.rps, default=0.0)
    factor = peak / top if top > 0 else 0.0
    note = f"peak scaled to {peak:,.0f} req/s"
    return Trace(
        trace.name, tuple(v * factor for v in trace.rps), f"{trace.description}; {note}" if trace.description else note
    )


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{where}: {what} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise TraceError(f"{where}: {what} must be finite, got {text!r}")
    return value


def load_trace(spec: str) -> Trace:
    """A built-in name, or a path to a CSV file."""
    if spec in BUILT_IN:
        return BUILT_IN[spec]()
    path = Path(spec)
    if not path.is_file():
        raise TraceError(f"{spec}: not a built-in trace ({', '.join(BUILT_IN)}) and not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{spec}: cannot read: {exc}") from exc
    return parse_csv(text, path.name)
