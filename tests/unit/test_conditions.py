from __future__ import annotations

from webscale.api.conditions import get_condition, set_condition


def test_transition_time_moves_only_when_status_flips():
    c = set_condition([], "Ready", False, "PodsNotReady", "0/2", "t1", 1)
    c = set_condition(c, "Ready", False, "PodsNotReady", "1/2", "t2", 1)
    assert get_condition(c, "Ready")["lastTransitionTime"] == "t1"
    assert get_condition(c, "Ready")["message"] == "1/2"
    c = set_condition(c, "Ready", True, "PodsReady", "2/2", "t3", 1)
    assert get_condition(c, "Ready")["lastTransitionTime"] == "t3"


def test_order_is_kept_so_unchanged_status_compares_equal():
    c = set_condition([], "Invalid", False, "SpecValid", "ok", "t", 1)
    c = set_condition(c, "Ready", True, "PodsReady", "2/2", "t", 1)
    again = set_condition(c, "Invalid", False, "SpecValid", "ok", "t2", 1)
    assert [x["type"] for x in again] == ["Invalid", "Ready"]
    assert again == c
