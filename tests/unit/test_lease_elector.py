"""The Lease elector on a fake clock, against a fake API server's Lease (requests counted at the
wire): it acquires, renews, loses the Lease when it cannot renew (and writes stop at once), takes
over an expired Lease, and hands it back on shutdown."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from fake_wire import SERVICE, FakeClock, FakeReply, FakeTransport, Sent, kube_on

from webscale.kube.client import NotLeader
from webscale.kube.lease import LeaderElector, Timing

LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/webscale"


class LeaseServer:
    """One Lease with optimistic concurrency (PUT needs the current resourceVersion); `down` makes
    every request fail with 500; any other write is accepted."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.down = False

    def store(self, body: dict[str, Any]) -> FakeReply:
        self.version += 1
        self.lease = copy.deepcopy(body)
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return FakeReply(200, copy.deepcopy(self.lease))

    def __call__(self, sent: Sent) -> FakeReply:
        if self.down:
            return FakeReply(500)
        if not sent.path.startswith("/apis/coordination.k8s.io/"):
            return FakeReply(200, {"metadata": {}})
        if sent.method == "GET":
            return FakeReply(200, copy.deepcopy(self.lease)) if self.lease else FakeReply(404)
        if sent.method == "POST":
            return FakeReply(409) if self.lease else self.store(sent.body)
        if sent.method == "PUT":
            assert self.lease is not None
            if sent.body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
                return FakeReply(409)
            return self.store(sent.body)
        raise AssertionError(f"unexpected {sent.method} {sent.path}")

    def holder(self) -> str:
        return str((self.lease or {}).get("spec", {}).get("holderIdentity", ""))


class Replica:
    def __init__(self, server: LeaseServer, clock: FakeClock, identity: str = "me") -> None:
        self.wire = FakeTransport(server)
        self.changes: list[str] = []
        self.elector = LeaderElector(
            kube_on(self.wire, clock, rand=lambda: 0.0),
            "ops",
            "webscale",
            identity,
            Timing(lease_duration=8, renew_deadline=5, retry_period=1),
            on_start=lambda: self.changes.append("start"),
            on_stop=lambda: self.changes.append("stop"),
            clock=clock,
        )
        self.kube = kube_on(self.wire, clock, may_write=self.elector.is_leader)

    def writes(self) -> list[str]:
        return [s.method for s in self.wire.sent if not s.path.startswith("/apis/coordination.k8s.io/")]


def test_acquires_a_missing_lease_and_renews_it():
    server, clock = LeaseServer(), FakeClock()
    me = Replica(server, clock)
    me.elector.tick()
    assert me.elector.is_leader() and me.changes == ["start"] and server.holder() == "me"
    leases = LEASE_PATH.rsplit("/", 1)[0]
    assert [(s.method, s.path) for s in me.wire.sent] == [("GET", LEASE_PATH), ("POST", leases)]
    first = server.lease
    assert first is not None and first["spec"]["leaseTransitions"] == 0
    for _ in range(10):
        clock.now += 1
        me.elector.tick()
    assert me.elector.is_leader() and me.changes == ["start"] and server.version == 11
    assert server.lease is not None and server.lease["spec"]["acquireTime"] == first["spec"]["acquireTime"]
    me.kube.apply(SERVICE)
    assert me.writes() == ["PATCH"]


def test_a_leader_that_cannot_renew_stops_writing_at_the_renew_deadline():
    server, clock = LeaseServer(), FakeClock()
    me = Replica(server, clock)
    me.elector.tick()
    server.down = True
    clock.now = 1
    me.elector.tick()  # the renewal fails (5 sends, no wait at zero jitter): still within the deadline
    assert me.elector.is_leader() and me.changes == ["start"]
    clock.now = 5  # the deadline passes before the next tick: the gate closes at once
    sent = len(me.wire.sent)
    with pytest.raises(NotLeader):
        me.kube.apply(SERVICE)
    me.kube.event({"name": "s", "namespace": "n"}, "Normal", "Scaled", "2 -> 3")
    assert len(me.wire.sent) == sent and me.writes() == []
    me.elector.tick()
    assert me.changes == ["start", "stop"]


def test_a_write_retrying_across_the_renew_deadline_is_not_resent():
    server, clock = LeaseServer(), FakeClock()
    me = Replica(server, clock)
    me.elector.tick()
    me.wire.answer = lambda sent: FakeReply(503, headers={"Retry-After": "3"})  # the API server struggles
    with pytest.raises(NotLeader):
        me.kube.apply(SERVICE)  # sent at t=0 and t=3; at t=6 the last renewal (t=0) is too old
    assert me.writes() == ["PATCH", "PATCH"] and clock.now == 6


def test_a_standby_takes_over_only_once_the_lease_stood_still_for_a_whole_duration():
    server, clock = LeaseServer(), FakeClock(100)
    other, me = Replica(server, clock, "other"), Replica(server, clock, "me")
    other.elector.tick()
    me.elector.tick()
    assert other.elector.is_leader() and not me.elector.is_leader() and server.holder() == "other"
    clock.now = 104
    other.elector.tick()  # renewed: the standby's 8 s start again when it sees the new version (t=105)
    for now in (105, 112.9):
        clock.now = now
        me.elector.tick()
        assert server.holder() == "other" and not me.elector.is_leader()
    clock.now = 113
    me.elector.tick()
    assert server.holder() == "me" and me.elector.is_leader() and me.changes == ["start"]
    assert server.lease is not None and server.lease["spec"]["leaseTransitions"] == 1
    other.elector.tick()  # the old leader sees someone else holds it: it stops
    assert not other.elector.is_leader() and other.changes == ["start", "stop"]


def test_shutdown_hands_the_lease_back_and_a_standby_takes_it_at_once():
    server, clock = LeaseServer(), FakeClock()
    me, standby = Replica(server, clock, "me"), Replica(server, clock, "standby")
    me.elector.tick()
    standby.elector.tick()
    me.elector.release()
    assert not me.elector.is_leader() and server.holder() == ""
    assert server.lease is not None and server.lease["spec"]["leaseDurationSeconds"] == 1
    with pytest.raises(NotLeader):
        me.kube.apply(SERVICE)
    clock.now += 1
    standby.elector.tick()
    assert standby.elector.is_leader() and server.holder() == "standby"


def test_losing_a_race_for_the_lease_is_not_leading():
    server, clock = LeaseServer(), FakeClock()
    me = Replica(server, clock)
    server.store({"metadata": {"name": "webscale", "namespace": "ops"}, "spec": {"holderIdentity": ""}})
    real = me.wire.answer

    def someone_else_first(sent: Sent) -> FakeReply:
        if sent.method == "PUT":
            server.version += 1  # another replica wrote between our read and our write
            assert server.lease is not None
            server.lease["metadata"]["resourceVersion"] = str(server.version)
        return real(sent)

    me.wire.answer = someone_else_first
    me.elector.tick()
    assert not me.elector.is_leader() and me.changes == []


def test_a_lease_that_cannot_be_renewed_is_logged_once_not_every_retry(caplog):
    caplog.set_level(logging.INFO, "webscale.kube.lease")
    server, clock = LeaseServer(), FakeClock()
    me = Replica(server, clock)
    me.elector.tick()
    server.down = True
    for _ in range(10):
        clock.now += 1
        me.elector.tick()
    server.down = False
    for _ in range(3):
        clock.now += 1
        me.elector.tick()
    said = [r.getMessage().split(" (logged again")[0] for r in caplog.records]
    assert said == [
        "leader election: me now holds Lease ops/webscale",
        "leader election: Lease ops/webscale could not be read or written: 500 Internal Server Error",
        "leader election: me lost Lease ops/webscale; writes stopped",
        "leader election: Lease ops/webscale is read and written again",
        "leader election: me now holds Lease ops/webscale",
    ]
