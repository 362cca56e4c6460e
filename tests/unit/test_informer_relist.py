"""The informer's list + watch on a fake wire: a watch resumes from the last resourceVersion
(bookmarks included), a 410 Gone relists at once, a relist reports what was deleted in the gap,
and other failures relist after a backoff. The informer's loop runs in the test's thread; once the
fake server has given its answers, it stops the informer and ends the watch it was asked for."""

from __future__ import annotations

import logging
from typing import Any

from fake_wire import FakeClock, FakeReply, FakeTransport, Sent, kube_on

from webscale.kube.informer import Informer, Resource
from webscale.kube.store import Change

PODS = "/api/v1/namespaces/n/pods"


def pod(name: str, rv: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "n", "resourceVersion": rv}}


def listed(rv: str, *items: dict[str, Any]) -> FakeReply:
    return FakeReply(200, {"kind": "PodList", "metadata": {"resourceVersion": rv}, "items": list(items)})


def event(type_: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "object": {"apiVersion": "v1", "kind": "Pod", **obj}}


class Run:
    """Answers in order; asked for more, it stops the informer and ends that (watch) request."""

    def __init__(self, *answers: FakeReply | BaseException) -> None:
        self.answers = list(answers)
        self.changes: list[tuple[str, str]] = []
        self.waits: list[float] = []
        self.wire = FakeTransport(self.answer)
        self.informer = Informer(
            kube_on(self.wire, FakeClock()),
            Resource("v1", "Pod", "app=a"),
            "n",
            self.changed,
            watch_timeout=60,
            wait=self.waits.append,
        )

    def answer(self, sent: Sent) -> FakeReply | BaseException:
        if not self.answers:
            assert sent.query.get("watch") == "true", f"unexpected {sent.method} {sent.path} {sent.query}"
            self.informer.stop()
            return FakeReply(events=[])
        return self.answers.pop(0)

    def changed(self, kind: str, change: Change) -> None:
        self.changes.append((change.type, change.obj["metadata"]["name"]))

    def run(self) -> None:
        self.informer._run()
        assert not self.answers

    def requests(self) -> list[tuple[str, str]]:
        """("list" | "watch", resourceVersion asked for) per request."""
        return [
            ("watch", s.query["resourceVersion"]) if s.query.get("watch") == "true" else ("list", "")
            for s in self.wire.sent
        ]


def test_a_watch_resumes_from_the_last_version_and_a_410_relists_reporting_the_gap():
    run = Run(
        listed("10", pod("a", "5"), pod("b", "6")),
        FakeReply(events=[event("MODIFIED", pod("a", "11")), event("BOOKMARK", pod("", "15"))]),
        FakeReply(events=[{"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}]),
        listed("30", pod("a", "11"), pod("c", "20")),  # b was deleted while the watch was gone
    )
    run.run()
    assert run.requests() == [("list", ""), ("watch", "10"), ("watch", "15"), ("list", ""), ("watch", "30")]
    assert run.changes == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("ADDED", "c"),
        ("DELETED", "b"),
    ]
    assert run.waits == []  # 410 is the normal way a watch ends: relist at once
    assert (
        run.wire.sent[0].query["labelSelector"] == "app=a" and run.wire.sent[1].query["allowWatchBookmarks"] == "true"
    )
    assert run.informer.store.get("n", "b") is None and run.informer.synced.is_set()


def test_a_watch_refused_with_410_before_it_started_relists_at_once():
    run = Run(listed("10", pod("a", "5")), FakeReply(410, reason="Gone"), listed("12", pod("a", "5")))
    run.run()
    assert run.requests() == [("list", ""), ("watch", "10"), ("list", ""), ("watch", "12")]
    assert run.changes == [("ADDED", "a")] and run.waits == []  # the same object again is no change


def test_other_failures_relist_after_a_backoff_that_resets_once_a_watch_works(caplog):
    caplog.set_level(logging.INFO, "webscale.kube.informer")
    run = Run(
        FakeReply(403, reason="Forbidden"),
        listed("10", pod("a", "5")),
        FakeReply(500, reason="Internal"),  # the list worked, the watch did not: the back-off goes on
        listed("11", pod("a", "5")),
        FakeReply(events=[event("MODIFIED", pod("a", "12"))]),  # a watch works: the failure is over
        FakeReply(500, reason="Internal"),
        listed("13"),
    )
    run.run()
    assert run.requests() == [
        ("list", ""),
        ("list", ""),
        ("watch", "10"),
        ("list", ""),
        ("watch", "11"),
        ("watch", "12"),
        ("list", ""),
        ("watch", "13"),
    ]
    first, second, third = run.waits
    assert 0 <= first <= 0.5 and 0 <= second <= 1.0 and 0 <= third <= 0.5  # the second is the second retry
    assert run.changes == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    logged = [r.getMessage().split(" (logged again")[0] for r in caplog.records]
    assert logged == [
        "informer Pod: 403 Forbidden; relisting",
        "informer Pod: 500 Internal; relisting",
        "informer Pod: listing and watching work again",
        "informer Pod: 500 Internal; relisting",  # the last watch, cut at once, says nothing yet
    ]


def test_a_lasting_failure_is_logged_when_it_starts_not_at_every_retry(caplog):
    caplog.set_level(logging.INFO, "webscale.kube.informer")
    run = Run(*[FakeReply(403, reason="Forbidden")] * 5, listed("10"))
    run.run()
    assert len(run.waits) == 5
    assert [r.getMessage().split(" (logged again")[0] for r in caplog.records] == [
        "informer Pod: 403 Forbidden; relisting"
    ]


def test_old_events_do_not_overwrite_newer_objects():
    run = Run(
        listed("10", pod("a", "9")),
        FakeReply(events=[event("MODIFIED", pod("a", "8")), event("MODIFIED", pod("a", "12"))]),
    )
    run.run()
    assert run.requests()[-1] == ("watch", "12")  # resumes from the newest version seen
    assert run.changes == [("ADDED", "a"), ("MODIFIED", "a")]
    held = run.informer.store.get("n", "a")
    assert held is not None and held["metadata"]["resourceVersion"] == "12"


def test_a_watch_that_ends_at_once_with_nothing_is_not_called_again_at_once():
    run = Run(
        listed("10", pod("a", "5")),
        FakeReply(events=[]),  # cut at once (a proxy closing streams): a pause, not a loop of calls
        FakeReply(events=[event("MODIFIED", pod("a", "11"))]),
    )
    run.run()
    assert run.requests() == [("list", ""), ("watch", "10"), ("watch", "10"), ("watch", "11")]
    assert run.waits == [1.0]
    assert run.changes == [("ADDED", "a"), ("MODIFIED", "a")]


def test_the_back_off_starts_again_after_a_watch_worked_even_if_a_410_came_between():
    run = Run(
        *[FakeReply(403, reason="Forbidden")] * 6,  # a long outage: the waits grow
        listed("10", pod("a", "5")),
        FakeReply(events=[event("MODIFIED", pod("a", "11"))]),  # a watch works: the outage is over
        FakeReply(410, reason="Gone"),  # the normal end of a watch: relist at once
        listed("12", pod("a", "11")),
        FakeReply(403, reason="Forbidden"),  # a new failure: its first retry, not the seventh
        listed("13", pod("a", "11")),
    )
    run.run()
    assert len(run.waits) == 7 and 0 <= run.waits[-1] <= 0.5
