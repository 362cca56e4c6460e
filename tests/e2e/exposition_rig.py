"""A real Prometheus scraping simulated pods whose rates are known (tests/fixtures/exposition.py), for
the Prometheus adapter's e2e tests: the apps, their true rates, and `settled` (observations close to
the truth). The fixtures `exposition`, `exposition_prometheus` and `warm` are in tests/e2e/conftest.py."""

from __future__ import annotations

import time

from webscale.api.observation import Observation
from webscale.api.ref import AppRef
from webscale.metrics.prometheus import AppQuery, PrometheusSource
from webscale.promql import queries as promql

SCRAPE_INTERVAL = 1.0  # seconds, as the prometheus fixture scrapes
WINDOW = promql.rate_window_for(SCRAPE_INTERVAL)  # 4s
RECENT = promql.rate_window_for(SCRAPE_INTERVAL, promql.RECENT_SAMPLES)  # 2s


def query(url: str, key: AppRef, **kwargs: object) -> AppQuery:
    return AppQuery(key, url, **kwargs)  # type: ignore[arg-type]


SHOP, API, BILLING_SHOP = AppRef("default", "shop"), AppRef("default", "api"), AppRef("billing", "shop")
IDLE, GHOST, BURST = AppRef("default", "idle"), AppRef("default", "ghost"), AppRef("default", "burst")
TRUTH = {SHOP: (40.0, 0.5, 2), API: (7.0, 0.1, 1), BILLING_SHOP: (13.0, 0.05, 1), IDLE: (0.0, 0.0, 1)}


def close(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - expected) <= 0.1 * expected + 0.05


def settled(source: PrometheusSource, apps: list[AppQuery]) -> dict[AppRef, Observation] | None:
    """The observations once every app with pods has a rate close to the truth (rate() needs samples)."""
    observed = source.observe(apps, now=time.time())
    for key, (rps, cores, _pods) in TRUTH.items():
        if key in observed and not (
            close(observed[key].requests_per_second, rps)
            and close(observed[key].recent_requests_per_second, rps)
            and close(observed[key].cpu_cores, cores)
        ):
            return None
    return observed
