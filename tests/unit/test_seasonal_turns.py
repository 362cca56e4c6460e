"""autoscaling.seasonal's queries take turns (metrics.seasonal_turns, PrometheusSource): however many
settings one namespace invents, a poll makes at most two seasonal queries, every namespace gets its
turn, and a reading serves its apps for a minute while other settings are read."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from test_metrics import make_source
from test_metrics_parse import sample

from webscale.api.observation import SeasonalReading
from webscale.api.ref import AppRef
from webscale.metrics.prometheus import SEASONAL_MAX_AGE, SEASONAL_QUERIES_PER_POLL, AppQuery
from webscale.metrics.seasonal_turns import seasonal_turn

URL = "http://prometheus.monitoring:9090"
DAY = 86400.0


def test_the_namespace_served_longest_ago_goes_first_and_picks_its_oldest_setting():
    users = {"a1": {"noisy"}, "a2": {"noisy"}, "a3": {"noisy"}, "b": {"quiet"}}
    last = {"a1": 10.0, "a2": 5.0, "a3": 20.0, "b": 8.0}
    assert seasonal_turn(users, last, 2) == ["b", "a2"]  # quiet last served at 8, noisy at 20; then noisy's oldest
    assert seasonal_turn(users, {"a1": 10.0, "a2": 5.0, "a3": 6.0, "b": 20.0}, 2) == ["a2", "b"]
    assert seasonal_turn(users, {}, 5) == ["a1", "b", "a2", "a3"]  # never read: all of them, namespaces in turn


def test_a_setting_shared_by_namespaces_is_queried_once():
    users = {"shared": {"x", "y"}, "own": {"y"}}
    assert sorted(seasonal_turn(users, {}, 5)) == ["own", "shared"]


@given(
    st.dictionaries(st.integers(0, 40), st.sets(st.sampled_from("abcdef"), min_size=1), max_size=30),
    st.integers(1, 5),
)
def test_every_namespace_is_served_within_a_bounded_number_of_polls(users, budget):
    """Polls in a row, each reading its turn: every namespace gets a turn within (namespaces / budget)
    polls, whatever the number of settings another namespace uses; no poll reads more than `budget`."""
    last: dict[int, float] = {}
    namespaces = {ns for used in users.values() for ns in used}
    served_at: dict[str, list[int]] = {ns: [] for ns in namespaces}
    polls = 3 * (len(namespaces) // budget + 1)
    for t in range(polls):
        turn = seasonal_turn(users, last, budget)
        assert len(turn) == min(budget, len(users)) and len(set(turn)) == len(turn)
        for setting in turn:
            last[setting] = float(t)
            for ns in users[setting]:
                served_at[ns].append(t)
    gap = -(-len(namespaces) // budget)  # ceil
    for ns, times in served_at.items():
        assert times and times[0] < gap, (ns, times)
        assert all(b - a <= gap for a, b in itertools.pairwise(times)), (ns, times)


def seasonal_answers(queries: list[str]) -> Any:
    def answer(query: str) -> Any:
        queries.append(query)
        if "max_over_time" in query:
            return [
                sample(ns, f"app{i}", str(v), webscale_signal=s)
                for ns in ("noisy", "quiet")
                for i in range(10)
                for s, v in (("seasonal_ahead", 900), ("seasonal_then", 400), ("seasonal_now", 360))
            ]
        return [sample(ns, f"app{i}", "300") for ns in ("noisy", "quiet") for i in range(10)]

    return answer


def test_a_poll_makes_at_most_two_seasonal_queries_and_young_readings_serve_the_rest():
    queries: list[str] = []
    source, _ = make_source(seasonal_answers(queries), scrape_interval=15.0)
    noisy = [  # ten settings in one namespace
        AppQuery(AppRef("noisy", f"app{i}"), URL, cpu_source=None, seasonal=(DAY + 3600 * i, 300.0, 3600.0))
        for i in range(10)
    ]
    quiet = [AppQuery(AppRef("quiet", "app0"), URL, cpu_source=None, seasonal=(DAY, 600.0, 3600.0))]
    seen: list[set[AppRef]] = []
    for t in range(6):
        before = len(queries)
        got = source.observe([*noisy, *quiet], now=1000.0 + 15 * t)
        seasonal_queries = [q for q in queries[before:] if "max_over_time" in q]
        assert len(seasonal_queries) <= SEASONAL_QUERIES_PER_POLL
        seen.append({ref for ref, o in got.items() if isinstance(o.seasonal, SeasonalReading)})
    quiet_ref = AppRef("quiet", "app0")
    assert all(quiet_ref in s for s in seen)  # its turn every other poll, its reading kept in between
    assert len(seen[-1] - {quiet_ref}) == 5  # one noisy setting a poll: the five read within the last minute
    got = source.observe([*noisy, *quiet], now=1000.0 + 15 * 5 + SEASONAL_MAX_AGE + 15)
    stale = {ref for ref, o in got.items() if isinstance(o.seasonal, SeasonalReading)}
    assert quiet_ref in stale and len(stale) <= 1 + SEASONAL_QUERIES_PER_POLL


def test_a_poll_of_other_apps_keeps_the_readings_of_the_settings_it_does_not_use():
    """Apps are polled in several groups (their own intervals, template apps one by one): a group that
    uses no seasonal setting must not make every setting look never read, or the same ones win every turn."""
    queries: list[str] = []
    source, _ = make_source(seasonal_answers(queries), scrape_interval=15.0)
    settings = [(DAY + 3600 * i, 300.0, 3600.0) for i in range(3)]
    group = [
        AppQuery(AppRef(ns, "app0"), URL, cpu_source=None, seasonal=s) for ns, s in zip("abc", settings, strict=True)
    ]
    plain = [AppQuery(AppRef("d", "app0"), URL, cpu_source=None)]
    read: set[str] = set()
    for t in range(4):
        before = len(queries)
        source.observe(group, now=1000.0 + 15 * t)
        read.update(q for q in queries[before:] if "max_over_time" in q)
        source.observe(plain, now=1000.0 + 15 * t + 1)  # another group, no seasonal setting
    assert len(read) == 3  # every setting got its turn
