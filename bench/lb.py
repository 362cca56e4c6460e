"""Load-balancer benchmark -> bench/results/lb.md (part of `make bench`; about eight minutes).

Alone: `flock /tmp/webscale-bench.lock .venv/bin/python bench/lb.py`.

All on loopback, real processes: three sample apps (one worker each) on 127.0.0.2-4, dnsmasq
serving the headless Service's SRV records, haproxy running the operator's rendered haproxy.cfg
for each strategy (resolver and ports swapped, see webscale_local.lb_rig), and wrk (Debian) as the
client (webscale_local.wrk). Everything is measured in one run and reported as ratios, because the
machine is shared.

1. HAProxy's overhead, for a trivial request (/healthz) and app-like ones (/io?ms=2, /io?ms=10:
   2 or 10 ms of waiting, as for a database), two ways:
   a. one connection, one request at a time (closed loop), straight to one app and through HAProxy;
   b. the same offered load: three wrk x four connections, each sending a request after a random
      10-30 ms think time; direct = one wrk per app (the three pods without a load balancer),
      through HAProxy = the three wrk to HAProxy; ip-hash (one client address: one pod) against
      the three wrk straight to app 1.
   Goal: HAProxy adds at most 10 % to p50. ip-hash's paced rows run again at the earlier per-pod
   maxconn (4 per worker) to show what the operator's value (reconcile/haproxy_config.py) changes.
2. One slow pod (app 1), round-robin against least-connections:
   a. CPU-throttled (webscale_local.throttle: it runs 25 ms of every 100 ms), under the paced
      /io?ms=2 load of 1b and under busy clients (three wrk x two connections, closed loop, / );
      with the share of the requests the slow pod served (its own request counter);
   b. slow per request: app 1 is on a degraded node and gets a quarter of the CPU the others get
      (the same duty cycle at a fine grain: 2.5 ms of every 10 ms), under CPU-bound requests
      (/work?ms=2, the paced load), so its requests take ~4x longer and queue there when it gets
      more than its capacity; at the operator's maxconn and at the earlier 4 per worker;
   c. the earlier scenario, kept for comparison: app 1 is kept busy by direct /work?ms=40 requests,
      which burn CPU on this 2-core machine and so slow HAProxy, wrk and the other apps too.
   Goal: least-connections cuts p99 at least 2x against round-robin (each scenario's verdict shown).

Rounds are interleaved and medians reported, so a neighbour's burst on the shared machine
hits every row alike.
"""

from __future__ import annotations

import contextlib
import platform
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from webscale_local import wrk
from webscale_local.lb_rig import APP_HOSTS, Client, apps_on, backend_pid, rig
from webscale_local.throttle import PERIOD_MS, throttled
from webscale_local.wrk import Result

from webscale.reconcile.haproxy_config import CONNECTIONS_PER_WORKER

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "lb.md"
DURATION = 3
ROUNDS = 3
STRATEGIES = ["round-robin", "least-connections", "ip-hash"]
PATHS = ["/healthz", "/io?ms=2", "/io?ms=10"]
PACED_CONNECTIONS = 4
"""Connections per wrk (three wrk) for the paced load."""
THINK_MS = (10.0, 30.0)
BUSY_CONNECTIONS = 2
"""Connections per wrk (three wrk) for the busy clients of the slow-pod scenarios."""
THROTTLE_RUN_MS = 25.0
SLOW_PATH = "/io?ms=2"
DEGRADED_RUN_MS, DEGRADED_PERIOD_MS = 2.5, 10.0
"""The degraded node's pod runs 2.5 ms of every 10 ms: a quarter of the CPU, in slices short against a request."""
DEGRADED_PATH = "/work?ms=2"
"""CPU-bound requests (2 ms of CPU each), which queue on a pod that has too little CPU for its share."""
EARLIER_MAXCONN = 4
"""The per-pod maxconn (one worker) before CONNECTIONS_PER_WORKER became 16: measured again for comparison."""
EARLIER = f"maxconn {EARLIER_MAXCONN} per worker (earlier)"
Runs = dict[str, list[Result]]


@contextlib.contextmanager
def burning(url: str) -> Iterator[None]:
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


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio(runs: list[Result], base: list[Result], field: str) -> float:
    """Median over the rounds of the per-round ratio runs/base."""
    return median([getattr(r, field) / getattr(b, field) for r, b in zip(runs, base, strict=True)])


def cells(runs: list[Result], p90: bool = False) -> str:
    """Medians over the rounds: req/s | p50 [| p90] | p99."""
    out = [f"{median([r.rps for r in runs]):,.0f}", f"{median([r.p50_ms for r in runs]):.2f}"]
    if p90:
        out.append(f"{median([r.p90_ms for r in runs]):.2f}")
    out.append(f"{median([r.p99_ms for r in runs]):.2f}")
    return " | ".join(out)


ONE_POD = "direct, one pod"
"""The paced load straight to app 1 alone: ip-hash's baseline (one client address -> one pod)."""


def overhead_table(rows: Runs, labels: list[str]) -> tuple[list[str], dict[str, tuple[float, float]]]:
    """Markdown rows, each against its direct baseline (ip-hash: ONE_POD when measured), and each label's
    p50 ratio and the ms it adds to p50 (both medians over the rounds)."""
    lines = [
        "| path | req/s | p50 ms | p99 ms | req/s vs direct | p50 vs direct | p99 vs direct |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(f"| {base} | {cells(rows[base])} | 1.00 | 1.00 | 1.00 |" for base in ("direct", ONE_POD) if base in rows),
    ]
    p50: dict[str, tuple[float, float]] = {}
    for label in labels:
        runs = rows[label]
        base = ONE_POD if label.startswith("ip-hash") and ONE_POD in rows else "direct"
        direct = rows[base]
        extra = median([r.p50_ms - d.p50_ms for r, d in zip(runs, direct, strict=True)])
        p50[label] = (ratio(runs, direct, "p50_ms"), extra)
        vs = "" if base == "direct" else f" (vs {base})"
        lines.append(
            f"| HAProxy {label}{vs} | {cells(runs)} | {ratio(runs, direct, 'rps'):.2f} | {p50[label][0]:.2f} "
            f"({extra:+.2f} ms) | {ratio(runs, direct, 'p99_ms'):.2f} |"
        )
    return lines, p50


def slow_table(rr: list[Result], lc: list[Result]) -> tuple[list[str], float]:
    cut = ratio(rr, lc, "p99_ms")
    lines = [
        "| strategy | req/s | p50 ms | p90 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| round-robin | {cells(rr, p90=True)} |",
        f"| least-connections | {cells(lc, p90=True)} |",
        "",
        f"least-connections against round-robin (medians of per-round ratios): **p99 cut {cut:.1f}x**, p90 cut "
        f"{ratio(rr, lc, 'p90_ms'):.1f}x, p50 cut {ratio(rr, lc, 'p50_ms'):.1f}x, req/s {ratio(lc, rr, 'rps'):.2f}x; "
        f"failed requests: {sum(r.errors for r in rr + lc)}.",
    ]
    return lines, cut


Reuse = dict[str, list[tuple[float, float]]]
Share = dict[str, dict[str, list[float]]]


def measure(tmp: Path) -> tuple[dict[str, Runs], dict[str, Runs], dict[str, Runs], Reuse, Share]:
    """(closed-loop per path, paced per path, slow-pod per scenario): label -> one Result per round;
    and per strategy, per round, (connections HAProxy opened to the pods, requests on a reused one)
    during the closed-loop runs; per throttled scenario and strategy, the slow pod's share of the requests."""
    closed: dict[str, Runs] = {p: {} for p in PATHS}
    paced: dict[str, Runs] = {p: {} for p in PATHS}
    slow: dict[str, Runs] = {}
    reuse: Reuse = {}
    share: Share = {}
    with apps_on(tmp, APP_HOSTS[:3]) as apps:
        slow_pid = backend_pid(apps[0])
        current = {"round": 0}

        def note(
            store: dict[str, Runs], key: str, label: str, urls: list[str], connections: int, paced_load: bool = False
        ) -> None:
            print(f"lb bench: round {current['round']} {key} {label}", flush=True)
            result = wrk.run(urls, connections, DURATION, tmp, THINK_MS if paced_load else None)
            store.setdefault(key, {}).setdefault(label, []).append(result)

        for round_ in range(1, ROUNDS + 1):  # interleaved rounds: a neighbour's burst hits every row alike
            current["round"] = round_
            for path in PATHS:
                note(closed, path, "direct", [f"{apps[0].url}{path}"], 1)
                note(paced, path, "direct", [f"{a.url}{path}" for a in apps], PACED_CONNECTIONS, paced_load=True)
                one_pod = [f"{apps[0].url}{path}"] * len(apps)
                note(paced, path, ONE_POD, one_pod, PACED_CONNECTIONS, paced_load=True)
            for strategy, serving in [(s, None) for s in STRATEGIES] + [("round-robin", 1)]:
                label = strategy if serving is None else f"{strategy}, one pod listed"
                with rig(tmp, apps, strategy, serving=serving) as r:
                    for path in PATHS:
                        note(closed, path, label, [f"{r.url}{path}"], 1)
                    opened = r.backend_total("haproxy_server_connection_attempts_total")
                    reused = r.backend_total("haproxy_server_connection_reuses_total")
                    reuse.setdefault(label, []).append((opened, reused))
                    for path in PATHS if serving is None else []:
                        urls = [f"{r.url}{path}"] * len(apps)
                        note(paced, path, label, urls, PACED_CONNECTIONS, paced_load=True)
            with rig(tmp, apps, "ip-hash", server_maxconn=EARLIER_MAXCONN) as r:
                for path in PATHS:
                    urls = [f"{r.url}{path}"] * len(apps)
                    note(paced, path, f"ip-hash, {EARLIER}", urls, PACED_CONNECTIONS, paced_load=True)
            for strategy in ("round-robin", "least-connections"):
                for key, maxconn in [("degraded", None), ("degraded-earlier", EARLIER_MAXCONN)]:
                    with rig(tmp, apps, strategy, server_maxconn=maxconn) as r:
                        before = [a.requests_total() for a in apps]
                        with throttled(slow_pid, DEGRADED_RUN_MS, DURATION + 30, DEGRADED_PERIOD_MS):
                            urls = [f"{r.url}{DEGRADED_PATH}"] * len(apps)
                            note(slow, key, strategy, urls, PACED_CONNECTIONS, paced_load=True)
                        served = [a.requests_total() - b for a, b in zip(apps, before, strict=True)]
                        share.setdefault(key, {}).setdefault(strategy, []).append(served[0] / sum(served))
                with rig(tmp, apps, strategy) as r:
                    paced_urls = [f"{r.url}{SLOW_PATH}"] * len(apps)
                    busy_urls = [f"{r.url}/healthz"] * len(apps)
                    trivial_urls = [f"{r.url}/"] * len(apps)  # /healthz is not in the app's request counter
                    for key, urls, connections in [
                        ("throttled-paced", paced_urls, PACED_CONNECTIONS),
                        ("throttled-busy", trivial_urls, BUSY_CONNECTIONS),
                    ]:
                        before = [a.requests_total() for a in apps]
                        with throttled(slow_pid, THROTTLE_RUN_MS, DURATION + 30):
                            note(slow, key, strategy, urls, connections, paced_load=key == "throttled-paced")
                        served = [a.requests_total() - b for a, b in zip(apps, before, strict=True)]
                        share.setdefault(key, {}).setdefault(strategy, []).append(served[0] / sum(served))
                    with burning(apps[0].url):
                        note(slow, "burning-busy", strategy, busy_urls, BUSY_CONNECTIONS)
    return closed, paced, slow, reuse, share


def goal_words(met: bool) -> str:
    return "met" if met else "not met"


def report(closed: dict[str, Runs], paced: dict[str, Runs], slow: dict[str, Runs], reuse: Reuse, share: Share) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    think = f"{THINK_MS[0]:.0f}-{THINK_MS[1]:.0f} ms"
    lines = [
        "# Load-balancer tier: HAProxy overhead and strategies",
        "",
        f"Generated by `bench/lb.py` (`make bench`; alone: `flock /tmp/webscale-bench.lock .venv/bin/python "
        f"bench/lb.py`) on {now}, {platform.machine()}; wrk (Debian), {DURATION} s per measurement, {ROUNDS} "
        "interleaved rounds, medians shown; three sample apps with one worker each on 127.0.0.2-4, dnsmasq, haproxy "
        "with the operator's rendered config, all on one shared 2-core machine (absolute numbers move between runs; "
        "the ratios measured in one run are the result). Latency: sent -> answered, per request, from wrk's "
        "histogram (several wrk processes merged).",
        "",
        "## HAProxy's overhead",
        "",
        "`/healthz` answers at once (a trivial request); `/io?ms=2` and `/io?ms=10` wait 2 or 10 ms before they "
        "answer, as a request that reads a database does. The app does the same work either way; the difference is "
        "the extra hop. Ratios are medians over the rounds of per-round ratios.",
        "",
        f"### At the same offered load: three wrk x {PACED_CONNECTIONS} connections, {think} think time",
        "",
        f"Each connection sends its next request a random {think} after the answer (users of a web page, not a "
        "flood), so the offered rate is set by the clients. Direct: one wrk per app, i.e. the three pods without a "
        "load balancer; through HAProxy: the three wrk to HAProxy, which spreads the same requests over the same "
        f"three apps. ip-hash sends them all to one app (every request comes from 127.0.0.1), so it is "
        f'compared with "{ONE_POD}": the same three wrk straight to app 1.',
        "",
    ]
    paced_p50: dict[str, dict[str, tuple[float, float]]] = {}
    for path in PATHS:
        table, paced_p50[path] = overhead_table(paced[path], [*STRATEGIES, f"ip-hash, {EARLIER}"])
        lines += [f"`GET {path}`", "", *table, ""]
    lines += [
        f'"ip-hash, {EARLIER}": the same, with the per-pod maxconn the operator rendered before (4 per worker; '
        f"now {CONNECTIONS_PER_WORKER}, reconcile/haproxy_config.py). On one one-worker pod this load keeps on average "
        "req/s x p50 requests in flight ("
        + ", ".join(f"`{path}` {median([r.rps * r.p50_ms / 1000 for r in paced[path][ONE_POD]]):.1f}" for path in PATHS)
        + f", from the direct, one pod row), with bursts up to its {3 * PACED_CONNECTIONS} connections; at "
        f"{EARLIER_MAXCONN} HAProxy queues what is beyond {EARLIER_MAXCONN}, which the direct run does not.",
        "",
    ]
    lines += [
        "### One connection, one request at a time (closed loop)",
        "",
        'Direct: wrk to one app. Through HAProxy: wrk to HAProxy. "round-robin, one pod listed": DNS lists '
        "only app 1, so HAProxy sends every request to the app the direct row uses; against round-robin over "
        "three pods it shows what spreading one client's requests over three otherwise idle processes costs "
        "(each backend is colder), as distinct from the hop.",
        "",
    ]
    closed_p50: dict[str, dict[str, tuple[float, float]]] = {}
    for path in PATHS:
        table, closed_p50[path] = overhead_table(closed[path], [*STRATEGIES, "round-robin, one pod listed"])
        lines += [f"`GET {path}`", "", *table, ""]
    lines += [
        "Connections HAProxy opened to the pods during these closed-loop runs (exporter counters, per strategy, "
        "median over the rounds): "
        + "; ".join(
            f"{label}: {median([o for o, _ in runs]):,.0f} opened, {median([u for _, u in runs]):,.0f} requests "
            "on a reused one"
            for label, runs in reuse.items()
        )
        + ". Keep-alive and connection reuse to the pods are on (HAProxy's defaults, see "
        "reconcile/haproxy_config.py), so the hop costs no new connection per request.",
        "",
    ]

    throttle_desc = (
        f"app 1 is CPU-throttled: it runs {THROTTLE_RUN_MS:.0f} ms of every {PERIOD_MS:.0f} ms and stands "
        "still in between (a bounded SIGSTOP/SIGCONT cycle on its process), as a pod at its CPU limit does "
        "(`limits.cpu: 250m` with its quota used by its own background work): a request that arrives there "
        f"while it stands waits up to {PERIOD_MS - THROTTLE_RUN_MS:.0f} ms. The other processes keep their CPU."
    )
    degraded_desc = (
        f"app 1 runs on a degraded node: it gets a quarter of the CPU the other pods get (an overcommitted node "
        "whose neighbours take the rest of its core, CPU steal on a noisy host), so each of its requests' 2 ms of "
        "CPU takes ~8 ms, and longer when they queue. Emulated with the same SIGSTOP/SIGCONT cycle at a fine "
        f"grain: it runs {DEGRADED_RUN_MS} ms of every {DEGRADED_PERIOD_MS:.0f} ms, so a request is slowed "
        "rather than stalled for 75 ms, and the pod takes no one else's CPU. The load keeps the fast pods about "
        "a third busy (~500 req/s of 2 ms of CPU over three pods), so a third of it (~170 req/s x 2 ms = ~340 "
        "ms of CPU per second) is more than the slow pod's ~250 ms: under round-robin requests queue there "
        f"(up to its maxconn: {CONNECTIONS_PER_WORKER} per worker, more than this load's {3 * PACED_CONNECTIONS} "
        "connections, so it never skips it)."
    )
    scenarios = [
        (
            "degraded",
            f"### Slow per request: one pod on a degraded node, a quarter of the CPU (`GET {DEGRADED_PATH}`, "
            f"three wrk x {PACED_CONNECTIONS} connections, {think} think time)",
            degraded_desc,
        ),
        (
            "throttled-paced",
            f"### A CPU-throttled pod, the paced load (`GET {SLOW_PATH}`, three wrk x {PACED_CONNECTIONS} "
            f"connections, {think} think time)",
            throttle_desc,
        ),
        (
            "throttled-busy",
            f"### A CPU-throttled pod, busy clients (`GET /`, trivial, three wrk x {BUSY_CONNECTIONS} connections, "
            "closed loop)",
            throttle_desc,
        ),
        (
            "burning-busy",
            f"### The earlier scenario: a CPU-burning neighbour (`GET /healthz`, three wrk x {BUSY_CONNECTIONS} "
            "connections, closed loop)",
            "App 1 is kept busy by direct /work?ms=40 requests: a request HAProxy sends there waits up to 40 ms. "
            "On this 2-core machine the burning also takes CPU from HAProxy, wrk and the other two apps, so "
            "this row measures the machine as much as the strategy; kept for comparison with earlier runs.",
        ),
    ]
    cuts: dict[str, float] = {}
    lines += ["## One slow pod: least-connections against round-robin", ""]
    for key, title, desc in scenarios:
        table, cuts[key] = slow_table(slow[key]["round-robin"], slow[key]["least-connections"])
        lines += [title, "", desc, "", *table, ""]
        if key in share:
            lines += [
                "Share of the requests the slow pod served (its own request counter; median over the rounds): "
                + ", ".join(f"{s} {median(share[key][s]):.1%}" for s in ("round-robin", "least-connections"))
                + ".",
                "",
            ]
        if key == "degraded":
            rr, lc = slow["degraded-earlier"]["round-robin"], slow["degraded-earlier"]["least-connections"]
            cuts["degraded-earlier"] = ratio(rr, lc, "p99_ms")
            earlier_share = share["degraded-earlier"]
            lines += [
                f"The same at {EARLIER}: p99 round-robin {median([r.p99_ms for r in rr]):.2f} ms, "
                f"least-connections {median([r.p99_ms for r in lc]):.2f} ms, **cut {cuts['degraded-earlier']:.1f}x**; "
                f"p90 cut {ratio(rr, lc, 'p90_ms'):.1f}x; the slow pod's share: round-robin "
                f"{median(earlier_share['round-robin']):.1%}, least-connections "
                f"{median(earlier_share['least-connections']):.1%}. At 4 round-robin skips the slow pod while it "
                f"holds {EARLIER_MAXCONN}, so fewer requests queue there: the lower limit shortened round-robin's "
                f"tail, which the operator's {CONNECTIONS_PER_WORKER} no longer does (its cost; see "
                "reconcile/haproxy_config.py).",
                "",
            ]
    lines += [
        "Reading these. A pod slow per request with too little capacity for its share (the degraded node): "
        "round-robin sends it a third of the requests whatever it holds, they arrive faster than it serves "
        "them and queue, and a third of all requests wait in that queue, so p90 and p99 are the queue. "
        "least-connections sends the next request to the pod with the fewest in flight, so the slow pod gets "
        "a request only when it has no more in flight than the others: it gets less than its capacity, "
        "nothing (or little) queues there, and its requests take their slowed time plus at most a short wait; "
        "p99 falls from round-robin's queue to that. A throttled pod is fast while it runs and stalled while it stands; p99 is set by how many "
        "requests land on it during a stall. Least-connections sends it the next request whenever its requests in "
        "flight are not more than another pod's; when the other pods often hold zero or one (this load), the "
        "stalled pod still gets one or two requests per stall. Round-robin gives it its turn until it holds its "
        f"maxconn and then skips it (at {CONNECTIONS_PER_WORKER} per worker, more than these loads' 6 or 12 "
        "connections, never: its share is a third). Either way more than 1 % of the requests wait out a stall, so "
        "p99 stays in the stall for both, while least-connections cuts p90 and p50 (fewer requests wait) and "
        "serves more. In general least-connections equalises the requests in flight, so a pod whose requests "
        "take L_slow gets about L_fast / (L_fast + 2 L_slow) of them with three pods, against 1/3 with "
        "round-robin; p99 leaves the slow region only when the slow requests are under 1 %.",
        "",
    ]

    def met_for(p50: dict[str, dict[str, tuple[float, float]]]) -> str:
        """Per path: met or not, and per strategy the p50 ratio and the added time (to 10 us, as in the tables)."""
        return "; ".join(
            f"`{path}` **{goal_words(max(p50[path][s][0] for s in STRATEGIES) <= 1.10)}** ("
            + ", ".join(f"{s} x{p50[path][s][0]:.2f}, {round(p50[path][s][1] * 100) * 10:+d} us" for s in STRATEGIES)
            + ")"
            for path in PATHS
        )

    throttled_cuts = [cuts["throttled-paced"], cuts["throttled-busy"]]
    degraded = cuts["degraded"]
    lines += [
        "## Goals",
        "",
        "* HAProxy adds <= 10 % to p50 at the same offered load, per request, for every strategy (p50 through "
        f"HAProxy / direct; ip-hash / direct to one pod): {met_for(paced_p50)}. One request at a "
        f"time (direct: one pod): {met_for(closed_p50)}.",
        "* least-connections cuts p99 with one slow pod >= 2x against round-robin: a pod slow per request "
        f"(a degraded node, a quarter of the CPU, CPU-bound requests): **{goal_words(degraded >= 2)}** "
        f"({degraded:.1f}x; {cuts['degraded-earlier']:.1f}x at {EARLIER}, where round-robin's tail was shorter); "
        f"a CPU-throttled pod that stalls 75 ms of every 100: **{goal_words(min(throttled_cuts) >= 2)}** (paced "
        f"{cuts['throttled-paced']:.1f}x, busy clients {cuts['throttled-busy']:.1f}x); the CPU-burning "
        f"neighbour: **{goal_words(cuts['burning-busy'] >= 2)}** ({cuts['burning-busy']:.1f}x).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    with TemporaryDirectory() as tmp:
        closed, paced, slow, reuse, share = measure(Path(tmp))
    text = report(closed, paced, slow, reuse, share)
    OUT.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
