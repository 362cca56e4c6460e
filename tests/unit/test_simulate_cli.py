"""`webscale simulate`: CSV traces (with errors that name the line), output formats, plots."""

from __future__ import annotations

import csv
import io
import json

import pytest

from webscale.simulate import TraceError, main, parse_csv
from webscale.simulate.traces import load_trace


def test_csv_holds_each_rate_until_the_next_row():
    trace = parse_csv("# a comment\nt,rps\n0,100\n3,250.5  # ramp\n\n5,0\n", "mine.csv")
    assert trace.rps == (100.0, 100.0, 100.0, 250.5, 250.5, 0.0)
    assert trace.name == "mine.csv"


def test_csv_may_start_later_than_zero_and_use_fractions():
    # second 11 starts before the row at 11.5 takes over
    assert parse_csv("10,5\n11.5,7\n12,9\n").rps == (5.0, 5.0, 9.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t,rps\n0,100\n5\n", r"x\.csv:3: expected 2 fields 't,rps', got 1: '5'"),
        ("0,100\n1,2,3\n", r"x\.csv:2: expected 2 fields"),
        ("0,100\n1,lots\n", r"x\.csv:2: rps is not a number: 'lots'"),
        ("0,100\nnan,1\n", r"x\.csv:2: t must be finite"),
        ("0,100\n1,inf\n", r"x\.csv:2: rps must be finite"),
        ("0,100\n1,-3\n", r"x\.csv:2: rps must be >= 0, got -3"),
        ("-1,100\n", r"x\.csv:1: t must be >= 0, got -1"),
        ("0,100\n5,100\n5,200\n", r"x\.csv:3: t must increase, got 5 after 5"),
        ("0,1\n999999999,1\n", r"x\.csv:2: the trace is longer than"),
        ("# nothing\n\n", r"x\.csv: no rows"),
    ],
)
def test_csv_errors_name_the_line(text, message):
    with pytest.raises(TraceError, match=message):
        parse_csv(text, "x.csv")


def test_unknown_trace_is_an_error(tmp_path):
    with pytest.raises(TraceError, match="not a built-in trace"):
        load_trace(str(tmp_path / "missing.csv"))


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out, err)
    return code, out.getvalue(), err.getvalue()


def test_table_is_the_default(tmp_path):
    path = tmp_path / "flat.csv"
    path.write_text("t,rps\n0,150\n599,150\n")
    code, out, _ = run(["--trace", str(path), "--policy", "webscale", "--policy", "hpa"])
    assert code == 0
    header = "policy    pod-seconds  cost/oracle  s over capacity  requests over capacity  scaling actions"
    assert out.splitlines()[1] == header
    assert "webscale        1,200         1.00                0" in out
    assert "oracle" in out  # the baseline always runs


def test_json_and_csv(tmp_path):
    code, out, _ = run(["--trace", "spike", "--format", "json"])
    records = json.loads(out)
    assert {r["policy"] for r in records} == {"webscale", "hpa", "keda", "kpa", "oracle"}
    assert all(r["trace"] == "spike" and r["seconds"] == 1200 for r in records)
    code, out, _ = run(["--trace", "step", "--policy", "kpa", "--format", "csv"])
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["policy"] for r in rows] == ["kpa", "oracle"]


def test_bad_csv_exits_2_with_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("0,10\n1,ten\n")
    code, out, err = run(["--trace", str(path)])
    assert (code, out) == (2, "")
    assert "bad.csv:2: rps is not a number: 'ten'" in err


def test_usage_errors_and_help_return_codes():
    assert run(["--policy", "vpa"])[0] == 2
    assert run(["--outage", "9:3"])[0] == 2
    assert run(["--help"])[0] == 0


def test_plot_writes_one_png_per_trace(tmp_path):
    code, _, err = run(["--trace", "spike", "--policy", "webscale", "--plot", str(tmp_path)])
    assert code == 0
    png = tmp_path / "scaling-spike.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(png) in err


def test_world_options_change_the_result():
    _, slow, _ = run(["--trace", "step", "--policy", "hpa", "--format", "json"])
    _, fast, _ = run(
        ["--trace", "step", "--policy", "hpa", "--format", "json", "--scrape-interval", "5", "--rate-window", "20"]
    )
    over = {json.loads(x)[0]["seconds_over"] for x in (slow, fast)}
    assert len(over) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--replicas", "3:1"], "--replicas '3:1': MIN must be >= 1 and at most MAX"),
        (["--replicas", "a"], "--replicas 'a': expected MIN:MAX"),
        (["--target-utilization", "1.5"], "--target-utilization must be in (0, 1], got 1.5"),
        (["--peak", "0"], "--peak must be > 0, got 0"),
    ],
)
def test_world_options_are_checked(argv, message):
    code, out, err = run(argv)
    assert (code, out) == (2, "")
    assert message in err


def test_a_real_trace_in_the_benchmark_world(tmp_path):
    """The standard world of bench/scaling.py from the command line: peak scaled, 70 % target, 1..200 pods."""
    path = tmp_path / "real.csv"
    path.write_text("t,rps\n0,2\n60,5\n120,10\n180,3\n240,3\n")
    argv = ["--trace", str(path), "--peak", "2500", "--target-utilization", "0.7", "--replicas", "1:200"]
    code, out, _ = run([*argv, "--startup-delay", "30", "--format", "json"])
    assert code == 0
    rows = {row["policy"]: row for row in json.loads(out)}
    assert rows["oracle"]["seconds_over"] == 0
    assert rows["oracle"]["pod_seconds"] > 2500 / 70 * 60  # the peak minute alone needs 36 pods
