"""webscale_local.node_report and LoadStats.record: what bench/node_bench.py reports is computed right."""

from __future__ import annotations

import math

import pytest
from webscale_local.load import LoadStats
from webscale_local.node_report import END, START, percentile, replace_section, seconds, served, table

METRICS = """# HELP http_requests_total HTTP requests completed, by method, Express route pattern and status code.
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/",status="200"} 7
http_requests_total{method="GET",route="/io",status="200"} 3
http_requests_total{method="GET",route="unmatched",status="404"} 5
# HELP http_requests_in_flight HTTP requests being served right now.
# TYPE http_requests_in_flight gauge
http_requests_in_flight 1
"""


def test_percentile_is_the_nearest_rank() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0.5) == 2.0
    assert percentile(values, 1.0) == 4.0
    assert percentile(values, 0.01) == 1.0
    hundred = [float(i) for i in range(1, 101)]
    assert percentile(hundred, 0.99) == 99.0
    assert percentile(hundred, 0.5) == 50.0


def test_percentile_of_nothing_is_nan_and_a_bad_q_is_refused() -> None:
    assert math.isnan(percentile([], 0.5))
    for q in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match="q must be"):
            percentile([1.0], q)


def test_served_sums_the_request_counter_without_unmatched_routes() -> None:
    assert served(METRICS) == 10
    assert served("# TYPE http_requests_in_flight gauge\nhttp_requests_in_flight 0\n") == 0


def test_table_renders_markdown_and_refuses_a_short_row() -> None:
    assert table(["a", "b"], [["1", "2"]]) == "| a | b |\n| --- | --- |\n| 1 | 2 |"
    with pytest.raises(ValueError, match="has 1 cells"):
        table(["a", "b"], [["1"]])


def test_seconds_formats_and_marks_what_was_not_measured() -> None:
    assert seconds(1.234) == "1.23"
    assert seconds(None) == "-"
    assert seconds(math.nan) == "-"


def test_replace_section_appends_once_then_replaces_only_its_own_text() -> None:
    hand = "# A real node\n\n## Start\n\nhand-made numbers\n"
    first = replace_section(hand, "## Bench\n\nrun 1")
    assert first.startswith(hand.rstrip("\n"))
    assert f"{START}\n## Bench\n\nrun 1\n{END}\n" in first
    later = first + "\n## Notes after\n\nkept\n"
    second = replace_section(later, "## Bench\n\nrun 2")
    assert "run 1" not in second and "run 2" in second
    assert second.count(START) == 1 and second.count(END) == 1
    assert "hand-made numbers" in second and "## Notes after\n\nkept" in second


def test_replace_section_refuses_broken_markers() -> None:
    for broken in (f"x {START} y", f"x {END} y", f"{END} x {START}"):
        with pytest.raises(ValueError, match="markers are broken"):
            replace_section(broken, "body")


def test_load_stats_keep_the_latency_of_answered_requests_only() -> None:
    stats = LoadStats()
    stats.record(None, 0.004)
    stats.record("HTTP 503", 0.002)
    stats.record("ConnectionResetError", 0.5)
    stats.record(None, 0.006)
    assert (stats.sent, stats.ok, stats.failed) == (4, 2, 2)
    assert stats.latencies == [0.004, 0.006]
    assert stats.summary() == "2 ok, 2 failed (HTTP 503: 1, ConnectionResetError: 1)"
