"""The HAProxy side of scale to zero (reconcile.hold): the lines it adds only for apps with
autoscaling.scaleToZero, `haproxy -c` with the real Debian haproxy on them, the ConfigMap and its
checksum, and the held-request counters' parser."""

from __future__ import annotations

import pytest
from webscale_local.haproxy import haproxy_check

from webscale.api.app import App
from webscale.api.labels import CONFIG_CHECKSUM_ANNOTATION
from webscale.reconcile import haproxy_config, hold
from webscale.reconcile.haproxy import CONFIG_DIR, CONFIG_KEY, build_lb_children

BASE = {"image": "registry.example/shop:1.4.2", "resources": {"cpu": "2"}}
ZERO = {**BASE, "replicas": {"min": 0, "max": 5}, "autoscaling": {"scaleToZero": {"holdRequestsFor": "45s"}}}


def _app(spec: dict) -> App:
    result = App.from_body({"metadata": {"name": "shop", "namespace": "default", "uid": "u-1"}, "spec": spec})
    assert result.valid, result.errors
    return result


def test_an_app_without_the_section_renders_the_config_it_always_had():
    spec = _app(BASE).valid_spec
    backends = haproxy_config.backends_for("default", "shop", spec)
    assert haproxy_config.render_for("default", "shop", spec) == haproxy_config.render("round-robin", backends)
    config_map = build_lb_children(_app(BASE), {})[0]
    assert list(config_map["data"]) == [CONFIG_KEY] and "lua" not in config_map["data"][CONFIG_KEY]


@pytest.mark.parametrize("strategy", ["round-robin", "least-connections", "ip-hash"])
def test_the_hold_lines_are_added_and_haproxy_accepts_them(strategy, tmp_path):
    app = _app({**ZERO, "loadBalancer": {"strategy": strategy}})
    data = build_lb_children(app, {})[0]["data"]
    cfg, lua = data[CONFIG_KEY], data[hold.LUA_KEY]
    sections = haproxy_config.sections(cfg)
    assert f"lua-load {hold.LUA_PATH}" in sections["global"]
    # the operator's Service name (wake_url) is resolved by the cluster DNS the pods are found with
    assert "httpclient.resolvers.id cluster" in sections["global"] and "resolvers cluster" in sections
    assert "http-request lua.webscale_hold pods 45000 5 - if { nbsrv(pods) eq 0 }" in sections["frontend http"]
    assert sections["backend pods"][-1] == "server woken 0.0.0.0:1 disabled"  # filled only by the operator's answer
    assert f"http-request use-service lua.webscale_held if {{ path {hold.HELD_PATH} }}" in sections["frontend metrics"]
    assert {"hold valid 1s", "timeout resolve 250ms"} <= set(sections["resolvers cluster"])
    assert any("downinter 100ms" in line for line in sections["backend pods"])
    # a leaving pod is found down within its drain (hold.INTER): a request as the app goes to zero is held
    assert any(line.startswith("default-server check inter 500ms ") for line in sections["backend pods"])
    # the hold goes before default_backend, the counters before the metrics frontend's deny
    http, metrics = sections["frontend http"], sections["frontend metrics"]
    assert http.index(next(x for x in http if x.startswith("http-request lua."))) < http.index("default_backend pods")
    assert metrics[-1] == "http-request deny deny_status 404"
    (tmp_path / hold.LUA_KEY).write_text(lua)
    haproxy_check(cfg.replace(hold.LUA_PATH, str(tmp_path / hold.LUA_KEY)), tmp_path)


def test_the_lua_path_is_where_the_config_map_is_mounted():
    assert f"{CONFIG_DIR}/{hold.LUA_KEY}" == hold.LUA_PATH


def test_a_new_script_or_hold_rolls_the_haproxy_pods_and_nothing_else_does():
    def checksum(spec: dict) -> str:
        deployment = build_lb_children(_app(spec), {})[1]
        return deployment["spec"]["template"]["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION]

    longer = {**ZERO, "autoscaling": {"scaleToZero": {"holdRequestsFor": "1m"}}}
    idle = {**ZERO, "autoscaling": {"scaleToZero": {"holdRequestsFor": "45s", "idleAfter": "10m"}}}
    assert checksum(ZERO) != checksum(longer) and checksum(ZERO) != checksum(BASE)
    assert checksum(ZERO) == checksum(idle)  # idleAfter is the operator's business, not HAProxy's


def test_bad_hold_values_never_reach_the_file():
    backends = haproxy_config.backends_for("default", "shop", _app(BASE).valid_spec)
    for bad in (hold.Hold(0), hold.Hold(1000, retry_after=0), hold.Hold(10**8)):
        with pytest.raises(haproxy_config.ConfigValueError):
            haproxy_config.render("round-robin", backends, bad)


def test_parse_held_reads_the_counters_and_skips_the_rest():
    text = (
        f"# TYPE {hold.WAITING} gauge\n{hold.WAITING} 3\n{hold.HELD_TOTAL} 10\n"
        f"{hold.RELEASED_TOTAL} 6\n{hold.TIMED_OUT_TOTAL} x\nother 1\n"
    )
    assert hold.parse_held(text) == {hold.WAITING: 3.0, hold.HELD_TOTAL: 10.0, hold.RELEASED_TOTAL: 6.0}


def test_haproxy_is_ready_without_a_server_only_while_it_holds_requests():
    """Without the hold, /readyz fails while no server is up (a request could only get a 503); with it,
    HAProxy is what answers at zero, so it stays Ready."""
    ready = f"{{ path {haproxy_config.LB_READY_PATH} }}"
    plain = haproxy_config.sections(build_lb_children(_app(BASE), {})[0]["data"][CONFIG_KEY])["frontend metrics"]
    held = haproxy_config.sections(build_lb_children(_app(ZERO), {})[0]["data"][CONFIG_KEY])["frontend metrics"]
    unready = [line for line in plain if ready in line and "503" in line]
    assert unready == [
        f"http-request return status 503 content-type text/plain string no-server-up if {ready} {{ nbsrv(pods) eq 0 }}"
    ]
    assert plain.index(unready[0]) < plain.index(next(x for x in plain if ready in x and "200" in x))
    assert [line for line in held if ready in line] == [
        f"http-request return status 200 content-type text/plain string ok if {ready}"
    ]


def test_with_a_wake_url_held_requests_ask_the_operator_for_the_app_they_serve(tmp_path):
    app = _app(ZERO)
    base = "http://webscale-operator-wake.webscale-system.svc.cluster.local:8081"
    data = build_lb_children(app, {}, wake_base=base + "/")[0]["data"]
    http = haproxy_config.sections(data[CONFIG_KEY])["frontend http"]
    assert (
        f"http-request lua.webscale_hold pods 45000 5 {base}/webscale/wake/default/shop if {{ nbsrv(pods) eq 0 }}"
        in http
    )
    (tmp_path / hold.LUA_KEY).write_text(data[hold.LUA_KEY])
    haproxy_check(data[CONFIG_KEY].replace(hold.LUA_PATH, str(tmp_path / hold.LUA_KEY)), tmp_path)
    # the script is the same for every app: what differs is in the action's arguments
    assert data[hold.LUA_KEY] == hold.HOLD_LUA
    assert build_lb_children(_app(BASE), {}, wake_base=base)[0]["data"] == build_lb_children(_app(BASE), {})[0]["data"]


@pytest.mark.parametrize(
    "base",
    [
        "https://op:8081",
        "http://op:8081/path",
        "http://op:99999",
        "http://op:0",
        "http://Op:8081",
        "http://op:8081 if",
        "http://op:8081\nlua-load /x",
        "http://op:80#x",
        "http://op_1",
        "http://" + "a" * 300,
    ],
)
def test_a_wake_url_that_is_not_plain_http_host_port_never_reaches_the_file(base):
    with pytest.raises(hold.WakeURLError):
        hold.wake_url_for(base, "default", "shop")
    with pytest.raises(haproxy_config.ConfigValueError):
        haproxy_config.render_for("default", "shop", _app(ZERO).valid_spec, wake_base=base)


def test_a_hold_whose_wake_url_is_not_one_word_of_safe_characters_is_refused():
    backends = haproxy_config.backends_for("default", "shop", _app(BASE).valid_spec)
    for url in ("http://op:1/a b", "http://op:1/a\nb", "ftp://op/x", "http://op:1/{x}"):
        with pytest.raises(haproxy_config.ConfigValueError):
            haproxy_config.render("round-robin", backends, hold.Hold(1000, wake_url=url))


def test_no_wake_url_means_no_asking():
    assert hold.wake_url_for("", "default", "shop") is None
    assert hold.wake_url_for("http://10.0.0.1:8081", "ns", "a") == "http://10.0.0.1:8081/webscale/wake/ns/a"
