"""Reading query results (pure): per-app values, recent rates, and "no series" as a failure."""

from __future__ import annotations

from typing import Any

import pytest

from webscale.api.ref import AppRef
from webscale.metrics.parse import MalformedResult, cpu_usage, parse_vector, request_rates, template_rate

SHOP, API, OTHER_SHOP = AppRef("default", "shop"), AppRef("default", "api"), AppRef("billing", "shop")
WHAT = 'http_requests_total{managed_by="webscale"}'


def sample(namespace: str, app: str, value: str, **labels: str) -> dict[str, Any]:
    return {"metric": {"namespace": namespace, "app": app, **labels}, "value": [1700000000.0, value]}


def test_multiple_apps_in_one_vector():
    result = [
        sample("default", "shop", "40.5"),
        sample("billing", "shop", "13"),
        sample("default", "api", "0"),
        sample("default", "not-asked-for", "99"),
    ]
    assert request_rates(result, [SHOP, API, OTHER_SHOP], WHAT) == {
        SHOP: (40.5, None),
        API: (0.0, None),
        OTHER_SHOP: (13.0, None),
    }


def test_empty_result_is_a_failure_for_every_app_not_zero():
    assert request_rates([], [SHOP, API], WHAT) == {
        SHOP: 'no series for app "shop" in namespace "default" (http_requests_total{managed_by="webscale"})',
        API: 'no series for app "api" in namespace "default" (http_requests_total{managed_by="webscale"})',
    }


def test_zero_is_zero_traffic():
    rates = request_rates([sample("default", "shop", "0")], [SHOP], WHAT)
    assert rates == {SHOP: (0.0, None)} and isinstance(rates[SHOP][0], float)


def test_recent_rates_come_from_the_same_result():
    result = [
        sample("default", "shop", "40"),
        sample("default", "shop", "95.5", webscale_signal="recent"),
        sample("default", "api", "7"),  # no recent series: recent unknown, not a failure
        sample("billing", "shop", "13"),
        sample("billing", "shop", "NaN", webscale_signal="recent"),  # not finite: unknown
        sample("default", "burst-only", "500", webscale_signal="recent"),  # recent without the rate
    ]
    burst_only = AppRef("default", "burst-only")
    rates = request_rates(result, [SHOP, API, OTHER_SHOP, burst_only], WHAT)
    assert rates[SHOP] == (40.0, 95.5)
    assert rates[API] == (7.0, None)
    assert rates[OTHER_SHOP] == (13.0, None)
    assert rates[burst_only] == f'no series for app "burst-only" in namespace "default" ({WHAT})'


def test_other_signals_are_not_counted_as_request_rate():
    result = [sample("default", "shop", "1"), sample("default", "shop", "100", webscale_signal="something-else")]
    assert request_rates(result, [SHOP], WHAT) == {SHOP: (1.0, None)}


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf"])
def test_nan_and_inf_are_failures(value):
    reason = request_rates([sample("default", "shop", value)], [SHOP], WHAT)[SHOP]
    assert isinstance(reason, str) and "shop" in reason
    assert str(float(value)) in reason


def test_hostile_names_in_messages_are_quoted():
    key = AppRef("default", 'a"\nb')
    reason = request_rates([], [key], WHAT)[key]
    assert reason.startswith('no series for app "a\\"\\nb" in namespace "default"')
    assert "\n" not in reason


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ({"resultType": "vector"}, "expected an instant vector"),
        ([1700000000.0, "1"], "scalar or string"),
        ([{"metric": {}, "values": [[1, "1"]]}], "range vector"),
        ([{"metric": {}}], "malformed sample"),
        ([{"metric": "x", "value": [1, "1"]}], "malformed sample"),
        ([sample("default", "shop", "fast")], "is not a number"),
        (None, "expected an instant vector"),
    ],
)
def test_unexpected_result_shapes(result, message):
    with pytest.raises(MalformedResult, match=message):
        parse_vector(result)
    with pytest.raises(MalformedResult):
        request_rates(result, [SHOP], WHAT)


def test_cpu_usage_reads_cores_and_pods():
    result = [
        sample("default", "shop", "0.5", webscale_signal="cpu"),
        sample("default", "shop", "2", webscale_signal="pods"),
        sample("default", "api", "0", webscale_signal="cpu"),
        sample("default", "api", "1", webscale_signal="pods"),
    ]
    usage = cpu_usage(result, [SHOP, API, OTHER_SHOP], "cpu")
    assert usage[SHOP] == (0.5, 2)
    assert usage[API] == (0.0, 1)
    assert usage[OTHER_SHOP] == 'no series for app "shop" in namespace "billing" (cpu)'


def test_cpu_nan_is_a_failure():
    result = [
        sample("default", "shop", "NaN", webscale_signal="cpu"),
        sample("default", "shop", "1", webscale_signal="pods"),
    ]
    assert "is nan" in cpu_usage(result, [SHOP], "cpu")[SHOP]


def test_template_results():
    assert template_rate([1700000000.0, "12.5"], SHOP) == 12.5  # scalar
    assert template_rate([sample("default", "shop", "1"), sample("x", "y", "2.5")], SHOP) == 3.5  # summed
    assert template_rate([], SHOP).startswith('no series for app "shop"')
    assert "nan" in template_rate([1700000000.0, "NaN"], SHOP)
    with pytest.raises(MalformedResult):
        template_rate([{"metric": {}, "values": []}], SHOP)
