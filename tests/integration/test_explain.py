"""`kubectl explain scaledwebapp.spec...` shows the models' descriptions, through the real API server's
OpenAPI (published from the CRD that `webscale crd` generates from the models)."""

from __future__ import annotations

import re

import pytest
from waiting import eventually

from webscale.api import autoscaling_spec, models

pytestmark = pytest.mark.integration

FIELDS = [
    ("spec.image", models.ScaledWebAppSpec, "image"),
    ("spec.workers.mode", models.Workers, "mode"),
    ("spec.autoscaling.target.requestsPerSecondPerWorker", autoscaling_spec.Target, "requests_per_second_per_worker"),
    ("spec.autoscaling.behavior.scaleDown.stabilizationWindow", autoscaling_spec.ScaleDown, "stabilization_window"),
    ("spec.loadBalancer.strategy", models.LoadBalancer, "strategy"),
    ("spec.metrics.prometheus.url", models.Prometheus, "url"),
]


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("path", "model", "field"), FIELDS, ids=[f[0] for f in FIELDS])
def test_explain_shows_the_models_description(cluster, crd_installed, path, model, field):
    description = model.model_fields[field].description
    assert description, f"{model.__name__}.{field} has no description in the models"
    # The OpenAPI of a new CRD is published a moment after it is established.
    out = eventually(
        lambda: cluster.kubectl("explain", f"scaledwebapps.{path}", check=False), 30, f"kubectl explain {path}"
    )
    assert re.search(r"KIND:\s+ScaledWebApp", out), out
    assert flat(description) in flat(out), out


def test_explain_short_name_lists_the_spec_fields(cluster, crd_installed):
    out = eventually(lambda: cluster.kubectl("explain", "swa.spec", check=False), 30, "kubectl explain swa.spec")
    for name in ("image", "workers", "replicas", "autoscaling", "metrics", "loadBalancer", "state"):
        assert f"\n  {name}\t" in out or f"\n  {name} " in out, out
    assert flat(models.ScaledWebAppSpec.model_fields["port"].description or "") in flat(out)
