"""At most once to people, even when Slack is slow (issue 13, point 1).

The real slack-sdk client talks to the fake Slack on loopback. The fake answers the alert's
``chat.postMessage`` after the client's timeout (it stores the post, then answers too late),
or just before it. Over 20 runs each, every alert is posted exactly once at the top of its
channel, with its checklist once in the thread: a timed-out post is looked up, after a wait
covering Slack's processing, and found instead of being posted again.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.clock import SystemClock
from monitor.models import Message
from monitor.protocols import DeliveryError
from monitor.runtime.outbox import Dispatcher
from monitor.slack.client import SlackNotifier, make_web_client
from monitor.store import open_store
from monitor.testing import FakeClock, FakeSlackServer

TIMEOUT = 0.5  # the Slack client's timeout in these tests (10 s in production)
RETRY = 0.2  # the outbox's first retry delay in these tests (5 s in production)
INDEXING = 2.0  # the wait for Slack to show a post it was still processing (20 s in production)
RUNS = 20


def one_run(tmp: Path, answer_after: float) -> tuple[int, int, list[str]]:
    """Queue an alert and its checklist; deliver until both are sent. (top-level posts, replies, statuses)"""
    store = open_store(str(tmp / "outbox.db"))
    try:
        with FakeSlackServer() as slack:
            channel = slack.channel_id("crisis")
            slack.delay_next("chat.postMessage", answer_after)  # the alert's first post
            client = make_web_client("xoxb-test", base_url=slack.base_url, timeout=TIMEOUT)
            notifier = SlackNotifier(client, channel, min_interval=0, indexing_wait=INDEXING)
            clock = SystemClock()
            alert = store.enqueue("slack", "alert", {"text": "🔥 alert"}, now=clock.now())
            store.enqueue("slack", "checklist", {"text": "checklist"}, now=clock.now(), thread_of=alert)
            dispatcher = Dispatcher(store, {"slack": notifier}, clock=clock, base_delay=RETRY)
            deadline = time.monotonic() + 20
            while store.outbox_counts().get("pending") and time.monotonic() < deadline:
                dispatcher.deliver_due(clock.now())
                time.sleep(0.05)
            time.sleep(answer_after)  # whatever the fake was still processing is stored by now
            top = [m for m in slack.messages if m.thread_ts is None]
            replies = [m for m in slack.messages if m.thread_ts is not None]
            return len(top), len(replies), [status for _, status in store.messages()]
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "answer_after",
    [TIMEOUT * 3, TIMEOUT * 0.8],
    ids=["slack-answers-after-the-client-timeout", "slack-answers-just-before-it"],
)
def test_one_top_level_post_per_alert_over_20_runs(tmp_path: Path, answer_after: float) -> None:
    results: dict[int, tuple[int, int, list[str]]] = {}

    def run(i: int) -> None:
        folder = tmp_path / f"run{i}"
        folder.mkdir()
        results[i] = one_run(folder, answer_after)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RUNS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == list(range(RUNS))
    for i, (top, replies, statuses) in results.items():
        assert (top, replies, statuses) == (1, 1, ["sent", "sent"]), f"run {i}"


def test_a_retry_counts_from_the_end_of_the_failed_attempt(tmp_path: Path) -> None:
    """An attempt that took 10 s (its clock moved on) is retried 5 s after it ended, not after it began."""
    store = open_store(str(tmp_path / "o.db"))
    clock = FakeClock()

    class Slow:
        destination = "slack"

        def deliver(self, message: Message, thread_ref: str | None, update_ref: str | None) -> None:
            clock.advance(seconds=10)
            raise DeliveryError("slack chat.postMessage: no answer", uncertain=False)

    try:
        alert = store.enqueue("slack", "alert", {"text": "a"}, now=clock.now())
        started = clock.now()
        Dispatcher(store, {"slack": Slow()}, clock=clock).deliver_due(started)  # type: ignore[dict-item]
        assert store.next_attempt_at(alert) == started + timedelta(seconds=15)
    finally:
        store.close()


def test_a_timed_out_post_is_looked_up_only_after_the_indexing_wait(tmp_path: Path) -> None:
    """Before ``lookup_after`` has passed since the uncertain attempt began, nothing is asked nor posted."""
    store = open_store(str(tmp_path / "o.db"))
    clock = FakeClock()
    try:
        with FakeSlackServer() as slack:
            channel = slack.channel_id("crisis")
            client = make_web_client("xoxb-test", base_url=slack.base_url, timeout=0.3)
            notifier = SlackNotifier(client, channel, min_interval=0, indexing_wait=30)
            slack.delay_next("chat.postMessage", 0.6)
            alert = store.enqueue("slack", "alert", {"text": "a"}, now=clock.now())
            dispatcher = Dispatcher(store, {"slack": notifier}, clock=clock)
            assert dispatcher.deliver_due(clock.now()) == 0  # times out
            time.sleep(0.5)  # the fake stores the post now
            assert dispatcher.deliver_due(clock.advance(seconds=10)) == 0  # retry due, lookup not yet
            assert not slack.calls("conversations.history") and len(slack.calls("chat.postMessage")) == 1
            assert dispatcher.deliver_due(clock.advance(seconds=21)) == 1  # 31 s > 0.3 s + 30 s
            assert len(slack.calls("conversations.history")) == 1 and len(slack.calls("chat.postMessage")) == 1
            assert store.message_ref(alert) == (slack.messages[0].ts, "sent")
    finally:
        store.close()


def test_the_lookup_reads_every_message_posted_since_the_attempt(tmp_path: Path) -> None:
    """250 messages after the alert: it is not among the latest 200, and is found all the same."""
    store = open_store(str(tmp_path / "o.db"))
    clock = FakeClock()
    try:
        with FakeSlackServer() as slack:
            channel = slack.channel_id("crisis")
            client = make_web_client("xoxb-test", base_url=slack.base_url, timeout=5)
            notifier = SlackNotifier(client, channel, min_interval=0, indexing_wait=0)
            alert = store.enqueue("slack", "alert", {"text": "a"}, now=clock.now())
            store.claim_message(alert, "dead", clock.now(), clock.now() + timedelta(seconds=5))
            store.mark_attempting(alert, clock.now())
            posted = notifier.deliver(store.pending_messages("slack")[0], None, None)  # then kill -9
            for i in range(250):
                slack.post(channel, f"chatter {i}")
            assert Dispatcher(store, {"slack": notifier}, clock=clock).deliver_due(clock.advance(seconds=10)) == 1
            assert len([m for m in slack.messages if m.text == "a"]) == 1
            assert store.message_ref(alert)[0] == posted.ref
            history = slack.calls("conversations.history")
            assert len(history) == 2 and float(history[0].body["oldest"]) <= clock.now().timestamp() - 10
    finally:
        store.close()
