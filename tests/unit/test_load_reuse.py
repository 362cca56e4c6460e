"""When the load generator reuses a kept-alive connection: not after IDLE_REUSE seconds idle (below
the servers' keep-alive timeouts), and not once the server has closed it (a socket pair, no server)."""

from __future__ import annotations

import http.client
import socket
import time

from webscale_local.load import IDLE_REUSE, KeptAlive


def kept_on(sock: socket.socket) -> KeptAlive:
    conn = http.client.HTTPConnection("127.0.0.1", 1)
    conn.sock = sock
    return KeptAlive(conn)


def test_a_connection_is_reused_until_the_server_closes_it() -> None:
    ours, server = socket.socketpair()
    with ours, server:
        kept = kept_on(ours)
        assert kept.reusable(IDLE_REUSE)
        server.close()  # the server's keep-alive timeout: EOF to read on our side
        assert not kept.reusable(IDLE_REUSE)


def test_a_connection_idle_longer_than_the_limit_is_not_reused() -> None:
    ours, server = socket.socketpair()
    with ours, server:
        kept = kept_on(ours)
        kept.used = time.monotonic() - 2 * IDLE_REUSE
        assert not kept.reusable(IDLE_REUSE)
        assert kept.reusable(4 * IDLE_REUSE)


def test_a_connection_not_yet_opened_is_reusable() -> None:
    assert KeptAlive(http.client.HTTPConnection("127.0.0.1", 1)).reusable(IDLE_REUSE)
