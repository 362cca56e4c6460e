"""A failure that lasts is logged when it starts, when its reason changes and once when it ends; not on
every retry in between."""

from __future__ import annotations

import logging

from webscale.lasting import AGAIN, Lasting

log = logging.getLogger("test.lasting")


def said(caplog) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage().removesuffix(AGAIN)) for r in caplog.records]


def test_a_failure_is_logged_when_it_starts_changes_and_ends(caplog):
    caplog.set_level(logging.INFO, "test.lasting")
    failures = Lasting(log)
    assert failures.recovered("a", "a works") is False  # never failed: nothing to say
    assert [failures.failed("a", "403", "a failed: %s", "403") for _ in range(5)] == [True, False, False, False, False]
    assert failures.failed("b", "403", "b failed: %s", "403") is True  # its own key
    assert failures.failed("a", "500", "a failed: %s", "500") is True  # another reason
    assert failures.reason("a") == "500"
    assert failures.recovered("a", "a works again") is True
    assert failures.recovered("a", "a works again") is False
    assert failures.failed("a", "500", "a failed: %s", "500") is True  # a new failure after the end
    assert said(caplog) == [
        ("WARNING", "a failed: 403"),
        ("WARNING", "b failed: 403"),
        ("WARNING", "a failed: 500"),
        ("INFO", "a works again"),
        ("WARNING", "a failed: 500"),
    ]


def test_forgotten_keys_end_without_a_word(caplog):
    caplog.set_level(logging.INFO, "test.lasting")
    failures = Lasting(log)
    for key in "abc":
        failures.failed(key, "x", "%s failed", key)
    failures.forget("a")
    failures.keep_only({"c"})
    assert [failures.reason(k) for k in "abc"] == [None, None, "x"]
    assert failures.recovered("b", "b works") is False
    assert len(caplog.records) == 3  # the three starts only
    assert all(r.pathname.endswith("test_lasting.py") for r in caplog.records)  # the caller's line, not ours
