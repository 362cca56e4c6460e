"""Which names a ScaledWebApp may have: the CRD's CEL rules and the operator's own check agree."""

from __future__ import annotations

import pytest

from webscale.api.app import App
from webscale.api.names import DNS_1035_PATTERN, MAX_NAME_LENGTH, NAME_RULES, name_errors


def test_the_longest_name_leaves_room_for_every_child():
    assert MAX_NAME_LENGTH == 46
    longest = "a" * MAX_NAME_LENGTH
    assert len(f"{longest}-haproxy") <= 63  # the load-balancer tier's Service
    assert len(f"{longest}-{'0' * 10}-") <= 58  # a pod's generateName base is kept whole


@pytest.mark.parametrize("name", ["a", "shop", "shop-2", "a" * MAX_NAME_LENGTH, "x1-y2"])
def test_good_names(name):
    assert name_errors(name) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a" * (MAX_NAME_LENGTH + 1), f"at most {MAX_NAME_LENGTH} characters: it names the app's Services"),
        ("1shop", "DNS-1035 label"),
        ("Shop", "DNS-1035 label"),
        ("shop.v2", "DNS-1035 label"),
        ("shop-", "DNS-1035 label"),
        ("shop\n", "DNS-1035 label"),
    ],
)
def test_bad_names(name, message):
    errors = name_errors(name)
    assert errors and message in errors[0]


def test_cel_rules_say_the_same():
    assert NAME_RULES[0]["rule"] == f"self.metadata.name.size() <= {MAX_NAME_LENGTH}"
    assert NAME_RULES[1]["rule"] == f"self.metadata.name.matches('{DNS_1035_PATTERN}')"
    assert str(MAX_NAME_LENGTH) in NAME_RULES[0]["message"]


def test_an_app_stored_with_a_bad_name_is_invalid():
    app = App.from_body({"metadata": {"name": "1shop", "namespace": "default"}, "spec": {"image": "a"}})
    assert not app.valid and "metadata.name must be a DNS-1035 label" in app.errors[0]
