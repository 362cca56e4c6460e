"""One tenant cannot reach another through a ScaledWebApp, on the real control plane.

* names: the API server refuses a name that some child name could not carry, saying the limit;
* durations: a poll faster than the schema's minimum is refused at admission;
* Prometheus URL: only the installer's allow-list (WEBSCALE_PROMETHEUS_URLS); any other URL is
  Invalid with a Warning Event, and the operator never sends it a request (a loopback server
  that counts requests is the SSRF target);
* requestRate: a template naming another namespace is Invalid; one that names none is sent to
  a real Prometheus (Debian package) with ``namespace="<the app's namespace>"`` in its selector.
"""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fixtures.prometheus import PrometheusHandle, start_prometheus
from kubernetes import client
from kubernetes.client.rest import ApiException
from operator_process import OperatorProcess
from waiting import eventually
from webscale_local.http_server import reply, serving
from webscale_local.swa import G, P, V, app_body, condition, is_ready

from webscale.api.names import MAX_NAME_LENGTH

pytestmark = pytest.mark.integration


# ---- names and durations, refused by the API server -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a" * (MAX_NAME_LENGTH + 1), f"metadata.name must be at most {MAX_NAME_LENGTH} characters"),
        ("x" * 70, f"metadata.name must be at most {MAX_NAME_LENGTH} characters"),
        ("1shop", "metadata.name must be a DNS-1035 label"),
        ("shop.v2", "metadata.name must be a DNS-1035 label"),
    ],
)
def test_bad_names_are_refused_with_the_limit(crd_installed, namespace, swa, name, message):
    with pytest.raises(ApiException) as refused:
        swa.create_namespaced_custom_object(G, V, namespace, P, app_body(name))
    assert refused.value.status == 422, refused.value.body
    assert message in refused.value.body, refused.value.body


def test_the_longest_name_is_accepted(crd_installed, namespace, swa):
    name = "a" * MAX_NAME_LENGTH
    assert swa.create_namespaced_custom_object(G, V, namespace, P, app_body(name))["metadata"]["name"] == name


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"autoscaling": {"pollingInterval": "1s"}}, "autoscaling.pollingInterval must be between 5s and 1h"),
        ({"autoscaling": {"pollingInterval": "4999ms"}}, "autoscaling.pollingInterval must be between 5s and 1h"),
        ({"autoscaling": {"behavior": {"scaleUp": {"period": "0s"}}}}, "scaleUp.period must be between 1s and 1h"),
        (
            {"autoscaling": {"behavior": {"scaleDown": {"period": "500ms"}}}},
            "scaleDown.period must be between 1s and 1h",
        ),
        ({"autoscaling": {"behavior": {"scaleUp": {"period": "2h"}}}}, "scaleUp.period must be between 1s and 1h"),
        ({"autoscaling": {"pollingInterval": "2h"}}, "autoscaling.pollingInterval must be between 5s and 1h"),
        ({"autoscaling": {"burst": {"hold": "99999999h"}}}, "autoscaling.burst.hold must be between 0s and 1h"),
        (
            {"autoscaling": {"behavior": {"scaleDown": {"stabilizationWindow": "2h"}}}},
            "scaleDown.stabilizationWindow must be between 0s and 1h",
        ),
    ],
)
def test_too_short_or_too_long_durations_are_refused(crd_installed, namespace, swa, spec, message):
    with pytest.raises(ApiException) as refused:
        swa.create_namespaced_custom_object(G, V, namespace, P, app_body(**spec))
    assert refused.value.status == 422 and message in refused.value.body, refused.value.body


# ---- what the operator may reach --------------------------------------------------------------------


class Target(BaseHTTPRequestHandler):
    """An SSRF target on loopback: answers like a Prometheus, and counts every request."""

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        reply(self, 200, b'{"status":"success","data":{"resultType":"vector","result":[]}}')

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def target() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    server.requests = []  # type: ignore[attr-defined]
    with serving(server):
        yield server


@pytest.fixture()
def prometheus(tmp_path) -> Iterator[PrometheusHandle]:
    """A real Prometheus with nothing to scrape: it answers queries and logs each one."""
    with start_prometheus(tmp_path, []) as prom:
        yield prom


@pytest.fixture()
def tenancy_operator(cluster, crd_installed, prometheus, tmp_path) -> Iterator[OperatorProcess]:
    """The operator, allowed to query only `prometheus`."""
    op = OperatorProcess(
        cluster,
        tmp_path / "operator.log",
        WEBSCALE_RESYNC_SECONDS="2",
        WEBSCALE_PROMETHEUS_URLS=prometheus.url,
        WEBSCALE_METRICS_TIMEOUT_SECONDS="1",
    ).start()
    yield op
    op.stop()
    print(op.log()[-4000:])


def polled(prom: PrometheusHandle, needle: str) -> list[str]:
    return [q for q in prom.queries() if needle in q]


def invalid_message(swa, namespace: str, name: str) -> str | None:
    found = condition(swa, namespace, name, "Invalid") or {}
    return found.get("message") if found.get("status") == "True" else None


def test_a_url_off_the_allow_list_is_invalid_and_never_requested(
    api_client, namespace, swa, prometheus, target, tenancy_operator
):
    ssrf = f"http://127.0.0.1:{target.server_address[1]}"
    swa.create_namespaced_custom_object(G, V, namespace, P, app_body("probe", metrics={"prometheus": {"url": ssrf}}))
    # the control: an app on the allowed Prometheus runs and is polled
    swa.create_namespaced_custom_object(
        G, V, namespace, P, app_body("shop", metrics={"prometheus": {"url": prometheus.url}})
    )

    message = eventually(lambda: invalid_message(swa, namespace, "probe"), 30, "probe Invalid=True")
    assert message.startswith(f"spec.metrics.prometheus.url: {ssrf} is not a Prometheus this operator may query")
    assert f"allowed: {prometheus.url}" in message
    events = eventually(
        lambda: (
            client.CoreV1Api(api_client).list_namespaced_event(namespace, field_selector="reason=InvalidSpec").items
        ),
        30,
        "the InvalidSpec Warning Event",
    )
    assert any(e.type == "Warning" and ssrf in e.message and e.involved_object.name == "probe" for e in events)

    eventually(lambda: is_ready(swa, namespace, "shop"), 60, "shop Ready")
    eventually(lambda: polled(prometheus, "http_requests_total"), 30, "the allowed Prometheus to be polled")
    # two more scaling-loop polls of shop: a whole pollingInterval (5s) in which probe, had it been
    # polled, would have been polled too
    ticks = tenancy_operator.metric("webscale_polls_total")
    eventually(lambda: tenancy_operator.metric("webscale_polls_total") >= ticks + 2, 30, "two more polls of shop")
    assert target.requests == []  # type: ignore[attr-defined]
    apps = client.AppsV1Api(api_client)
    deployments = [d.metadata.name for d in apps.list_namespaced_deployment(namespace).items]
    assert "shop" in deployments and not [d for d in deployments if d.startswith("probe")], deployments


def test_request_rate_templates_stay_in_the_app_namespace(api_client, namespace, swa, prometheus, tenancy_operator):
    metrics = {"prometheus": {"url": prometheus.url}}
    foreign = 'count(kube_secret_info{namespace="kube-system"})'
    swa.create_namespaced_custom_object(
        G, V, namespace, P, app_body("spy", metrics={**metrics, "requestRate": foreign})
    )
    unscoped = "sum(rate(tenancy_probe_total{app={app}}[{window}])) + count(tenancy_other_total)"
    swa.create_namespaced_custom_object(
        G, V, namespace, P, app_body("web", metrics={**metrics, "requestRate": unscoped})
    )

    message = eventually(lambda: invalid_message(swa, namespace, "spy"), 30, "spy Invalid=True")
    assert message.startswith("spec.metrics.requestRate: a query may only read its app's namespace")
    assert 'namespace="kube-system"' in message

    (sent,) = eventually(lambda: polled(prometheus, "tenancy_probe_total")[:1], 30, "web's template to be queried")
    ns = f'namespace="{namespace}"'
    assert sent == f'sum(rate(tenancy_probe_total{{{ns}, app="web"}}[1m])) + count(tenancy_other_total{{{ns}}})'
    assert polled(prometheus, "kube_secret_info") == []
