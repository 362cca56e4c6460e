"""Reading Prometheus query results (pure): from the API's ``data.result`` to per-app values or reasons.

Each function takes the result of one query and the apps asked for, and
returns for every app either its value or a short reason why there is none.
"No series" is a failure, never zero traffic (keda#3064); a series whose value
is 0 is zero traffic; NaN/Inf is a failure. A result of the wrong shape raises
`MalformedResult` (it concerns every app of the query).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from webscale.api.observation import SeasonalReading
from webscale.api.ref import AppRef
from webscale.promql import queries as promql
from webscale.promql.template import FIELD as TEMPLATE_FIELD

RequestRate = tuple[float, float | None]
"""(request rate over the rate window, rate over the recent window or None)."""
CpuUsage = tuple[float, int]
"""(CPU cores, pods reporting)."""


class MalformedResult(ValueError):
    """Prometheus answered, but not with what the query should return."""


RESULT_TYPES = {"vector": "an instant vector", "scalar": "a scalar", "matrix": "a range vector", "string": "a string"}


def check_result_type(result_type: str, expected: tuple[str, ...]) -> None:
    """MalformedResult unless Prometheus's `resultType` is one of `expected` ("" = not said: the
    result's shape decides). A range vector (a query ending in ``[5m]`` or a subquery) is refused
    here, whatever its samples look like: a rate must be an instant value."""
    if not result_type or result_type in expected:
        return
    got = RESULT_TYPES.get(result_type, repr(result_type[:20]))
    wanted = " or ".join(RESULT_TYPES.get(e, e) for e in expected)
    hint = " (take rate(...) or another *_over_time of it)" if result_type == "matrix" else ""
    raise MalformedResult(f"the query returned {got}, expected {wanted}{hint}")


def parse_vector(result: Any) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of each sample of an instant-vector `result` (the API's data.result)."""
    if not isinstance(result, list):
        raise MalformedResult(f"unexpected result: {type(result).__name__}, expected an instant vector")
    samples = []
    for item in result:
        if not isinstance(item, dict):
            raise MalformedResult("unexpected result type: scalar or string, expected an instant vector")
        if "values" in item:
            raise MalformedResult("unexpected result type: range vector, expected an instant vector")
        metric, value = item.get("metric"), item.get("value")
        if not isinstance(metric, dict) or not isinstance(value, list) or len(value) != 2:
            raise MalformedResult("malformed sample in the result")
        samples.append(({str(k): str(v) for k, v in metric.items()}, _number(value[1])))
    return samples


def parse_scalar_or_vector(result: Any) -> list[float]:
    """Values of a template's result: a scalar gives one value, a vector one per series."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        if not isinstance(result[1], str):
            raise MalformedResult("malformed scalar in the result")
        return [_number(result[1])]
    return [value for _labels, value in parse_vector(result)]


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise MalformedResult(f"sample value {str(text)[:40]!r} is not a number") from None


def who(key: AppRef) -> str:
    """The app in a message, names quoted and escaped: app "shop" in namespace "default"."""
    return f"app {promql.escape_string(key.name)} in namespace {promql.escape_string(key.namespace)}"


def _by_app(samples: list[tuple[dict[str, str], float]], signal: str) -> dict[AppRef, float]:
    """Values per app of the series whose webscale_signal label is `signal` ("" = no such label)."""
    out: dict[AppRef, float] = {}
    for labels, value in samples:
        if labels.get(promql.SIGNAL_LABEL, "") != signal:
            continue
        key = AppRef(labels.get("namespace", ""), labels.get("app", ""))
        out[key] = out.get(key, 0.0) + value
    return out


def request_rates(result: Any, keys: Sequence[AppRef], what: str) -> dict[AppRef, RequestRate | str]:
    """Each app's (request rate, recent rate) from `promql.request_rate_query`'s result, or why not.

    The recent rate (webscale_signal="recent") is None when its series is
    missing or not finite: only the request rate decides whether the app
    failed. `what` names the series in messages (e.g. the selector). Raises
    MalformedResult when the whole result is unusable.
    """
    samples = parse_vector(result)
    rates, recent = _by_app(samples, ""), _by_app(samples, "recent")
    out: dict[AppRef, RequestRate | str] = {}
    for key in keys:
        value, fresh = rates.get(key), recent.get(key)
        if value is None:
            out[key] = f"no series for {who(key)} ({what})"
        elif not math.isfinite(value):
            out[key] = f"request rate for {who(key)} is {value} ({what})"
        else:
            out[key] = (value, fresh if fresh is not None and math.isfinite(fresh) else None)
    return out


def in_flight(result: Any, keys: Sequence[AppRef]) -> dict[AppRef, float]:
    """Requests in flight at the load balancer (webscale_signal="inflight") for the apps that have a
    finite value; an app without one is simply absent (never a failure by itself)."""
    values = _by_app(parse_vector(result), promql.IN_FLIGHT_SIGNAL)
    return {key: values[key] for key in keys if key in values and math.isfinite(values[key])}


def seasonal_readings(
    result: Any, keys: Sequence[AppRef], setting: tuple[float, float, float]
) -> dict[AppRef, SeasonalReading]:
    """The seasonal prior's reading (`promql.seasonal_query`) for the apps that have all three finite
    values; an app without them (no data that far back) is simply absent, never a failure.
    `setting`: (offset, lookahead, level window) in seconds, as queried."""
    samples = parse_vector(result)
    ahead, then, now = (_by_app(samples, signal) for signal in promql.SEASONAL_SIGNALS)
    out = {}
    for key in keys:
        values = (ahead.get(key), then.get(key), now.get(key))
        if all(v is not None and math.isfinite(v) for v in values):
            a, t, n = (float(v or 0.0) for v in values)
            out[key] = SeasonalReading(*setting, ahead_rps=a, then_rps=t, now_rps=n)
    return out


def cpu_usage(result: Any, keys: Sequence[AppRef], what: str) -> dict[AppRef, CpuUsage | str]:
    """Each app's (CPU cores, pods reporting) from `promql.cpu_query`'s result, or why not."""
    samples = parse_vector(result)
    cores, pods = _by_app(samples, "cpu"), _by_app(samples, "pods")
    out: dict[AppRef, CpuUsage | str] = {}
    for key in keys:
        value, count = cores.get(key), pods.get(key)
        if value is None or count is None:
            out[key] = f"no series for {who(key)} ({what})"
        elif not math.isfinite(value) or not math.isfinite(count):
            out[key] = f"CPU for {who(key)} is {value} ({what})"
        else:
            out[key] = (value, int(count))
    return out


def template_rate(result: Any, key: AppRef) -> float | str:
    """A requestRate template's value for one app: the sum of what it returned, or why not."""
    values = parse_scalar_or_vector(result)
    if not values:
        return f"no series for {who(key)} ({TEMPLATE_FIELD})"
    total = math.fsum(values)
    if not math.isfinite(total):
        return f"request rate for {who(key)} is {total} ({TEMPLATE_FIELD})"
    return total
