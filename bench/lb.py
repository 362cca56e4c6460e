"""Load-balancer benchmark -> bench/results/lb.md (part of `make bench`; about two minutes).

All on loopback, real processes: three sample apps (one worker each) on 127.0.0.2-4, dnsmasq
serving the headless Service's SRV records, haproxy running the operator's rendered haproxy.cfg
for each strategy (resolver and ports swapped, see webscale_local.lb_rig), and wrk (Debian) as the
client. Everything is measured in one run and reported as ratios, because the machine is shared.

1. Overhead at the same offered load: one connection, one request at a time, straight to an app
   and through HAProxy (each strategy), for a trivial request (/healthz) and an app-like one
   (/io?ms=2: 2 ms of waiting). Goal: HAProxy adds at most 10 % to p50.
2. A slow backend: backend 1 is kept busy by direct /work?ms=40 requests (a pod with a noisy
   neighbour, a long GC); three wrk x two connections through HAProxy with round-robin and
   least-connections. Goal: least-connections cuts p99 at least 2x against round-robin.

Rounds are interleaved and medians reported, so a neighbour's burst on the shared machine
hits every row alike.
"""

from __future__ import annotations

import contextlib
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from webscale_local.lb_rig import APP_HOSTS, Client, apps_on, rig

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "lb.md"
DURATION = 3
ROUNDS = 3
SLOW_CONNECTIONS = 2
STRATEGIES = ["round-robin", "least-connections", "ip-hash"]
PATHS = ["/healthz", "/io?ms=2"]
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class Result:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("bench/lb.py: wrk not found; run `make deps-apt`")
    return path


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50, p90, p99 = (
        _ms(re.search(rf"^\s+{q}%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
        for q in (50, 90, 99)
    )
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(rps, p50, p90, p99, errors + (int(non2xx.group(1)) if non2xx else 0))


def wrk(urls: list[str], connections_each: int) -> Result:
    """One wrk per URL, in parallel, for DURATION seconds; combined as the module docstring says."""
    procs = [
        subprocess.Popen(
            [wrk_binary(), "-t1", f"-c{connections_each}", f"-d{DURATION}s", "--latency", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for url in urls
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=DURATION + 30)
        results.append(parse_wrk(out))
    p50s, p90s = sorted(r.p50_ms for r in results), sorted(r.p90_ms for r in results)
    return Result(
        sum(r.rps for r in results),
        p50s[len(p50s) // 2],
        p90s[len(p90s) // 2],
        max(r.p99_ms for r in results),
        sum(r.errors for r in results),
    )


@contextlib.contextmanager
def busy(url: str) -> object:
    """Keep one backend busy with /work?ms=40 requests (bounded in count), until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        client = Client(url)
        try:
            for _ in range(int(DURATION * 40)):
                if stop.is_set():
                    return
                client.get("/work?ms=40")
        finally:
            client.close()

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        time.sleep(0.3)
        yield
    finally:
        stop.set()
        thread.join(timeout=60)


def row(runs: list[Result], p90: bool = False) -> str:
    """Medians over the rounds: req/s | p50 [| p90] | p99."""
    cells = [f"{median([r.rps for r in runs]):,.0f}", f"{median([r.p50_ms for r in runs]):.2f}"]
    if p90:
        cells.append(f"{median([r.p90_ms for r in runs]):.2f}")
    cells.append(f"{median([r.p99_ms for r in runs]):.2f}")
    return " | ".join(cells)


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    latency: dict[str, dict[str, list[Result]]] = {path: {} for path in PATHS}
    slow: dict[str, list[Result]] = {}
    with TemporaryDirectory() as tmp, apps_on(Path(tmp), APP_HOSTS[:3]) as apps:
        for round_ in range(ROUNDS):  # interleaved rounds: a neighbour's burst hits every row alike
            for path in PATHS:
                print(f"lb bench: round {round_ + 1} direct {path}", flush=True)
                latency[path].setdefault("direct", []).append(wrk([f"{apps[0].url}{path}"], 1))
            for strategy in STRATEGIES:
                with rig(Path(tmp), apps, strategy) as r:
                    for path in PATHS:
                        print(f"lb bench: round {round_ + 1} {strategy} {path}", flush=True)
                        latency[path].setdefault(strategy, []).append(wrk([f"{r.url}{path}"], 1))
            for strategy in ("round-robin", "least-connections"):
                with rig(Path(tmp), apps, strategy) as r, busy(apps[0].url):
                    print(f"lb bench: round {round_ + 1} {strategy} with a slow backend", flush=True)
                    slow.setdefault(strategy, []).append(wrk([f"{r.url}/healthz"] * len(apps), SLOW_CONNECTIONS))

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Load-balancer tier: HAProxy overhead and strategies",
        "",
        f"Generated by `bench/lb.py` (`make bench`) on {now}, {platform.machine()}; wrk (Debian), {DURATION} s per "
        f"measurement, {ROUNDS} interleaved rounds, medians shown; three sample apps with one worker each on "
        "127.0.0.2-4, dnsmasq, haproxy with the operator's rendered config, all on one shared 2-core machine "
        "(absolute numbers move between runs; the ratios measured in one run are the result).",
        "",
        "## HAProxy's overhead at the same offered load (one connection, one request at a time)",
        "",
        "Direct: wrk to one app. Through HAProxy: wrk to HAProxy, which spreads the requests over the three apps",
        "(ip-hash: all to one, since every request comes from 127.0.0.1). The app does the same work per request",
        "either way; the difference is the extra hop. Ratios are medians over the rounds of per-round ratios.",
        "",
    ]
    met_p50 = True
    for path in PATHS:
        direct = latency[path]["direct"]
        lines += [
            f"`GET {path}`",
            "",
            "| path | req/s | p50 ms | p99 ms | req/s vs direct | p50 vs direct | p99 vs direct |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| direct | {row(direct)} | 1.00 | 1.00 | 1.00 |",
        ]
        for strategy in STRATEGIES:
            runs = latency[path][strategy]
            ratios = [
                median([r.rps / d.rps for r, d in zip(runs, direct, strict=True)]),
                median([r.p50_ms / d.p50_ms for r, d in zip(runs, direct, strict=True)]),
                median([r.p99_ms / d.p99_ms for r, d in zip(runs, direct, strict=True)]),
            ]
            extra_ms = median([r.p50_ms - d.p50_ms for r, d in zip(runs, direct, strict=True)])
            met_p50 &= ratios[1] <= 1.10
            lines.append(
                f"| HAProxy {strategy} | {row(runs)} | {ratios[0]:.2f} | {ratios[1]:.2f} (+{extra_ms:.2f} ms) | "
                f"{ratios[2]:.2f} |"
            )
        lines.append("")
    rr, lc = slow["round-robin"], slow["least-connections"]
    cut = median([r.p99_ms / c.p99_ms for r, c in zip(rr, lc, strict=True)])
    cut90 = median([r.p90_ms / c.p90_ms for r, c in zip(rr, lc, strict=True)])
    errors = sum(r.errors for r in rr + lc)
    lines += [
        "## One slow backend",
        "",
        "App 1 is kept busy by direct /work?ms=40 requests (a noisy neighbour, a long GC pause): a request HAProxy",
        f"sends there waits up to 40 ms. Three wrk processes x {SLOW_CONNECTIONS} connections send /healthz "
        "through HAProxy.",
        "",
        "| strategy | req/s | p50 ms | p90 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| round-robin | {row(rr, p90=True)} |",
        f"| least-connections | {row(lc, p90=True)} |",
        "",
        f"least-connections against round-robin (medians of per-round ratios): p99 cut {cut:.1f}x, p90 cut "
        f"{cut90:.1f}x, req/s {median([c.rps / r.rps for r, c in zip(rr, lc, strict=True)]):.2f}x; "
        f"failed requests: {errors}.",
        "",
        "## Goals",
        "",
        f"* HAProxy adds <= 10 % to p50 at the same offered load: **{'met' if met_p50 else 'not met'}** "
        "(every strategy and request above).",
        f"* least-connections cuts p99 with a slow backend >= 2x against round-robin: "
        f"**{'met' if cut >= 2 else 'not met'}** ({cut:.1f}x).",
        "",
    ]
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
