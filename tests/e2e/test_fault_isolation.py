"""One app's template never delays or breaks another app's scaling, on a real Prometheus.

Four normal apps are measured by the batched queries. Then three bad apps join, in the same
namespace and on the same Prometheus:

* "slow": a template whose Prometheus does not answer within the operator's metrics timeout. It is a
  second real Prometheus, allowed to the operator, frozen with SIGSTOP once it is ready: its socket
  accepts the query and no answer comes, at no CPU cost. (A template that is expensive to evaluate
  on the shared Prometheus would also reach the deadline, but its CPU slows every query to that
  Prometheus, the batched one included, on a 2-core machine — Prometheus's cost, which no operator
  can isolate, and noise in the ratio below; Prometheus's own `--query.timeout` bounds it.)
* "ranged": a template whose result is a range vector (refused: a rate must be an instant value);
* "deep": a template nested deeper than the checker's recursion allows.

The normal apps' mean decision lag (the operator's own `webscale_decision_lag_seconds`, measured
"batched") is measured over the same number of polls before the bad apps join, while they are there,
and after they are deleted, in this one run; the middle one is compared to the other two as a ratio
(no wall-clock threshold). The slow app's own lag (measured "template",
alone once the ranged app is deleted), against the same baseline, shows it really was slow: had the
normal apps waited for it, their ratio would have been that one.
Each bad app has its condition with the reason.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from scenario import POLL, app_targets, scaling_spec, wait_for_series
from waiting import eventually

pytestmark = pytest.mark.e2e

G, V, P = "webscale.dev", "v1alpha1", "scaledwebapps"
NORMAL = ["n1", "n2", "n3", "n4"]
SLOW = "sum(rate(http_requests_total{app={app}}[{window}]))"  # slow: its Prometheus is frozen
RANGED = "http_requests_total{app={app}}[{window}]"
DEEP = "(" * 400 + "sum(rate(http_requests_total{app={app}}[{window}]))" + ")" * 400
METRICS_TIMEOUT = 2.0  # seconds: the operator's per-query timeout, and each poll's template deadline
POLLS = 5  # polls per measured window
TICK = 0.2  # seconds: a short tick, so where a poll falls within one adds little noise to the lag
LAG = "webscale_decision_lag_seconds"
MAX_RATIO = 2.0
"""Normal apps' mean lag with the bad apps / without. Had they waited for the slow template (as when
templates ran inside the batched observe), each decision would wait ~METRICS_TIMEOUT more: many times
their baseline lag (the slow app's own lag below shows that)."""


def lag_totals(op, measured: str) -> tuple[float, float]:
    """(sum, count) of the operator's decision lag for apps measured `measured`."""
    labels = (("measured", measured),)
    metrics = op.metrics()
    return metrics.get((f"{LAG}_sum", labels), 0.0), metrics.get((f"{LAG}_count", labels), 0.0)


def mean_lag_over(op, measured: str, seconds: float) -> tuple[float, int]:
    """Mean decision lag (s) and decisions counted over the next `seconds`."""
    sum0, count0 = lag_totals(op, measured)
    time.sleep(seconds)
    sum1, count1 = lag_totals(op, measured)
    count = int(count1 - count0)
    assert count > 0, f"no {measured} decision in {seconds:g}s"
    return (sum1 - sum0) / count, count


def delete(swa_apps, *names: str) -> None:
    """Delete ScaledWebApps and wait until they are gone."""
    for name in names:
        swa_apps.custom.delete_namespaced_custom_object(G, V, swa_apps.namespace, P, name)

    def gone() -> bool:
        return not any(
            i["metadata"]["name"] in names
            for i in swa_apps.custom.list_namespaced_custom_object(G, V, swa_apps.namespace, P)["items"]
        )

    eventually(gone, 10, f"{', '.join(names)} deleted")


def test_bad_templates_do_not_delay_other_apps(
    namespace, sample_apps, prometheus_factory, autoscaling_operator, swa_apps
):
    targets = [t for name in [*NORMAL, "ranged"] for t in app_targets(sample_apps, namespace, name)]
    prom = prometheus_factory(targets)
    frozen = prometheus_factory(app_targets(sample_apps, namespace, "slow"))
    for name in NORMAL:
        wait_for_series(prom, namespace, name)
    op = autoscaling_operator(
        prom.url,
        frozen.url,
        WEBSCALE_METRICS_TIMEOUT_SECONDS=f"{METRICS_TIMEOUT:g}",
        WEBSCALE_SCALING_TICK_SECONDS=f"{TICK:g}",
    )
    for name in NORMAL:
        swa_apps.create(name, scaling_spec(prom.url))
    for name in NORMAL:
        swa_apps.wait_running(name, 1)

    window = POLLS * POLL
    before, before_count = mean_lag_over(op, "batched", window)

    def with_template(template: str) -> dict:
        return scaling_spec(prom.url, metrics={"requestRate": template})

    assert frozen.handle is not None
    os.kill(frozen.handle.process.pid, signal.SIGSTOP)
    try:
        swa_apps.create(name="slow", spec=scaling_spec(frozen.url, metrics={"requestRate": SLOW}))
        for name, template in (("ranged", RANGED), ("deep", DEEP)):
            swa_apps.create(name, with_template(template))
        _measure_and_check(swa_apps, op, before, before_count)
    finally:
        os.kill(frozen.handle.process.pid, signal.SIGCONT)  # so the fixture can stop it


def _measure_and_check(swa_apps, op, before: float, before_count: int) -> None:
    """With the bad apps present: their conditions, and the normal apps' lag against the baseline."""
    window = POLLS * POLL

    def reason(name: str, type_: str, status: str) -> str | None:
        condition = swa_apps.condition(name, type_)
        return condition.get("message") if condition and condition["status"] == status else None

    slow = eventually(lambda: reason("slow", "MetricsAvailable", "False"), 4 * POLL, "the slow app's condition")
    ranged = eventually(lambda: reason("ranged", "MetricsAvailable", "False"), 4 * POLL, "the ranged app's condition")
    deep = eventually(lambda: reason("deep", "Invalid", "True"), 4 * POLL, "the deep app marked Invalid")

    after, after_count = mean_lag_over(op, "batched", window)
    # the slow app's own lag, with no other template app beside it
    delete(swa_apps, "ranged")
    slow_lag, _ = mean_lag_over(op, "template", 2 * POLL)
    # the baseline again without the bad apps, so a change of the machine's load during the test
    # weighs on both sides of the ratio
    delete(swa_apps, "slow", "deep")
    again, again_count = mean_lag_over(op, "batched", window)
    baseline = (before * before_count + again * again_count) / (before_count + again_count)
    ratio = after / baseline
    print(
        f"normal apps' mean decision lag without the bad apps: {before:.3f}s ({before_count} decisions) before, "
        f"{again:.3f}s ({again_count}) after; with them: {after:.3f}s ({after_count}): ratio {ratio:.2f}; "
        f"the slow app's own lag {slow_lag:.3f}s ({slow_lag / baseline:.1f}x the normal apps' baseline)"
    )
    print(f"slow: {slow}\nranged: {ranged}\ndeep: {deep}")

    assert "did not answer within this poll's deadline" in slow or "timeout" in slow, slow
    assert "range vector" in ranged, ranged
    assert deep.startswith(("spec could not be checked", "spec.metrics.requestRate")), deep
    for name in NORMAL:
        assert reason(name, "MetricsAvailable", "True") is not None, f"{name} lost its metrics"
    assert after_count >= before_count - len(NORMAL), "the normal apps were polled less often"
    # had the normal apps waited for the slow template, their ratio would be about this one
    assert slow_lag / baseline > MAX_RATIO, "the slow template was not slow: the comparison shows nothing"
    assert ratio < MAX_RATIO
