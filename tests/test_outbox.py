"""The outbox: in order, retried with backoff, Retry-After honoured, never lost, never twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.models import Evidence, Message, Receipt
from monitor.protocols import DeliveryError
from monitor.runtime.leases import LeaseKeeper, LeaseTimes
from monitor.runtime.outbox import Dispatcher, backoff
from monitor.store import SqlStore, open_store
from monitor.testing import FakeClock, RecordingNotifier


class Crash(Exception):
    """The daemon dies here (kill -9): nothing after this line of the dispatcher runs."""


class SlackLike(RecordingNotifier):
    """A remote that can be searched (like Slack by message metadata), and can crash us.

    ``crash_after_post``: the post is accepted by the remote, then the daemon dies before
    it can mark the message sent.
    """

    def __init__(self) -> None:
        super().__init__("slack")
        self.posts: dict[int, str] = {}  # outbox id -> remote ref
        self.crash_after_post = False
        self.finds: list[int] = []

    def deliver(self, message: Message, thread_ref: str | None, update_ref: str | None) -> Receipt:
        receipt = super().deliver(message, thread_ref, update_ref)
        if update_ref is None:
            self.posts[message.id] = receipt.ref or ""
        if self.crash_after_post:
            self.crash_after_post = False
            raise Crash
        return receipt

    def find(self, message: Message, thread_ref: str | None, since: datetime | None = None) -> Receipt | None:
        self.finds.append(message.id)
        ref = self.posts.get(message.id)
        return None if ref is None else Receipt(ref=ref, channel="C1")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(str(tmp_path / "outbox.db"))
    yield s
    s.close()


def queue(store: SqlStore, clock: FakeClock, n: int, *, destination: str = "slack") -> list[int]:
    alert = store.enqueue(destination, "alert", {"text": "alert"}, now=clock.now())
    replies = [
        store.enqueue(destination, "update", {"text": f"u{i}"}, now=clock.now(), thread_of=alert) for i in range(n - 1)
    ]
    return [alert, *replies]


def texts(notifier: RecordingNotifier) -> list[str]:
    return [str(m.payload["text"]) for m, _, _ in notifier.delivered]


def test_messages_go_out_in_order_with_thread_refs(db: SqlStore) -> None:
    clock, notifier = FakeClock(), RecordingNotifier("slack")
    ids = queue(db, clock, 3)
    assert Dispatcher(db, {"slack": notifier}).deliver_due(clock.now()) == 3
    assert texts(notifier) == ["alert", "u0", "u1"]
    assert [thread for _, thread, _ in notifier.delivered] == [None, f"ref-{ids[0]}", f"ref-{ids[0]}"]
    assert db.outbox_counts() == {"sent": 3}


def test_a_failure_backs_off_and_nothing_overtakes_it(db: SqlStore) -> None:
    clock, notifier = FakeClock(), RecordingNotifier("slack")
    first, _ = queue(db, clock, 2)
    dispatcher = Dispatcher(db, {"slack": notifier})
    notifier.fail_next(2)
    assert dispatcher.deliver_due(clock.now()) == 0
    assert db.next_attempt_at(first) == clock.now() + backoff(1) == clock.now() + timedelta(seconds=5)
    assert dispatcher.deliver_due(clock.advance(seconds=4)) == 0  # not due yet; the reply waits too
    assert dispatcher.deliver_due(clock.advance(seconds=1)) == 0  # second failure: 10 s
    assert db.next_attempt_at(first) == clock.now() + timedelta(seconds=10)
    assert dispatcher.deliver_due(clock.advance(seconds=10)) == 2
    assert texts(notifier) == ["alert", "u0"]


def test_retry_after_of_a_429_is_honoured(db: SqlStore) -> None:
    clock, notifier = FakeClock(), RecordingNotifier("slack")
    (first,) = queue(db, clock, 1)
    notifier.fail_next(1, reason="slack chat.postMessage: ratelimited (HTTP 429)", retry_after=120)
    dispatcher = Dispatcher(db, {"slack": notifier})
    dispatcher.deliver_due(clock.now())
    assert db.next_attempt_at(first) == clock.now() + timedelta(seconds=120)
    assert dispatcher.deliver_due(clock.advance(seconds=119)) == 0
    assert dispatcher.deliver_due(clock.advance(seconds=1)) == 1


def test_a_permanent_failure_drops_only_that_message(db: SqlStore) -> None:
    clock = FakeClock()

    class Picky(RecordingNotifier):
        def deliver(self, message: Message, thread_ref: str | None, update_ref: str | None) -> Receipt:
            if message.payload["text"] == "u0":
                raise DeliveryError("invalid_blocks", permanent=True)
            return super().deliver(message, thread_ref, update_ref)

    notifier = Picky("slack")
    queue(db, clock, 3)
    assert Dispatcher(db, {"slack": notifier}).deliver_due(clock.now()) == 2
    assert texts(notifier) == ["alert", "u1"]
    assert db.outbox_counts() == {"sent": 2, "failed": 1}


def test_after_an_outage_everything_arrives_in_order_and_nothing_twice(db: SqlStore) -> None:
    clock, notifier = FakeClock(), RecordingNotifier("slack")
    ids = queue(db, clock, 20)
    dispatcher = Dispatcher(db, {"slack": notifier})
    notifier.fail_next(8)  # Slack is down for the first 8 attempts
    for _ in range(80):  # 20 minutes: the backoff reaches its 5-minute cap
        dispatcher.deliver_due(clock.advance(seconds=15))
    assert texts(notifier) == ["alert", *(f"u{i}" for i in range(19))]
    assert [m.id for m, _, _ in notifier.delivered] == ids
    assert db.outbox_counts() == {"sent": 20}


def test_a_crash_between_posting_and_marking_does_not_post_again(db: SqlStore, tmp_path: Path) -> None:
    clock, slack = FakeClock(), SlackLike()
    alert, reply = queue(db, clock, 2)
    slack.crash_after_post = True
    with pytest.raises(Crash):
        Dispatcher(db, {"slack": slack}).deliver_due(clock.now())
    assert db.message_ref(alert) == (None, "pending")  # posted, but not marked
    # the daemon restarts (new store connection, new dispatcher)
    restarted = open_store(str(tmp_path / "outbox.db"))
    try:
        sent = Dispatcher(restarted, {"slack": slack}).deliver_due(clock.advance(minutes=2))
    finally:
        restarted.close()
    assert sent == 2
    assert [m.id for m, _, _ in slack.delivered] == [alert, reply]  # the alert was posted once
    assert slack.finds == [alert]  # only the message whose attempt was cut short is looked up
    assert db.message_ref(alert) == (f"ref-{alert}", "sent")
    assert slack.delivered[1][1] == f"ref-{alert}"  # the reply went under the alert found


def test_an_attempt_that_never_reached_the_remote_is_sent_after_the_crash(db: SqlStore) -> None:
    clock, slack = FakeClock(), SlackLike()
    (alert,) = queue(db, clock, 1)
    db.claim_message(alert, "dead-daemon", clock.now(), clock.now() + timedelta(seconds=30))
    db.mark_attempting(alert, clock.now())  # it died before its request left
    dispatcher = Dispatcher(db, {"slack": slack})
    assert dispatcher.deliver_due(clock.advance(seconds=10)) == 0  # its claim still holds
    assert dispatcher.deliver_due(clock.advance(seconds=20)) == 1
    assert slack.finds == [alert] and [m.id for m, _, _ in slack.delivered] == [alert]


def test_a_timed_out_post_that_did_arrive_is_not_posted_again(db: SqlStore) -> None:
    clock = FakeClock()

    class TimesOut(SlackLike):
        def deliver(self, message: Message, thread_ref: str | None, update_ref: str | None) -> Receipt:
            super().deliver(message, thread_ref, update_ref)
            raise DeliveryError("slack chat.postMessage: TimeoutError: read timed out")

    slack = TimesOut()
    (alert,) = queue(db, clock, 1)
    dispatcher = Dispatcher(db, {"slack": slack})
    assert dispatcher.deliver_due(clock.now()) == 0
    assert dispatcher.deliver_due(clock.advance(seconds=5)) == 1
    assert len(slack.delivered) == 1 and db.message_ref(alert) == (f"ref-{alert}", "sent")


def test_a_message_claimed_by_another_daemon_is_not_sent(db: SqlStore) -> None:
    clock, notifier = FakeClock(), RecordingNotifier("slack")
    first, _ = queue(db, clock, 2)
    db.claim_message(first, "other", clock.now(), clock.now() + timedelta(seconds=30))
    assert Dispatcher(db, {"slack": notifier}).deliver_due(clock.now()) == 0  # order: the reply waits
    assert notifier.delivered == []


def test_sent_messages_of_an_incident_are_in_its_timeline(db: SqlStore) -> None:
    clock, notifier = FakeClock(), RecordingNotifier("slack")
    incident = db.open_incident(
        rule_id="r",
        group="g",
        playbook="product_quality",
        title="t",
        severity="high",
        at=clock.now(),
        evidence=[Evidence("threshold", "count", 5.0, "1h")],
        top_items=[],
        checklist=[],
    )
    alert = db.enqueue("slack", "alert", {"text": "a"}, now=clock.now(), incident_id=incident.id)
    db.enqueue("slack", "checklist", {"text": "c"}, now=clock.now(), incident_id=incident.id, thread_of=alert)
    Dispatcher(db, {"slack": notifier}).deliver_due(clock.now())
    entries = [(e.kind, e.detail) for e in db.timeline(incident.id)]
    assert entries == [
        ("message_sent", {"destination": "slack", "kind": "alert", "ref": f"ref-{alert}"}),
        ("message_sent", {"destination": "slack", "kind": "checklist", "ref": f"ref-{alert + 1}"}),
    ]


def test_two_daemons_deliver_each_destination_from_one_of_them(tmp_path: Path) -> None:
    clock = FakeClock()
    url = str(tmp_path / "shared.db")
    stores = [open_store(url) for _ in range(2)]
    times = LeaseTimes(deliver=timedelta(seconds=5))
    keepers = [LeaseKeeper(s, f"host:{i}:x", times) for i, s in enumerate(stores)]
    for keeper in keepers:
        keeper.heartbeat(clock.now())
    notifiers = [{d: RecordingNotifier(d) for d in ("slack", "console")} for _ in keepers]
    dispatchers = [Dispatcher(s, n, leases=k) for s, n, k in zip(stores, notifiers, keepers, strict=True)]
    try:
        for destination in ("slack", "console"):
            queue(stores[0], clock, 5, destination=destination)
        for _ in range(3):
            for dispatcher in dispatchers:
                dispatcher.deliver_due(clock.advance(seconds=1))
        for destination in ("slack", "console"):
            per_daemon = [texts(n[destination]) for n in notifiers]
            assert sorted(per_daemon, key=len) == [[], ["alert", "u0", "u1", "u2", "u3"]]
        # the daemon delivering slack dies: the other takes slack over after its leases expire
        slack_owner = next(i for i, n in enumerate(notifiers) if n["slack"].delivered)
        survivor = 1 - slack_owner
        queue(stores[0], clock, 2)
        for _ in range(30):
            keepers[survivor].heartbeat(clock.advance(seconds=1))
            dispatchers[survivor].deliver_due(clock.now())
        assert texts(notifiers[survivor]["slack"]) == ["alert", "u0"]
    finally:
        for s in stores:
            s.close()


def test_with_slack_a_post_whose_daemon_died_before_marking_is_found_not_repeated(db: SqlStore) -> None:
    from monitor.slack.client import SlackNotifier, make_web_client
    from monitor.testing import FakeSlackServer

    clock = FakeClock()
    with FakeSlackServer() as server:
        channel = server.channel_id("crisis")
        slack = SlackNotifier(make_web_client("xoxb-test", base_url=server.base_url), channel)
        alert, reply = queue(db, clock, 2)
        # what the dead daemon did: claim, persist the attempt, post; then kill -9
        db.claim_message(alert, "dead", clock.now(), clock.now() + timedelta(seconds=15))
        db.mark_attempting(alert, clock.now())
        posted = slack.deliver(db.pending_messages("slack")[0], None, None)
        restarted = SlackNotifier(make_web_client("xoxb-test", base_url=server.base_url), channel)
        dispatcher = Dispatcher(db, {"slack": restarted})
        # the claim has expired, but the post may still be in Slack's hands: no lookup yet
        assert dispatcher.deliver_due(clock.advance(seconds=20)) == 0 and not server.calls("conversations.history")
        # the client timeout (10 s) and Slack's indexing wait (20 s) after the attempt: look, find
        assert dispatcher.deliver_due(clock.advance(seconds=10)) == 2
        top_level = [m for m in server.messages if m.thread_ts is None]
        assert [m.ts for m in top_level] == [posted.ref]
        assert db.message_ref(alert)[0] == posted.ref
        assert [m.thread_ts for m in server.messages if m.thread_ts] == [posted.ref]
        assert db.message_ref(reply)[1] == "sent"
