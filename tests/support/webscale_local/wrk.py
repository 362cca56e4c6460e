"""wrk (Debian) as the load-balancer benchmark's client (called by bench/lb.py).

Two shapes of load:

* **closed loop** (`think_ms=None`): each connection sends its next request as soon as the answer
  arrives; with one connection this is "one request at a time", the rawest view of one extra hop.
* **paced** (`think_ms=(low, high)`): each connection waits a random think time, uniform in
  [low, high] ms, after every answer before it sends the next request (wrk's Lua ``delay()``), as
  users of a web page do. The offered rate is then set by the clients (connections / (think time +
  latency)), so direct and through-HAProxy runs face the same load: HAProxy's extra latency lowers
  the rate only by latency / think time, and the report shows the measured rates side by side. It
  is not a strict open loop (a slow answer delays that connection's next request), which only makes
  the slow-backend tails milder, never worse.
  Why not a strict open-loop client (wrk2, vegeta): Debian 12 packages neither; h2load's
  ``--rate`` paces new connections, not requests. wrk is already a Debian dependency.

Latency is taken from wrk's own histogram (sent -> answered, per request). Several wrk processes
(one per URL) are merged exactly enough: each prints its latency at 1,000 quantiles and the merged
quantiles are those of the mixture, weighted by each process's request count.
"""

from __future__ import annotations

import bisect
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

QUANTILES = [i / 10 for i in range(1, 1000)] + [99.95, 99.99]
"""Where each wrk reports its latency (percent): 0.1 % steps and two points of the far tail."""

_SCRIPT = """
local low, high = {low}, {high}
math.randomseed({seed})
{delay}
done = function(summary, latency, requests)
  io.write(string.format("webscale requests %d errors %d\\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status +
    summary.errors.timeout))
  for i, q in ipairs({{{quantiles}}}) do
    io.write(string.format("webscale q %d %d\\n", i, latency:percentile(q)))
  end
end
"""


@dataclass
class Result:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int


@dataclass
class _One:
    requests: int
    rps: float
    errors: int
    quantiles: list[float]
    """latency in ms at each of QUANTILES"""


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk not found: run `make deps-apt` (installs the Debian package wrk)")
    return path


def script(tmp: Path, think_ms: tuple[float, float] | None, seed: int) -> Path:
    """The Lua script: pacing (if asked; `seed` for its random think times) and the quantile dump."""
    low, high = think_ms or (0, 0)
    delay = "function delay() return math.random(low * 1000, high * 1000) / 1000 end" if think_ms else ""
    path = tmp / f"wrk-{low}-{high}-{seed}.lua"
    quantiles = ", ".join(repr(q) for q in QUANTILES)
    path.write_text(_SCRIPT.format(low=low, high=high, seed=seed, delay=delay, quantiles=quantiles))
    return path


def parse(output: str) -> _One:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    counts = re.search(r"webscale requests (\d+) errors (\d+)", output)
    if not rps or not counts:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    found = dict(re.findall(r"webscale q (\S+) (\d+)", output))
    quantiles = [int(found[str(i)]) / 1000 for i in range(1, len(QUANTILES) + 1)]
    errors = int(counts.group(2)) + (int(non2xx.group(1)) if non2xx else 0)
    return _One(int(counts.group(1)), float(rps.group(1)), errors, quantiles)


def merged_quantile(runs: list[_One], q: float) -> float:
    """The latency below which q % of all the runs' requests fall (mixture of their distributions)."""
    total = sum(r.requests for r in runs)
    candidates = sorted({v for r in runs for v in r.quantiles})

    def below(value: float) -> float:
        return sum(r.requests * _cdf(r.quantiles, value) for r in runs) / total

    i = bisect.bisect_left([below(v) for v in candidates], q)
    return candidates[min(i, len(candidates) - 1)]


def _cdf(quantiles: list[float], value: float) -> float:
    """Share (percent) of one run's requests at or below `value`."""
    i = bisect.bisect_right(quantiles, value)
    return 0.0 if i == 0 else QUANTILES[i - 1] if i < len(QUANTILES) else 100.0


def run(
    urls: list[str], connections_each: int, duration_s: int, tmp: Path, think_ms: tuple[float, float] | None = None
) -> Result:
    """One wrk per URL, in parallel, `duration_s` seconds each (bounded); the merged result."""
    procs = [
        subprocess.Popen(
            [
                wrk_binary(),
                "-t1",
                f"-c{connections_each}",
                f"-d{duration_s}s",
                "-s",
                str(script(tmp, think_ms, n)),
                url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n, url in enumerate(urls, start=1)
    ]
    runs = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=duration_s + 60)
            runs.append(parse(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return Result(
        sum(r.rps for r in runs),
        merged_quantile(runs, 50),
        merged_quantile(runs, 90),
        merged_quantile(runs, 99),
        sum(r.errors for r in runs),
    )
