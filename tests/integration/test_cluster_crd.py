"""Step 1: CRDs behave as on a real cluster: structural schema, CEL rules (422), status subresource."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from waiting import eventually

pytestmark = pytest.mark.integration

GROUP, VERSION, PLURAL = "test.webscale.dev", "v1", "widgets"

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"kind": "Widget", "plural": PLURAL, "singular": "widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "min": {"type": "integer"},
                                    "max": {"type": "integer"},
                                },
                                "x-kubernetes-validations": [
                                    {"rule": "self.min <= self.max", "message": "min must not exceed max"}
                                ],
                            },
                            "status": {"type": "object", "properties": {"seen": {"type": "integer"}}},
                        },
                    }
                },
            }
        ],
    },
}


@pytest.fixture(scope="module")
def widgets(api_client):
    ext = client.ApiextensionsV1Api(api_client)
    ext.create_custom_resource_definition(WIDGET_CRD)

    def established() -> bool:
        crd = ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

    eventually(established, 30, "the CRD to be established")
    objects = client.CustomObjectsApi(api_client)
    eventually(lambda: objects.list_cluster_custom_object(GROUP, VERSION, PLURAL), 30, "the CRD to be served")
    yield objects
    ext.delete_custom_resource_definition(f"{PLURAL}.{GROUP}")


def _widget(name: str, lo: int, hi: int) -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"min": lo, "max": hi},
    }


def test_cel_rule_rejects_invalid_object_with_its_message(widgets, namespace):
    create = widgets.create_namespaced_custom_object
    with pytest.raises(ApiException) as bad:
        create(GROUP, VERSION, namespace, PLURAL, _widget("bad", 5, 1))
    assert bad.value.status == 422
    assert "min must not exceed max" in json.loads(bad.value.body)["message"]
    ok = create(GROUP, VERSION, namespace, PLURAL, _widget("good", 1, 5))
    assert ok["spec"] == {"min": 1, "max": 5}


def test_status_subresource_is_written_separately(widgets, namespace):
    widgets.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, _widget("w", 1, 2))
    # status in a main-resource write is ignored
    widgets.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "w", {"status": {"seen": 9}})
    assert "status" not in widgets.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "w")
    # spec in a status write is ignored
    widgets.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "w", {"spec": {"min": 0}, "status": {"seen": 3}}
    )
    obj = widgets.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "w")
    assert obj["status"] == {"seen": 3}
    assert obj["spec"] == {"min": 1, "max": 2}
