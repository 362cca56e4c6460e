"""Injection safety of haproxy.cfg: hostile values (newlines, '#', spaces, quotes, directives) either are
refused with the field named, or never reach the file. `haproxy -c` plus a parse of the sections show the
config's meaning is unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from webscale_local.haproxy import haproxy_check

from webscale.api.app import App
from webscale.api.models import parse_spec
from webscale.reconcile import haproxy_config
from webscale.reconcile.builders import build_children, build_service
from webscale.reconcile.haproxy import build_lb_children
from webscale.settings import DEFAULT_PROMETHEUS_URL

HOSTILE = [
    "x\n    server evil 203.0.113.7:80",
    "x\nbackend evil\n    server evil 203.0.113.7:80",
    "# comment",
    "a b",
    "'quoted'",
    '"double"',
    "$(HOME)",
    "${HOME}",
    "back\\slash",
    "x\r\nglobal",
    "\x00",
    "tab\there",
    "UPPER",
    "-leading",
    "a" * 300,
]
BASE = {"image": "registry.example/shop:1", "loadBalancer": {"strategy": "least-connections"}}


def app(spec: dict, name: str = "shop", namespace: str = "default") -> App:
    body = {"metadata": {"name": name, "namespace": namespace, "uid": "u"}, "spec": spec}
    url = spec.get("metrics", {}).get("prometheus", {}).get("url", DEFAULT_PROMETHEUS_URL)
    return App.from_body(body, allowed_prometheus_urls=[url])  # whatever URL: here only the config matters


def cfg_of(children: list[dict]) -> str:
    return next(c for c in children if c["kind"] == "ConfigMap")["data"]["haproxy.cfg"]


EXPECTED_SECTIONS = ["global", "defaults", "resolvers cluster", "frontend http", "frontend metrics", "backend pods"]


def assert_meaning_unchanged(cfg: str, reference: str) -> None:
    parsed = haproxy_config.sections(cfg)
    assert list(parsed) == EXPECTED_SECTIONS
    assert parsed == haproxy_config.sections(reference)
    body = [line for line in cfg.splitlines() if not line.startswith("# Generated")]
    assert not any("#" in line for line in body), "no comment can start inside a directive"


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("where", ["name", "namespace"])
def test_hostile_names_are_refused_not_rendered(value, where):
    kwargs = {"name": "shop", "namespace": "default", where: value}
    spec = parse_spec(BASE)
    with pytest.raises(haproxy_config.ConfigValueError, match=r"namespace|app name|headless") as err:
        haproxy_config.render_for(kwargs["namespace"], kwargs["name"], spec)
    assert repr(value)[:20] in str(err.value) or where in str(err.value)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_cluster_domain_is_refused(value):
    with pytest.raises(haproxy_config.ConfigValueError, match="cluster domain"):
        haproxy_config.render_for("default", "shop", parse_spec(BASE), cluster_domain=value)


def test_hostile_annotation_values_pass_to_the_service_and_never_reach_the_config(tmp_path):
    reference = cfg_of(build_children(app(BASE)))
    annotations = {f"example.com/k{i}": value for i, value in enumerate(HOSTILE)}
    annotations["haproxy.org/backend-config-snippet"] = "server evil 203.0.113.7:80\nbalance first"
    spec = {**BASE, "loadBalancer": {**BASE["loadBalancer"], "service": {"annotations": annotations}}}
    children = build_children(app(spec))
    cfg = cfg_of(children)
    assert cfg == reference
    assert build_service(app(spec))["metadata"]["annotations"] == annotations
    assert_meaning_unchanged(cfg, reference)
    haproxy_check(cfg, tmp_path)


@pytest.mark.parametrize("key", ["a\nb", "a b", "#x", "x/", "/x", "a/b/c", "Example.com/x", "x" * 64, "'q'"])
def test_hostile_annotation_keys_are_refused_naming_the_field(key):
    spec = {**BASE, "loadBalancer": {"service": {"annotations": {key: "v"}}}}
    with pytest.raises(ValidationError) as err:
        parse_spec(spec)
    assert "loadBalancer" in str(err.value) and "annotations" in str(err.value)


def test_every_free_text_field_stays_out_of_the_config(tmp_path):
    reference = cfg_of(build_children(app(BASE)))
    hostile = "x\nbackend evil\n    server evil 203.0.113.7:80 # '\"$"
    spec = {
        **BASE,
        "image": 'registry.example/shop:1#"backend',
        "env": [{"name": "EVIL", "value": hostile}],
        "state": {"redisURL": "redis://h:1/#backend'\"evil"},
        "metrics": {
            "prometheus": {"url": 'http://p:9090/#"backend'},
            "requestRate": 'sum(rate(x{namespace={namespace},app={app}}[{window}])) # "backend evil"',
        },
    }
    parsed = app(spec)
    assert parsed.valid, parsed.errors
    cfg = cfg_of(build_children(parsed))
    assert cfg == reference
    assert_meaning_unchanged(cfg, reference)
    haproxy_check(cfg, tmp_path)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_name_is_either_a_dns_token_or_refused(name):
    spec = parse_spec(BASE)
    try:
        cfg = haproxy_config.render_for("default", name, spec)
    except haproxy_config.ConfigValueError:
        return
    assert haproxy_config.DNS_NAME.match(name)
    assert list(haproxy_config.sections(cfg)) == EXPECTED_SECTIONS
    assert len(cfg.splitlines()) == len(haproxy_config.render_for("default", "shop", spec).splitlines())


def test_render_refuses_an_unknown_strategy_and_bad_numbers():
    backends = haproxy_config.Backends("_http._tcp.shop-pods.default.svc.cluster.local", 3, 4)
    with pytest.raises(haproxy_config.ConfigValueError, match="strategy"):
        haproxy_config.render("first\n    server evil 203.0.113.7:80", backends)
    with pytest.raises(haproxy_config.ConfigValueError, match=r"replicas\.max"):
        haproxy_config.render("round-robin", haproxy_config.Backends(backends.srv_name, 0, 4))
    with pytest.raises(haproxy_config.ConfigValueError, match="SRV"):
        haproxy_config.render("round-robin", haproxy_config.Backends("_http._tcp.x\nbackend y", 3, 4))
    with pytest.raises(haproxy_config.ConfigValueError, match="maxconn"):
        haproxy_config.render("round-robin", haproxy_config.Backends(backends.srv_name, 3, True))


def test_lb_children_of_a_valid_app_render(tmp_path):
    for strategy in ("round-robin", "least-connections", "ip-hash"):
        parsed = app({**BASE, "loadBalancer": {"strategy": strategy}}, name="a-b-c", namespace="ns-1")
        haproxy_check(cfg_of(build_lb_children(parsed, {})), tmp_path)
