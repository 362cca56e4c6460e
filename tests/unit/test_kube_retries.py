"""The client's retry path, on a fake wire and a fake clock: what is retried, how long it waits,
how many sends at most, which writes are never resent, and that the leader gate is asked before
every send."""

from __future__ import annotations

import pytest
import urllib3
from fake_wire import INVOLVED, SERVICE, FakeClock, FakeReply, FakeTransport, Sent, in_order, kube_on
from kubernetes.client.rest import ApiException

from webscale.kube.client import NotLeader

OK = FakeReply(200, {"kind": "Service", "metadata": {"name": "s"}})


def test_retry_after_from_the_server_is_waited_for():
    clock = FakeClock()
    wire = FakeTransport(in_order(FakeReply(429, headers={"Retry-After": "3"}), OK))
    assert kube_on(wire, clock).get("v1", "Service", "n", "s") == OK.payload
    assert clock.slept == [3.0] and len(wire.sent) == 2


def test_without_retry_after_the_backoff_is_jittered_exponential():
    clock = FakeClock()
    wire = FakeTransport(in_order(FakeReply(503), FakeReply(500), FakeReply(502), OK))
    kube_on(wire, clock, rand=lambda: 0.5).get("v1", "Service", "n", "s")
    assert clock.slept == pytest.approx([0.1, 0.2, 0.4])  # half of 0.2 s, 0.4 s, 0.8 s
    clock = FakeClock()
    wire = FakeTransport(in_order(FakeReply(503), FakeReply(503), OK))
    kube_on(wire, clock, rand=lambda: 0.0).get("v1", "Service", "n", "s")
    assert clock.slept == [0.0, 0.0]  # full jitter: anywhere from nothing up to the cap


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_throttling_and_server_errors_are_retried(status):
    wire = FakeTransport(in_order(FakeReply(status), OK))
    kube_on(wire, FakeClock()).apply(SERVICE)
    assert wire.methods() == ["PATCH", "PATCH"]


@pytest.mark.parametrize("status", [400, 403, 404, 409, 410, 422])
def test_client_errors_are_not_retried(status):
    wire = FakeTransport(in_order(FakeReply(status, {"kind": "Status", "message": "no"})))
    with pytest.raises(ApiException) as caught:
        kube_on(wire, FakeClock()).apply(SERVICE)
    assert caught.value.status == status and len(wire.sent) == 1


def test_attempts_are_bounded_for_errors_and_lost_connections():
    clock = FakeClock()
    wire = FakeTransport(lambda sent: FakeReply(503))
    with pytest.raises(ApiException) as caught:
        kube_on(wire, clock).apply(SERVICE)
    assert caught.value.status == 503 and len(wire.sent) == 5 and len(clock.slept) == 4
    wire = FakeTransport(lambda sent: urllib3.exceptions.ProtocolError("Connection reset by peer"))
    with pytest.raises(ApiException) as caught:
        kube_on(wire, FakeClock()).get("v1", "Service", "n", "s")
    assert caught.value.status == 0 and len(wire.sent) == 5


@pytest.mark.parametrize(
    "failure",
    [
        FakeReply(500),
        FakeReply(503),
        FakeReply(504),
        urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"),
        urllib3.exceptions.ProtocolError("Connection reset by peer"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
def test_an_event_whose_create_may_have_happened_is_sent_once(failure):
    """An Event is created with generateName: resending after an unknown outcome could make two."""
    wire = FakeTransport(in_order(failure))
    kube_on(wire, FakeClock()).event(INVOLVED, "Normal", "Scaled", "2 -> 3")  # best effort: no raise
    assert wire.methods() == ["POST"]


@pytest.mark.parametrize(
    "not_processed",
    [
        FakeReply(429, headers={"Retry-After": "1"}),
        urllib3.exceptions.NewConnectionError(None, "connection refused"),
        urllib3.exceptions.ConnectTimeoutError("connect timed out"),
    ],
)
def test_a_create_the_server_cannot_have_seen_is_resent(not_processed):
    wire = FakeTransport(in_order(not_processed, FakeReply(201, {"kind": "Event"})))
    kube_on(wire, FakeClock()).event(INVOLVED, "Normal", "Scaled", "2 -> 3")
    assert wire.methods() == ["POST", "POST"]
    assert wire.sent[0].body == wire.sent[1].body and wire.sent[0].body["metadata"]["generateName"] == "s."


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_idempotent_writes_are_resent_after_an_unknown_outcome(method):
    wire = FakeTransport(in_order(urllib3.exceptions.ProtocolError("reset"), FakeReply(504), OK))
    kube = kube_on(wire, FakeClock())
    if method == "PATCH":
        kube.apply(SERVICE)
    else:
        kube.delete("v1", "Service", "n", "s", uid="u1")
    assert wire.methods() == [method] * 3


def test_a_replica_deposed_during_a_backoff_sends_nothing_more():
    leading = [True]
    clock = FakeClock()

    def answer(sent: Sent) -> FakeReply:
        return FakeReply(503, headers={"Retry-After": "2"})

    wire = FakeTransport(answer)
    kube = kube_on(wire, clock, may_write=lambda: leading[0] and clock.now < 3)  # the Lease is lost at t=3
    with pytest.raises(NotLeader):
        kube.apply(SERVICE)
    assert wire.methods() == ["PATCH", "PATCH"] and clock.slept == [2.0, 2.0]  # t=0 and t=2 sent; t=4 not
    leading[0] = False
    kube.event(INVOLVED, "Normal", "Scaled", "2 -> 3")
    with pytest.raises(NotLeader):
        kube.patch_annotations("v1", "Pod", "n", "p", {"a": "1"})
    assert len(wire.sent) == 2


def test_reads_and_the_lease_are_not_gated():
    wire = FakeTransport(lambda sent: FakeReply(200, {"metadata": {"name": "l"}}))
    kube = kube_on(wire, FakeClock(), may_write=lambda: False)
    kube.get("v1", "Service", "n", "s")
    kube.replace_lease({"metadata": {"name": "l", "namespace": "n"}})
    assert wire.methods() == ["GET", "PUT"]
