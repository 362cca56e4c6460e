"""webscale_local.wrk, webscale_local.throttle and the rig's config: what bench/lb.py reports is computed right."""

from __future__ import annotations

import subprocess

import pytest
from webscale_local import wrk
from webscale_local.lb_rig import rig_config
from webscale_local.throttle import throttled
from webscale_local.waiting import wait_for

from webscale.reconcile import haproxy_config


def output(requests: int, latency_us: list[int], errors: int = 0, non2xx: int = 0) -> str:
    """wrk's output with our Lua script's lines: one latency per quantile of wrk.QUANTILES."""
    lines = ["Running 3s test @ http://127.0.0.1:1/", f"Requests/sec:   {requests / 3:.2f}"]
    if non2xx:
        lines.append(f"  Non-2xx or 3xx responses: {non2xx}")
    lines.append(f"webscale requests {requests} errors {errors}")
    lines += [f"webscale q {i} {us}" for i, us in enumerate(latency_us, start=1)]
    return "\n".join(lines)


def flat(requests: int, ms: float) -> wrk._One:
    return wrk.parse(output(requests, [int(ms * 1000)] * len(wrk.QUANTILES)))


def test_parse_reads_requests_errors_and_every_quantile_in_ms():
    ramp = [100 * i for i in range(1, len(wrk.QUANTILES) + 1)]
    one = wrk.parse(output(300, ramp, errors=2, non2xx=5))
    assert one.requests == 300 and one.rps == pytest.approx(100.0)
    assert one.errors == 7  # socket errors and non-2xx answers alike
    assert one.quantiles[0] == pytest.approx(0.1) and one.quantiles[-1] == pytest.approx(len(ramp) / 10)


def test_parse_refuses_output_without_the_script_lines():
    with pytest.raises(RuntimeError, match="cannot read wrk"):
        wrk.parse("Requests/sec: 10.0\n")


def test_merged_quantiles_weigh_each_process_by_its_requests():
    fast, slow = flat(900, 1.0), flat(100, 10.0)
    assert wrk.merged_quantile([fast, slow], 50) == pytest.approx(1.0)
    assert wrk.merged_quantile([fast, slow], 89) == pytest.approx(1.0)
    assert wrk.merged_quantile([fast, slow], 99) == pytest.approx(10.0)
    # the same two distributions with the weights swapped: the median moves to the slow one
    assert wrk.merged_quantile([flat(100, 1.0), flat(900, 10.0)], 50) == pytest.approx(10.0)


def test_merged_quantile_of_one_process_is_its_own():
    ramp = [100 * i for i in range(1, len(wrk.QUANTILES) + 1)]
    one = wrk.parse(output(1000, ramp))
    assert wrk.merged_quantile([one], 50) == pytest.approx(one.quantiles[wrk.QUANTILES.index(50.0)])
    assert wrk.merged_quantile([one], 99) == pytest.approx(one.quantiles[wrk.QUANTILES.index(99.0)])


def test_the_lua_script_paces_only_when_asked(tmp_path):
    paced = wrk.script(tmp_path, (10, 30), seed=1).read_text()
    closed = wrk.script(tmp_path, None, seed=1).read_text()
    assert "function delay()" in paced and "low, high = 10, 30" in paced
    assert "function delay()" not in closed
    assert "latency:percentile(q)" in closed


def state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_throttled_stops_the_process_in_cycles_and_always_leaves_it_running():
    child = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(ValueError, match="between 0 and the period"), throttled(child.pid, 100, 1):
            pass
        seen = set()
        with throttled(child.pid, run_ms=20, max_seconds=5):
            wait_for(lambda: seen.add(state(child.pid)) or {"T", "S"} <= seen, 2, 0.005, "stopped and running states")
        assert "T" in seen and "S" in seen  # it was stopped and it ran
        assert state(child.pid) != "T"
    finally:
        child.kill()
        child.wait()


def test_throttled_at_a_fine_grain_also_stops_and_resumes_the_process():
    """bench/lb.py's degraded node: 2.5 ms of every 10 ms."""
    child = subprocess.Popen(["sleep", "30"])
    try:
        seen = set()
        with throttled(child.pid, run_ms=2.5, max_seconds=5, period_ms=10):
            wait_for(lambda: seen.add(state(child.pid)) or {"T", "S"} <= seen, 2, 0.0005, "stopped and running states")
        assert "T" in seen and "S" in seen
        assert state(child.pid) != "T"
    finally:
        child.kill()
        child.wait()


def test_the_rig_config_replaces_only_the_per_pod_maxconn_when_asked():
    own = rig_config("round-robin", "127.0.0.1:5353", 18080, 18404)
    earlier = rig_config("round-robin", "127.0.0.1:5353", 18080, 18404, server_maxconn=4)
    assert f" maxconn {haproxy_config.CONNECTIONS_PER_WORKER} " in own  # the rig's app runs one worker per pod
    assert " maxconn 4 " in earlier and f" maxconn {haproxy_config.CONNECTIONS_PER_WORKER} " not in earlier
    assert earlier.replace(" maxconn 4 ", f" maxconn {haproxy_config.CONNECTIONS_PER_WORKER} ") == own
