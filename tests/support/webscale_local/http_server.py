"""A test's own HTTP server on loopback, served from a thread for as long as a `with` block lasts.

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}"

Used for what stands in for something the operator talks to: a Prometheus that misbehaves, a target
it must never reach, a metrics exposition for a real Prometheus to scrape.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from socketserver import BaseServer
from typing import TypeVar

S = TypeVar("S", bound=BaseServer)


@contextlib.contextmanager
def serving(server: S) -> Iterator[S]:
    """Serve `server` from a daemon thread; on exit shut it down, close its socket and join the thread."""
    thread = threading.Thread(target=server.serve_forever, name=f"serve-{type(server).__name__}", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "application/json") -> None:
    """Answer the request `handler` is serving: status, Content-Type and Content-Length, then the body."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
