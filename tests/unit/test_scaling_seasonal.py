"""The seasonal prior (autoscaling.seasonal): pre-warm for the load of the same time yesterday or last
week. The rule, its words, its batched query and the simulator's reading of it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError
from test_metrics import apps, make_source
from test_metrics_parse import sample
from test_scaling import make_spec, running

from webscale.api.crd import crd
from webscale.api.models import format_validation_error
from webscale.api.observation import Observation, SeasonalReading
from webscale.api.ref import AppRef
from webscale.autoscaling.decide import History, decide
from webscale.autoscaling.rules import SEASONAL_LEVEL_BOUNDS, seasonal_prior
from webscale.metrics.parse import seasonal_readings
from webscale.metrics.prometheus import AppQuery
from webscale.promql import queries as promql
from webscale.simulate import Trace, World, simulate
from webscale.simulate.engine import Load, View
from webscale.simulate.webscale_policy import Webscale, default_spec

DAY = 86400.0
NOW = 3 * DAY + 9 * 3600 - 300  # 08:55 UTC on the fourth day
SEASONAL = {"seasonal": {"offset": "24h"}, "target": {"cpuUtilization": None}, "headroom": {"quantile": None}}


def seen(ahead: float, then: float, now: float) -> SeasonalReading:
    return SeasonalReading(offset=DAY, lookahead=300, level_window=3600, ahead_rps=ahead, then_rps=then, now_rps=now)


@pytest.mark.parametrize(
    ("reading", "expected_rps", "expected_level"),
    [
        (seen(1200, 400, 400), 1200, 1.0),  # the same day again
        (seen(1200, 400, 360), 1080, 0.9),  # today 10 % quieter
        (seen(1200, 100, 1000), 1200 * SEASONAL_LEVEL_BOUNDS[1], SEASONAL_LEVEL_BOUNDS[1]),  # bounded
        (seen(1200, 400, 0), 1200 * SEASONAL_LEVEL_BOUNDS[0], SEASONAL_LEVEL_BOUNDS[0]),
    ],
)
def test_seasonal_prior_table(reading, expected_rps, expected_level):
    prior = seasonal_prior(make_spec(SEASONAL).autoscaling, reading)
    assert prior is not None
    assert (prior.rps, prior.level) == (pytest.approx(expected_rps), pytest.approx(expected_level))


def test_seasonal_prior_is_off_by_default_and_without_a_reading_or_traffic_then():
    assert seasonal_prior(make_spec().autoscaling, seen(1200, 400, 400)) is None
    assert seasonal_prior(make_spec(SEASONAL).autoscaling, None) is None
    assert seasonal_prior(make_spec(SEASONAL).autoscaling, seen(1200, 0, 400)) is None


def test_pre_warms_for_yesterdays_peak_and_says_so():
    obs = Observation(at=NOW, requests_per_second=300, seasonal=seen(900, 400, 360))
    decision = decide(make_spec(SEASONAL), obs, running(4), History(), NOW)
    # 900 x 0.9 = 810 req/s -> 9 pods of 100 req/s; +4 pods per 15 s at most
    assert (decision.replicas, decision.sized_by, decision.seasonal_rps) == (8, "seasonal", pytest.approx(810))
    assert decision.message.startswith(
        "810 req/s (pre-warmed for yesterday's 08:55-09:00 UTC peak: 900 req/s then, x0.90 for today's level "
        "over the last 1 h; 300 req/s over the rate window) needs 9 pods"
    )


def test_the_prior_never_lowers_a_decision():
    obs = Observation(at=NOW, requests_per_second=800, seasonal=seen(100, 400, 400))
    decision = decide(make_spec(SEASONAL), obs, running(8), History(), NOW)
    assert decision.replicas == 8 and decision.sized_by != "seasonal"


@pytest.mark.parametrize(
    ("seasonal", "field"),
    [
        ({"offset": "30m"}, "spec.autoscaling.seasonal.offset"),
        ({"offset": "24h", "lookahead": "5s"}, "spec.autoscaling.seasonal.lookahead"),
        ({"offset": "24h", "levelWindow": "30h"}, "spec.autoscaling.seasonal.levelWindow"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(seasonal, field):
    with pytest.raises(ValidationError) as caught:
        make_spec({"seasonal": seasonal})
    assert format_validation_error(caught.value).startswith(f"{field}: ")


def test_the_crd_carries_the_cross_field_rules():
    text = json.dumps(crd())
    assert "autoscaling.seasonal.lookahead must be shorter than autoscaling.seasonal.offset" in text
    assert "autoscaling.seasonal.offset needs no metrics.requestRate" in text
    assert "autoscaling.seasonal.offset must be 0s or between 1h and 168h" in text


# ---- the query ---------------------------------------------------------------------------------


def test_the_query_reads_the_same_series_then_and_now():
    query = promql.seasonal_query("app", DAY, 300, 3600, "1m", 15)
    assert query == (
        'label_replace(max_over_time((sum by (namespace, app) (rate(http_requests_total{managed_by="webscale"}[1m])))'
        '[300s:15s] offset 86100s), "webscale_signal", "seasonal_ahead", "", "") or '
        'label_replace(sum by (namespace, app) (rate(http_requests_total{managed_by="webscale"}[3600s] '
        'offset 86400s)), "webscale_signal", "seasonal_then", "", "") or '
        'label_replace(sum by (namespace, app) (rate(http_requests_total{managed_by="webscale"}[3600s])), '
        '"webscale_signal", "seasonal_now", "", "")'
    )
    at_lb = promql.seasonal_query("loadbalancer", 3600, 3600, 600, "1m", 15)
    assert "haproxy_backend_http_requests_total" in at_lb and "[3600s:15s])" in at_lb  # no offset 0s


def test_readings_need_all_three_series():
    keys = [AppRef("default", "a"), AppRef("default", "b")]
    result = [
        sample("default", "a", "900", webscale_signal="seasonal_ahead"),
        sample("default", "a", "400", webscale_signal="seasonal_then"),
        sample("default", "a", "360", webscale_signal="seasonal_now"),
        sample("default", "b", "900", webscale_signal="seasonal_ahead"),
    ]
    got = seasonal_readings(result, keys, (DAY, 300.0, 3600.0))
    assert got == {keys[0]: seen(900, 400, 360)}


def answers(query: str) -> Any:
    if query.startswith("label_replace(max_over_time"):
        out = [sample("default", f"app{i}", "900", webscale_signal="seasonal_ahead") for i in range(3)]
        out += [sample("default", f"app{i}", "400", webscale_signal="seasonal_then") for i in range(3)]
        return out + [sample("default", f"app{i}", "360", webscale_signal="seasonal_now") for i in range(2)]
    if query.startswith("sum by (namespace, app) (rate(http_requests_total"):
        return [sample("default", f"app{i}", "300") for i in range(5)]
    raise AssertionError(f"unexpected query {query}")


def test_all_apps_with_one_setting_cost_one_more_query():
    source, _ = make_source(answers, scrape_interval=15.0)
    setting = (DAY, 300.0, 3600.0)
    group = [*apps(3, cpu_source=None, seasonal=setting), *apps(5, cpu_source=None)[3:]]
    got = source.observe(group, now=NOW)
    assert source.last_poll_queries == 2  # the request rate, and the seasonal query for app0..app2
    assert got[AppRef("default", "app1")].seasonal == seen(900, 400, 360)
    assert got[AppRef("default", "app2")].seasonal is None  # no "now" series: no prior, not a failure
    assert got[AppRef("default", "app2")].ok
    assert got[AppRef("default", "app4")].seasonal is None


def test_the_app_query_takes_the_setting_from_the_spec():
    spec = make_spec({"seasonal": {"offset": "168h", "lookahead": "10m", "levelWindow": "2h"}})
    assert AppQuery.from_spec(AppRef("default", "shop"), spec).seasonal == (7 * DAY, 600.0, 7200.0)
    assert AppQuery.from_spec(AppRef("default", "shop"), make_spec()).seasonal is None


# ---- the simulator ------------------------------------------------------------------------------

WORLD = World(startup_delay=2, scrape_interval=5, rate_window=10, min_replicas=1, max_replicas=10)


def test_the_simulated_reading_is_the_load_of_then():
    trace = Trace("two", (100.0,) * 50 + (400.0,) * 10 + (100.0,) * 40 + (200.0,) * 100)
    view = View(150, 1, 1, Load.of(trace), WORLD)
    ahead, then, now = view.seasonal(100, 20, 40) or (0, 0, 0)
    # then = 50: the highest 10 s rate of seconds 50..70 is 400; the 40 s before 50 averaged 100
    assert (ahead, then, now) == (400.0, 100.0, 200.0)
    assert View(120, 1, 1, Load.of(trace), WORLD).seasonal(100, 20, 40) is None  # no data that far back


def test_a_daily_peak_is_pre_warmed_on_the_second_day():
    """Two identical "days" (of an hour: the shortest offset) with a sharp peak: on the second, the
    prior starts pods before the peak, so it spends fewer seconds under capacity than without it;
    on the first, with no yesterday, both runs are the same."""
    day = (100.0,) * 3000 + (600.0,) * 60 + (100.0,) * 540
    trace = Trace("two days", day * 2)
    world = World(startup_delay=30, scrape_interval=15, min_replicas=1, max_replicas=20)
    prior = {"seasonal": {"offset": "1h", "lookahead": "2m", "levelWindow": "10m"}}
    off = simulate(trace, Webscale(default_spec(world)), world)
    on = simulate(trace, Webscale(default_spec(world, prior)), world)
    assert on.replicas[:3600] == off.replicas[:3600]
    under = [sum(1 for s in range(3600, 7200) if trace.rps[s] > r.capacity[s]) for r in (off, on)]
    assert under[0] > 0
    assert under[1] < under[0]
