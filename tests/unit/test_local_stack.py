"""webscale_local.stack.localize: what `make run` changes in an example (pure)."""

from __future__ import annotations

import yaml
from manifest_helpers import ROOT
from webscale_local.stack import LOCAL_TUNING, localize, pod_labels

from webscale.api import models
from webscale.api.labels import MANAGED_BY


def test_localize_points_the_example_at_the_local_prometheus_and_keeps_the_rest():
    example = yaml.safe_load((ROOT / "examples" / "shop.yaml").read_text())
    local = localize(example, "http://127.0.0.1:9999")
    assert local["spec"]["metrics"]["prometheus"]["url"] == "http://127.0.0.1:9999"
    assert local["spec"]["autoscaling"]["target"] == {"requestsPerSecondPerWorker": 5, "cpuUtilization": 70}
    assert local["spec"]["autoscaling"]["behavior"]["scaleDown"]["stabilizationWindow"] == "30s"
    assert (local["spec"]["image"], local["spec"]["replicas"]) == (
        example["spec"]["image"],
        example["spec"]["replicas"],
    )
    assert "metrics" not in example["spec"]  # the input is not changed
    models.ScaledWebAppSpec.model_validate(local["spec"])  # still a valid spec
    assert localize(example, "http://x", tuning={})["spec"]["autoscaling"] == example["spec"]["autoscaling"]
    assert set(LOCAL_TUNING) == {"autoscaling"}


def test_pod_labels_follow_the_label_contract():
    assert pod_labels("default", "shop", 1) == {
        "namespace": "default",
        "app": "shop",
        "pod": "shop-local-1",
        "managed_by": MANAGED_BY,
    }
