"""webscale_local.cold_start_report: what bench/node_zero.py reports about cold starts is computed right."""

from __future__ import annotations

import pytest
from webscale_local import node_report
from webscale_local.cold_start_report import (
    END,
    START,
    ColdStart,
    active_servers,
    created_after,
    goal_met,
    render,
    steps_table,
)

HAPROXY = """# HELP haproxy_backend_active_servers Current number of active servers.
# TYPE haproxy_backend_active_servers gauge
haproxy_backend_active_servers{proxy="pods"} 1
haproxy_backend_active_servers{proxy="stats"} 0
# HELP haproxy_backend_backup_servers Current number of backup servers.
# TYPE haproxy_backend_backup_servers gauge
haproxy_backend_backup_servers{proxy="pods"} 0
"""


def sample(**steps: float | None) -> ColdStart:
    return ColdStart(app="cold-0", **steps)  # type: ignore[arg-type]


def test_gaps_are_each_step_after_the_one_before_and_skip_what_was_not_seen() -> None:
    s = sample(decided=0.5, created=0.7, listening=None, ready=5.2, endpoint=5.3, usable=6.0, served=6.1)
    gaps = s.gaps()
    assert gaps["decided"] == pytest.approx(0.5)
    assert gaps["created"] == pytest.approx(0.2)
    assert gaps["listening"] is None
    assert gaps["ready"] == pytest.approx(4.5)  # after the last step seen (created)
    assert gaps["served"] == pytest.approx(0.1)
    assert sum(g for g in gaps.values() if g is not None) == pytest.approx(6.1)


def test_a_dns_answer_before_the_endpoint_is_the_cached_pod_that_left_not_the_new_one() -> None:
    s = sample(decided=0.4, created=0.5, ready=2.5, endpoint=2.6, dns=0.02, usable=6.0, served=6.1)
    assert s.gaps()["dns"] is None
    assert s.gaps()["usable"] == pytest.approx(3.4)  # after the endpoint, the last step seen
    s.dns = 5.5
    assert s.gaps()["dns"] == pytest.approx(2.9) and s.gaps()["usable"] == pytest.approx(0.5)


def test_created_after_is_against_the_second_the_request_was_sent_in() -> None:
    sent = 1_764_800_000.7  # 2025-12-03T22:13:20.7Z
    assert created_after("2025-12-03T22:13:20Z", sent)  # same second: kept to the second, so "after"
    assert created_after("2025-12-03T22:13:21+00:00", sent)
    assert not created_after("2025-12-03T22:13:19Z", sent)


def test_active_servers_reads_the_named_backend_only() -> None:
    assert active_servers(HAPROXY, "pods") == 1
    assert active_servers(HAPROXY, "stats") == 0
    assert active_servers(HAPROXY, "missing") == 0
    assert active_servers("", "pods") == 0


def test_goal_is_p99_within_the_pods_own_p99_start_plus_one_second() -> None:
    bare = [4.0, 5.0, 6.0]
    assert goal_met([6.5] * 19 + [7.0], bare)
    assert not goal_met([6.5] * 19 + [7.01], bare)
    assert not goal_met([], bare) and not goal_met([1.0], [])


def test_steps_table_counts_what_was_seen_per_step() -> None:
    text = steps_table([sample(decided=0.4, served=6.0), sample(decided=0.6, created=0.8, served=5.0)])
    decided = next(line for line in text.splitlines() if "spec.replicas 0 -> 1" in line)
    created = next(line for line in text.splitlines() if "pod object created" in line)
    assert decided.rstrip(" |").split(" | ")[1:5] == ["2", "0.40", "0.60", "0.60"]
    assert created.split(" | ")[1] == "1"


def test_render_says_whether_the_goal_is_met_and_counts_failures() -> None:
    fast = sample(decided=0.4, served=3.0)
    fast.latencies, fast.pod_after_request = [3.0, 3.1], True
    slow = sample(decided=0.4, served=9.0)
    slow.latencies, slow.failed = [9.0], 1
    text = render([fast, slow], {"own": [5.0, 6.0], "quick": [2.0]}, "header", "setup")
    assert "**not met** (p99 9.00 s over 2 cold starts)" in text
    assert "7.00 s" in text  # the goal: the own pod's p99 6.00 + 1
    assert "Requests sent while at zero: 4, answered 200: 3, failed: 1." in text
    assert "created after the request was sent: 1 of 2" in text
    assert "**met**" in render([fast], {"own": [5.0]}, "h", "s")


def test_its_section_is_replaced_between_its_own_markers_only() -> None:
    doc = node_report.replace_section("# title\n", "node bench")
    doc = node_report.replace_section(doc, "zero 1", (START, END))
    doc = node_report.replace_section(doc, "zero 2", (START, END))
    assert doc.count("node bench") == 1 and "zero 1" not in doc and doc.count("zero 2") == 1
    assert doc.index(node_report.END) < doc.index(START)


def test_a_dns_answer_after_haproxy_had_the_pod_from_the_operator_is_off_the_path() -> None:
    s = sample(decided=0.1, created=0.3, ready=2.5, endpoint=2.6, dns=6.0, usable=2.7, served=2.75)
    gaps = s.gaps()
    assert gaps["dns"] is None
    assert gaps["usable"] == pytest.approx(0.1)  # after the EndpointSlice, not after the late DNS answer
    assert gaps["served"] == pytest.approx(0.05)
