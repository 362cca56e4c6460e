"""One app's template, answer or URL spelling concerns that app alone (metrics source, no server)."""

from __future__ import annotations

from typing import Any

import pytest
from test_metrics import URL, RecordingClient, apps, healthy, make_source

from webscale.api.ref import AppRef
from webscale.api.validation import normalize_url
from webscale.metrics import prometheus as prometheus_module
from webscale.metrics.client import ResponseTooLarge
from webscale.metrics.failure import describe_failure
from webscale.metrics.parse import MalformedResult, check_result_type
from webscale.metrics.prometheus import AppQuery, PrometheusSource

TEMPLATE = "sum(rate(x{app={app}}[{window}]))"


def test_any_exception_while_rendering_one_template_fails_that_app_only(monkeypatch: pytest.MonkeyPatch):
    def render(template: str, namespace: str, app: str, window: str) -> str:
        if app == "deep":
            raise RecursionError("maximum recursion depth exceeded")
        return f'sum(rate(x{{app="{app}"}}[{window}]))'

    monkeypatch.setattr(prometheus_module, "render_template", render)
    source, _ = make_source()
    deep = AppQuery(AppRef("default", "deep"), URL, request_rate_template=TEMPLATE)
    fine = AppQuery(AppRef("default", "fine"), URL, request_rate_template=TEMPLATE)
    observed = source.observe([*apps(2), deep, fine], now=1.0)
    assert observed[deep.key].error == "spec.metrics.requestRate could not be checked (RecursionError); simplify it"
    assert observed[fine.key].requests_per_second == 7.0
    assert observed[AppRef("default", "app1")].requests_per_second == 1.0


def answers_with(result_type: str, result: Any) -> type[RecordingClient]:
    class Typed(RecordingClient):
        def query(self, query: str, timeout: float, max_bytes: int) -> tuple[str, Any]:
            if query.startswith("x{"):
                self.queries.append(query)
                return result_type, result
            return super().query(query, timeout, max_bytes)

    return Typed


def test_a_range_vector_result_is_refused_with_a_reason():
    matrix = [{"metric": {}, "values": [[1.0, "3"], [2.0, "4"]]}]
    clients: dict[str, RecordingClient] = {}

    def factory(url: str, timeout: float) -> Any:
        clients[url] = answers_with("matrix", matrix)(healthy)
        return clients[url]

    source = PrometheusSource(client_factory=factory)
    templated = AppQuery(AppRef("default", "ranged"), URL, request_rate_template="x{app={app}}[{window}]")
    observed = source.observe([*apps(1), templated], now=1.0)
    assert observed[templated.key].error == (
        f"Prometheus at {URL} gave an unexpected answer: the query returned a range vector, expected an instant "
        "vector or a scalar (take rate(...) or another *_over_time of it)"
    )
    assert observed[AppRef("default", "app0")].ok


def test_result_types_are_checked_before_the_samples():
    check_result_type("vector", ("vector",))
    check_result_type("", ("vector",))  # not said: the shape decides
    with pytest.raises(MalformedResult, match=r"returned a scalar, expected an instant vector$"):
        check_result_type("scalar", ("vector",))
    with pytest.raises(MalformedResult, match="returned a string"):
        check_result_type("string", ("vector", "scalar"))


def test_an_answer_over_the_cap_is_one_clear_reason_for_the_apps_of_that_query():
    def answer(query: str) -> Any:
        if query.startswith("sum(rate(x{"):
            raise ResponseTooLarge(1024)
        return healthy(query)

    source, _ = make_source(answer)
    templated = AppQuery(AppRef("default", "huge"), URL, request_rate_template=TEMPLATE)
    observed = source.observe([*apps(1), templated], now=1.0)
    assert observed[templated.key].error == (
        f"Prometheus at {URL} sent an answer larger than 1024 bytes: refused (narrow the query)"
    )
    assert observed[AppRef("default", "app0")].ok
    assert describe_failure(ResponseTooLarge(5), URL, 5.0).endswith("larger than 5 bytes: refused (narrow the query)")


def test_the_template_answer_cap_is_tighter_than_the_batched_one():
    caps: list[tuple[str, int]] = []

    class Capturing(RecordingClient):
        def query(self, query: str, timeout: float, max_bytes: int) -> tuple[str, Any]:
            caps.append((query[:12], max_bytes))
            return super().query(query, timeout, max_bytes)

    source = PrometheusSource(
        client_factory=lambda url, timeout: Capturing(healthy),
        max_response_bytes=1000,
        max_template_response_bytes=10,
    )
    source.observe([*apps(1), AppQuery(AppRef("default", "t"), URL, request_rate_template=TEMPLATE)], now=1.0)
    assert ("sum(rate(x{n", 10) in caps
    assert all(cap == 1000 for query, cap in caps if not query.startswith("sum(rate(x{"))


@pytest.mark.parametrize(
    "spelling",
    [
        "http://prometheus.test:9090",
        "HTTP://Prometheus.TEST:9090/",
        "http://prometheus.test:9090//",
        "http://prometheus.test:9090#x",
    ],
)
def test_spellings_of_one_url_share_one_client_and_one_batched_query(spelling: str):
    source, clients = make_source()
    mixed = [*apps(2), AppQuery(AppRef("default", "other-spelling"), spelling)]
    observed = source.observe(mixed, now=1.0)
    assert list(clients) == [URL]
    assert source.last_poll_queries == 2
    assert observed[AppRef("default", "other-spelling")].error is not None  # no series for it: but same query


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://Prom.Example:80/", "http://prom.example"),
        ("https://prom.example:443/prometheus/", "https://prom.example/prometheus"),
        ("http://prom.example:9090", "http://prom.example:9090"),
        ("http://[::1]:9090/", "http://[::1]:9090"),
        ("http://prom.example:9090/#frag", "http://prom.example:9090"),
        ("not a url at all ", "not a url at all"),
    ],
)
def test_normalize_url_is_the_canonical_spelling(url: str, canonical: str):
    assert normalize_url(url) == canonical


def test_a_deleted_apps_template_failure_is_forgotten():
    def answer(query: str) -> Any:
        if query.startswith("sum(rate(x{"):
            raise MalformedResult("nope")
        return healthy(query)

    source, _ = make_source(answer)
    templated = AppQuery(AppRef("default", "t"), URL, request_rate_template=TEMPLATE)
    source.observe([templated], now=1.0)
    assert (URL, templated.key) in source._failing
    source.forget(templated.key)
    assert (URL, templated.key) not in source._failing
