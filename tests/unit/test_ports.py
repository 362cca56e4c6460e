"""The test harness's free loopback ports: from their own range, never the same one twice."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from webscale_local import ports


def test_the_default_range_lies_below_the_kernels_ephemeral_ports():
    low, high = ports.port_range("")
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert 1024 <= low <= high < ephemeral_low


@pytest.mark.parametrize(
    ("text", "wanted"),
    [("20000-26383", (20000, 26383)), (" 26384 - 32767 ", (26384, 32767)), ("3000-3000", (3000, 3000))],
)
def test_a_range_is_read_from_its_text(text, wanted):
    assert ports.port_range(text) == wanted


@pytest.mark.parametrize("text", ["20000", "a-b", "30000-20000", "80-90", "60000-70000", "-5-10"])
def test_a_bad_range_names_the_variable_and_what_it_expects(text):
    with pytest.raises(ValueError, match=r"WEBSCALE_TEST_PORTS=.*expected"):
        ports.port_range(text)


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_ports_come_from_the_range_and_are_never_handed_out_twice(monkeypatch):
    monkeypatch.setattr(ports, "_handed_out", set())
    monkeypatch.setenv("WEBSCALE_TEST_PORTS", "29000-29009")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 29004))
        taken.listen()
        free = [p for p in range(29000, 29010) if _bindable(p)]
        got = [ports.free_port() for _ in free]
        assert sorted(got) == free and 29004 not in got
        with pytest.raises(RuntimeError, match=r"no free TCP port on 127\.0\.0\.1 in 29000-29009"):
            ports.free_port()
