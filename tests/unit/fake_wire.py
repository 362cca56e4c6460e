"""A fake clock and a fake wire for unit tests of the Kubernetes client, informers and the elector.

`FakeTransport` is what `Kube` sends through (the `Transport` seam): it records every request that
would have reached the API server and answers from a handler, so a test counts requests at the
wire. `FakeClock.sleep` advances the clock instead of waiting.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from webscale.kube.client import Kube
from webscale.kube.transport import Reply
from webscale.settings import Settings


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class FakeReply:
    status: int = 200
    payload: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    closed: bool = False

    def body(self) -> bytes:
        return b"" if self.payload is None else json.dumps(self.payload).encode()

    def lines(self) -> Iterator[str]:
        for event in self.events:
            yield json.dumps(event)

    def close(self) -> None:
        self.closed = True


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    body: Any
    query: dict[str, Any]


Answer = Callable[[Sent], "FakeReply | BaseException"]


class FakeTransport:
    """Records each request; the handler's exception is raised as a failed send would be."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.sent: list[Sent] = []

    def __call__(
        self,
        method: str,
        path: str,
        body: Any,
        content_type: str,
        query: list[tuple[str, Any]],
        stream: bool,
        timeout: float,
    ) -> Reply:
        sent = Sent(method, path, json.loads(json.dumps(body)), dict(query))
        self.sent.append(sent)
        reply = self.answer(sent)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def methods(self) -> list[str]:
        return [s.method for s in self.sent]


def in_order(*replies: FakeReply | BaseException) -> Answer:
    """Answer with these, one per request, then fail the test if asked again."""
    left = list(replies)

    def answer(sent: Sent) -> FakeReply | BaseException:
        assert left, f"unexpected request {sent.method} {sent.path}"
        return left.pop(0)

    return answer


def kube_on(
    transport: FakeTransport,
    clock: FakeClock,
    may_write: Callable[[], bool] = lambda: True,
    rand: Callable[[], float] = lambda: 0.5,
) -> Kube:
    return Kube(None, Settings(), may_write, "me", transport=transport, sleep=clock.sleep, clock=clock, rand=rand)


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}}
INVOLVED = {"apiVersion": "v1", "kind": "Service", "name": "s", "namespace": "n", "uid": "u1"}
