"""`make load`: a bounded load ramp on the app `make run` runs, and the operator scaling it.

Sends requests only to the sample-app processes on 127.0.0.1 that `make run` started (read from
its stack.json), in steps bounded in time and count, prints what the operator observes and
decides every few seconds, then waits (bounded) for the scale-down after the load stops, saying
what holds it: the windows of the app's spec, then what each decision says.

    make load                         # default ramp
    make load RAMP="20:20 60:40"      # requests/s:seconds steps (each at most 200 req/s, 120 s)
"""

from __future__ import annotations

import os
import sys
import time

from kubernetes import client, config
from webscale_local.holds import scale_down_holds
from webscale_local.load import Load
from webscale_local.stack import read_state
from webscale_local.watch import G, P, V, Watcher

DEFAULT_RAMP = "25:25 50:35"
MAX_RATE, MAX_STEP_SECONDS, MAX_STEPS = 200.0, 120.0, 6
SCALE_DOWN_EXTRA = 90.0  # seconds beyond the windows: the request rate's own window, polls, the steps down


def parse_ramp(text: str) -> list[tuple[float, float]]:
    """'25:25 50:35' -> [(25.0, 25.0), (50.0, 35.0)], each step within the bounds."""
    steps = []
    for part in text.split():
        rate, _, seconds = part.partition(":")
        step = (float(rate), float(seconds or 30))
        if not (0 < step[0] <= MAX_RATE and 0 < step[1] <= MAX_STEP_SECONDS):
            raise SystemExit(f"load: step {part!r}: rate in (0, {MAX_RATE}] req/s, seconds in (0, {MAX_STEP_SECONDS}]")
        steps.append(step)
    if not 0 < len(steps) <= MAX_STEPS:
        raise SystemExit(f"load: give 1 to {MAX_STEPS} steps, not {len(steps)}")
    return steps


def main() -> int:
    ramp = parse_ramp(os.environ.get("RAMP") or DEFAULT_RAMP)
    state = read_state()
    api = config.new_client_from_config(config_file=state["kubeconfig"])
    ns, name = state["namespace"], state["app"]
    spec = client.CustomObjectsApi(api).get_namespaced_custom_object(G, V, ns, P, name)["spec"]
    minimum = spec["replicas"]["min"]
    holds, longest = scale_down_holds(spec)
    watcher = Watcher(api, ns, name)
    watcher.mark_seen()
    print(f"load: {ns}/{name} through {', '.join(state['apps'])}; ramp {ramp} (req/s, s)", flush=True)
    for rate, duration in ramp:
        with Load(state["apps"], rate=rate, duration=duration, path="/io?ms=5", connections=4) as load:
            while load.running:
                watcher.line(rate)
                time.sleep(3)
            stats = load.stop()
        print(f"load: step {rate:g} req/s done: {stats.summary()}", flush=True)
    print(f"load: stopped; the scale-down to {minimum} waits for {'; '.join(holds)}", flush=True)
    deadline = time.monotonic() + longest + SCALE_DOWN_EXTRA
    replicas = watcher.line(0.0, explain=True)
    while time.monotonic() < deadline and replicas > minimum:
        time.sleep(3)
        replicas = watcher.line(0.0, explain=True)
    print(f"load: done; {name} runs {replicas} replicas (min {minimum})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
