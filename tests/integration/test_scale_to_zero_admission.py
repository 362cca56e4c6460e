"""Scale to zero at admission, against the real API server with the generated CRD: every bad
combination is refused (422) with a message that says why, good ones are stored, and an app without
the section is stored without one (the section is never defaulted in)."""

from __future__ import annotations

import pytest
from kubernetes.client.rest import ApiException
from test_operator import G, P, V, app_body

pytestmark = pytest.mark.integration

ZERO = {"idleAfter": "5m", "holdRequestsFor": "30s"}


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"replicas": {"min": 0}}, "replicas.min 0 needs an autoscaling.scaleToZero section"),
        (
            {"replicas": {"min": 0}, "autoscaling": {"scaleToZero": ZERO}, "loadBalancer": {"provider": "service"}},
            "autoscaling.scaleToZero needs loadBalancer.provider haproxy",
        ),
        (
            {"autoscaling": {"scaleToZero": {}}, "loadBalancer": {"provider": "service"}},
            "a kube-proxy Service would refuse them",
        ),
        (
            {"replicas": {"min": 0}, "autoscaling": {"pollingInterval": "1m", "scaleToZero": {"idleAfter": "45s"}}},
            "idleAfter must be at least autoscaling.pollingInterval",
        ),
        ({"replicas": {"min": 0}, "autoscaling": {"scaleToZero": {"idleAfter": "10s"}}}, "between 30s and 168h"),
        ({"replicas": {"min": 0}, "autoscaling": {"scaleToZero": {"holdRequestsFor": "10m"}}}, "between 1s and 5m"),
    ],
)
def test_bad_combinations_are_refused_at_admission(namespace, crd_installed, swa, spec, words):
    with pytest.raises(ApiException) as err:
        swa.create_namespaced_custom_object(G, V, namespace, P, app_body(**spec))
    assert err.value.status == 422 and words in err.value.body, err.value.body


def test_good_combinations_are_stored_and_defaulted(namespace, crd_installed, swa):
    stored = swa.create_namespaced_custom_object(
        G, V, namespace, P, app_body("zero", replicas={"min": 0}, autoscaling={"scaleToZero": {}})
    )
    assert stored["spec"]["autoscaling"]["scaleToZero"] == ZERO and stored["spec"]["replicas"]["min"] == 0
    plain = swa.create_namespaced_custom_object(G, V, namespace, P, app_body("plain"))
    assert "scaleToZero" not in plain["spec"]["autoscaling"] and plain["spec"]["replicas"]["min"] == 2
