"""The operator's reads of an app's HAProxy pods (runtime.pod_reads, through the fast signal's and the
wake loop's readers) against pods that misbehave, on loopback: a pod is a namespace user's to break, and
what it answers must stay that pod's problem. Each hostile pod is a real TCP server on 127.0.0.1 that
answers in its own wrong way; next to it, a well-behaved pod must still be read in the same call."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from webscale_local.ports import free_port

from webscale.reconcile.hold import HELD_PATH, WAITING
from webscale.runtime import fast_signal, held
from webscale.runtime.fast_signal import SAMPLE, STATS_PATH, read_requests

pytestmark = pytest.mark.e2e

Answer = Callable[[socket.socket], None]


def _http(body: str, status: str = "200 OK", headers: str = "") -> bytes:
    data = body.encode()
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(data)}\r\n{headers}Connection: close\r\n\r\n".encode() + data


@contextlib.contextmanager
def pod(answer: Answer) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that hands every connection to `answer` (at most 32, each in a thread);
    yields its port. Stopped, and its connections closed, on exit."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = free_port()
    listener.bind(("127.0.0.1", port))
    listener.listen(32)
    listener.settimeout(0.1)
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def serve() -> None:
        while not stop.is_set() and len(threads) < 32:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return

            def one(c: socket.socket = conn) -> None:
                with contextlib.suppress(OSError), c:
                    c.settimeout(5)
                    c.recv(4096)  # the request
                    if not stop.is_set():
                        answer(c)

            t = threading.Thread(target=one, daemon=True)
            threads.append(t)
            t.start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield port
    finally:
        stop.set()
        server.join(5)
        listener.close()
        for t in threads:
            t.join(10)


def trickle(data: bytes, every: float) -> Answer:
    """Send `data` a byte at a time, one every `every` seconds (each read of the client gets a byte in
    time; the whole answer takes len(data) x every)."""

    def answer(c: socket.socket) -> None:
        for byte in data:
            c.sendall(bytes([byte]))
            time.sleep(every)

    return answer


def send(data: bytes) -> Answer:
    return lambda c: c.sendall(data)


GOOD = _http(f"{SAMPLE}1234\n")


def read_both(answer: Answer, path: str = STATS_PATH) -> tuple[object, object]:
    """Read a hostile pod and a good one in one call of the fast signal's reader: (hostile, good)."""
    with pod(answer) as bad_port, pod(send(GOOD)) as good_port:
        bad, good = f"http://127.0.0.1:{bad_port}{path}", f"http://127.0.0.1:{good_port}{path}"
        found = read_requests([bad, good])
    return found[bad], found[good]


@pytest.mark.parametrize(
    "answer",
    [
        send(b"garbage\r\n\r\n"),  # not HTTP: http.client's BadStatusLine escaped the old reader
        send(b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n" + f"{SAMPLE}5\n".encode()),
        send(_http(f"{SAMPLE}5\n", status="500 Internal Server Error")),  # an error page that looks like a count
        send(_http("", status="302 Found", headers="Location: http://127.0.0.1:1/\r\n")),  # never followed
        send(_http(f"{SAMPLE}NaN\n")),
        send(_http(f"{SAMPLE}+Inf\n")),
        send(_http(f"{SAMPLE}-7\n")),
        send(_http(f"{SAMPLE}1e400\n")),  # overflows to inf
        send(b""),  # closes at once
    ],
    ids=["not-http", "bad-length", "500", "redirect", "nan", "inf", "negative", "overflow", "closed"],
)
def test_a_pod_answering_wrongly_is_that_pods_none_and_the_other_pod_is_read(answer):
    bad, good = read_both(answer)
    assert bad is None and good == 1234.0


def test_a_pod_trickling_a_valid_answer_is_cut_off_at_the_timeout_in_all_not_per_read(monkeypatch):
    monkeypatch.setattr(fast_signal, "READ_TIMEOUT", 0.5)
    # every byte arrives 50 ms after the one before (well within any per-read timeout), but the whole
    # answer takes ~6 s: twelve times the time a pod is given in all
    bad, good = read_both(trickle(_http(f"{SAMPLE}99\n"), 0.05))
    assert bad is None and good == 1234.0


def in_pieces(data: bytes, at: int, pause: float) -> Answer:
    """Send `data` in two writes, `pause` seconds apart (as an exporter's answer arrives in pieces)."""

    def answer(c: socket.socket) -> None:
        c.sendall(data[:at])
        time.sleep(pause)
        c.sendall(data[at:])

    return answer


def test_an_answer_that_arrives_in_pieces_is_read_to_its_end():
    # HAProxy's exporter answer is ~13 kB with the counter well into it: a reader that took only what had
    # arrived at its first read missed the counter
    padding = "".join(f"# HELP m{i} a metric\n# TYPE m{i} counter\nm{i} {i}\n" for i in range(300))
    data = _http(f"{padding}{SAMPLE}4321\n")
    with pod(in_pieces(data, len(data) // 2, 0.05)) as port:
        url = f"http://127.0.0.1:{port}{STATS_PATH}"
        assert read_requests([url]) == {url: 4321.0}


def test_a_pod_that_never_answers_is_none_and_the_wake_loops_reader_reads_the_others():
    waiting = _http(f"{WAITING} 3\n")
    with pod(lambda c: time.sleep(3)) as silent, pod(send(waiting)) as good_port:
        urls = [f"http://127.0.0.1:{silent}{HELD_PATH}", f"http://127.0.0.1:{good_port}{HELD_PATH}"]
        found = held.read_held(urls)
    assert found[urls[0]] is None and found[urls[1]] == {WAITING: 3.0}
