"""tests/manifest_helpers.forbidden_lines: what counts as a refused request in the operator's log.
The integration tests that run the operator as the base's ServiceAccount assert it finds none, so a
false match fails them at random (a namespace named t-owner-refs-403c did)."""

from __future__ import annotations

from manifest_helpers import forbidden_lines

STAMP = "2026-12-04 21:51:34,403 "


def test_a_refused_request_is_found_however_it_is_told():
    lines = [
        STAMP + "ERROR kopf: (403) Reason: Forbidden",
        STAMP + "WARNING webscale: status 403 on PATCH",
        STAMP + 'ERROR x: User "system:serviceaccount:webscale-system:webscale-operator" cannot list pods',
        STAMP + "ERROR x: Not enough permissions to watch",
    ]
    assert forbidden_lines("\n".join(lines)) == lines


def test_403_inside_a_name_a_port_a_number_or_the_timestamp_is_not_a_refusal():
    lines = [
        STAMP + "INFO webscale.reconcile.reconciler: t-owner-refs-403c/shop: creating Deployment/shop",
        STAMP + "INFO x: ns t-owner-refs-a403/shop applied",
        STAMP + "INFO x: listening on 127.0.0.1:40323",
        STAMP + "INFO x: 14033 requests",
        STAMP + "INFO x: app shop403 ready",
    ]
    assert forbidden_lines("\n".join(lines)) == []
