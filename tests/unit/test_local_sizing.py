"""The local nodes are sized from what the examples need, and `make load`/`make demo` say what holds a
scale-down from the app's spec (webscale_local.sizing, webscale_local.holds; pure)."""

from __future__ import annotations

import itertools
import math

import yaml
from manifest_helpers import ROOT
from webscale_local.holds import scale_down_holds
from webscale_local.sizing import MIN_CPU, PodGroup, examples, node_size, pod_groups
from webscale_local.stack import LOCAL_TUNING, localize


def app(name: str = "a", cpu: str = "1", memory: str = "256Mi", most: int = 4, **spec: object) -> dict:
    body = {"image": "x", "resources": {"cpu": cpu, "memory": memory}, "replicas": {"min": 1, "max": most}, **spec}
    return {"kind": "ScaledWebApp", "metadata": {"name": name, "namespace": "default"}, "spec": body}


def test_the_pods_are_the_operators_deployments_at_replicas_max():
    shop = yaml.safe_load((ROOT / "examples" / "shop.yaml").read_text())
    assert pod_groups(shop) == [
        PodGroup("shop", 10, 2000, 512 * 2**20),  # replicas.max of cpu 2, 512Mi
        PodGroup("shop-haproxy", 2, 100, 64 * 2**20),  # the HAProxy tier the operator builds
    ]
    assert pod_groups(app(loadBalancer={"provider": "service", "strategy": "round-robin"})) == [
        PodGroup("a", 4, 1000, 256 * 2**20)
    ]
    assert [m["metadata"]["name"] for m in examples(ROOT / "examples")] == ["shop"]


def fits_every_way(groups: list[PodGroup], nodes: int, cpu_m: int) -> bool:
    """Does every placement order of a first-fit scheduler place every pod (CPU only)?"""
    pods = [g.cpu_m for g in groups for _ in range(g.count)]
    for order in {tuple(sorted(pods)), tuple(sorted(pods, reverse=True)), tuple(pods)}:
        for spread in (False, True):
            free = [cpu_m] * nodes
            for pod in order:
                ranked = sorted(range(nodes), key=lambda n: -free[n]) if spread else range(nodes)
                node = next((n for n in ranked if free[n] >= pod), None)
                if node is None:
                    return False
                free[node] -= pod
    return True


def test_the_nodes_hold_every_pod_at_the_maximum_with_headroom():
    shop = yaml.safe_load((ROOT / "examples" / "shop.yaml").read_text())
    cpu, memory = node_size([shop], nodes=3)
    assert (cpu, memory) == ("11", "16Gi")  # 10 x 2 + 2 x 0.1 cores, a quarter more, over 3 nodes, + one pod
    # the old nodes (4 CPU) held only 5 of the 10 shop pods next to its HAProxy pods: the fifth stayed Pending
    assert not fits_every_way(pod_groups(shop), 3, 4000)
    for manifests, nodes in itertools.product(([shop], [app(cpu="3", most=7), app("b", cpu="500m", most=9)]), (1, 3)):
        cpu, memory = node_size(manifests, nodes)
        groups = [g for m in manifests for g in pod_groups(m)]
        assert fits_every_way(groups, nodes, int(cpu) * 1000)
        need = sum(g.count * g.cpu_m for g in groups) / 1000
        assert int(cpu) * nodes >= need * 1.25
        assert int(memory.removesuffix("Gi")) * 2**30 * nodes >= sum(g.count * g.memory for g in groups)


def test_small_apps_keep_the_default_nodes_and_big_ones_get_more_memory():
    assert node_size([], 3) == (str(MIN_CPU), "16Gi")
    assert node_size([app(cpu="100m", most=2)], 3) == (str(MIN_CPU), "16Gi")
    _, memory = node_size([app(memory="4Gi", most=20)], 2)
    assert int(memory.removesuffix("Gi")) >= math.ceil(20 * 4 * 1.25 / 2 + 4)


def test_what_holds_a_scale_down_is_read_from_the_spec_with_the_defaults():
    holds, longest = scale_down_holds(app()["spec"])
    assert holds == [
        "scaleDown.stabilizationWindow 300s (the highest recommendation of the last 300s)",
        "headroom.window 1m (the p90 of the per-scrape rates of the last 1m)",
    ]
    assert longest == 300 + 60  # the stabilisation window keeps what the headroom window held
    long = {"behavior": {"scaleDown": {"stabilizationWindow": "60s", "rateWindow": "10m", "maxPercent": 25}}}
    holds, longest = scale_down_holds(app(autoscaling=long)["spec"])
    assert holds[1:] == [
        "scaleDown.rateWindow 10m (the mean request rate of the last 10m)",
        "headroom.window 1m (the p90 of the per-scrape rates of the last 1m)",
        "then at most 25 % of the pods per 15s (scaleDown limits)",
    ]
    assert longest == 60 + 600
    short = {
        "headroom": {"quantile": None},
        "behavior": {"scaleDown": {"stabilizationWindow": "30s", "rateWindow": "0s", "maxPercent": 100}},
    }
    assert scale_down_holds(app(autoscaling=short)["spec"]) == (
        ["scaleDown.stabilizationWindow 30s (the highest recommendation of the last 30s)"],
        30,
    )


def test_make_run_shortens_every_long_window():
    shop = yaml.safe_load((ROOT / "examples" / "shop.yaml").read_text())
    holds, longest = scale_down_holds(localize(shop, "http://127.0.0.1:9090", LOCAL_TUNING)["spec"])
    assert longest == 30 + 60
    assert "scaleDown.rateWindow 1m (the mean request rate of the last 1m)" in holds
