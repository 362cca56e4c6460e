"""Free TCP ports on 127.0.0.1, from a range no outgoing connection takes.

`make test` runs the integration and e2e suites at the same time, each starting its own control
plane, Prometheus, HAProxy and sample apps on free loopback ports. A port found free by binding to
port 0 comes from the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by
default), the range every outgoing connection also takes its local port from: between the moment
it is released and the moment its server binds it, any client of either suite can take it. So the
ports here come from `WEBSCALE_TEST_PORTS` ("low-high", default 20000-32767, below the ephemeral
range); the Makefile gives each suite its own half, so two suites never hand out the same port,
and one process never hands out the same port twice.
"""

from __future__ import annotations

import os
import random
import socket

DEFAULT_RANGE = (20000, 32767)
_handed_out: set[int] = set()


def port_range(value: str | None = None) -> tuple[int, int]:
    """The (low, high) range of `WEBSCALE_TEST_PORTS` ("low-high"), or DEFAULT_RANGE when it is unset."""
    text = os.environ.get("WEBSCALE_TEST_PORTS", "") if value is None else value
    if not text:
        return DEFAULT_RANGE
    low, sep, high = text.partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        raise ValueError(f"WEBSCALE_TEST_PORTS={text!r}: expected 'low-high', e.g. 20000-26383")
    lo, hi = int(low), int(high)
    if not 1024 <= lo <= hi <= 65535:
        raise ValueError(f"WEBSCALE_TEST_PORTS={text!r}: expected 1024 <= low <= high <= 65535")
    return lo, hi


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, from `port_range()`.

    The port is released before returning, so the caller should bind it at once; no other caller in
    this process gets it again. The same function gives "a real closed port" for connection-refused
    tests.
    """
    low, high = port_range()
    candidates = [p for p in range(low, high + 1) if p not in _handed_out]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free TCP port on 127.0.0.1 in {low}-{high} (WEBSCALE_TEST_PORTS)")
