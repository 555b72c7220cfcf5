"""SlackNotifier.find: after a crash between sending and marking, a message is found, not re-posted."""

from __future__ import annotations

import base64
import logging

import pytest
from slack_helpers import CHANNEL, message, text
from slack_sdk import WebClient

from monitor.models import Receipt
from monitor.protocols import DeliveryError
from monitor.slack.client import METADATA_EVENT, SlackNotifier, payload_digest
from monitor.testing.fakeslack import FakeSlackServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\1" * 100


@pytest.fixture
def notifier(web_client: WebClient) -> SlackNotifier:
    return SlackNotifier(web_client, CHANNEL, min_interval=0)


def restarted(web_client: WebClient) -> SlackNotifier:
    """A fresh notifier, as after a restart: it remembers nothing of earlier posts."""
    return SlackNotifier(web_client, CHANNEL, min_interval=0)


def test_posts_carry_the_outbox_id_as_metadata(fake_slack: FakeSlackServer, notifier: SlackNotifier) -> None:
    top = notifier.deliver(message(text("alert"), 17), None, None)
    body = fake_slack.calls("chat.postMessage")[0].body
    expected = {
        "event_type": METADATA_EVENT,
        "event_payload": {"outbox_id": 17, "digest": payload_digest(text("alert"))},
    }
    assert body["metadata"] == expected
    assert fake_slack.message(CHANNEL, str(top.ref)).metadata == expected


def test_a_top_level_post_is_found_after_a_restart(
    fake_slack: FakeSlackServer, notifier: SlackNotifier, web_client: WebClient
) -> None:
    notifier.deliver(message(text("earlier"), 16), None, None)
    top = notifier.deliver(message(text("alert"), 17), None, None)
    notifier.deliver(message(text("later"), 18), None, None)

    found = restarted(web_client).find(message(text("alert"), 17), None)

    assert found == Receipt(ref=top.ref, channel=CHANNEL)
    history = fake_slack.calls("conversations.history")[0].body
    assert (history["channel"], history["limit"], history["include_all_metadata"]) == (CHANNEL, "200", "1")
    assert len(fake_slack.calls("chat.postMessage")) == 3  # looking posts nothing


def test_a_message_that_never_arrived_is_not_found(notifier: SlackNotifier) -> None:
    notifier.deliver(message(text("alert"), 17), None, None)
    assert notifier.find(message(text("other"), 18), None) is None


def test_same_outbox_id_with_other_content_is_not_a_match(notifier: SlackNotifier) -> None:
    """Another install (or a reset database) posting to the same channel reuses outbox ids."""
    notifier.deliver(message(text("alert from staging"), 17), None, None)
    assert notifier.find(message(text("alert from production"), 17), None) is None


def test_foreign_or_malformed_metadata_is_ignored(fake_slack: FakeSlackServer, notifier: SlackNotifier) -> None:
    fake_slack.post(CHANNEL, "x", metadata={"event_type": "other_app", "event_payload": {"outbox_id": 17}})
    fake_slack.post(CHANNEL, "y", metadata={"event_type": METADATA_EVENT, "event_payload": {"outbox_id": 18}})
    fake_slack.post(CHANNEL, "z")
    assert notifier.find(message(text("alert"), 17), None) is None


def test_metadata_without_a_digest_matches_on_the_id(fake_slack: FakeSlackServer, notifier: SlackNotifier) -> None:
    posted = fake_slack.post(CHANNEL, "x", metadata={"event_type": METADATA_EVENT, "event_payload": {"outbox_id": 17}})
    assert notifier.find(message(text("alert"), 17), None) == Receipt(ref=posted.ts, channel=CHANNEL)


def test_a_thread_reply_is_found_in_its_thread(
    fake_slack: FakeSlackServer, notifier: SlackNotifier, web_client: WebClient
) -> None:
    top = notifier.deliver(message(text("alert"), 1), None, None)
    reply = notifier.deliver(message(text("checklist"), 2), top.ref, None)

    assert restarted(web_client).find(message(text("checklist"), 2), top.ref) == reply
    replies = fake_slack.calls("conversations.replies")[0].body
    assert (replies["ts"], replies["include_all_metadata"]) == (top.ref, "1")
    assert not fake_slack.calls("conversations.history")


def test_a_long_thread_is_read_page_by_page(fake_slack: FakeSlackServer, notifier: SlackNotifier) -> None:
    top = notifier.deliver(message(text("alert"), 1), None, None)
    for i in range(250):
        fake_slack.post(CHANNEL, f"note {i}", thread_ts=top.ref)
    reply = notifier.deliver(message(text("update"), 2), top.ref, None)

    assert notifier.find(message(text("update"), 2), top.ref) == reply
    assert len(fake_slack.calls("conversations.replies")) == 2


def test_an_uploaded_chart_is_found_by_its_file_name(fake_slack: FakeSlackServer, notifier: SlackNotifier) -> None:
    top = notifier.deliver(message(text("alert"), 1), None, None)
    chart = {"file": base64.b64encode(PNG).decode(), "filename": "chart.png", "title": "chart"}
    sent = notifier.deliver(message(chart, 5, kind="chart"), top.ref, None)

    assert notifier.find(message(chart, 5, kind="chart"), top.ref) == sent
    assert notifier.find(message(chart, 6, kind="chart"), top.ref) is None


def test_edits_are_never_looked_up(fake_slack: FakeSlackServer, notifier: SlackNotifier) -> None:
    assert notifier.find(message(text("alert"), 3, update_of=1), None) is None
    assert not fake_slack.requests


def test_without_a_channel_id_it_cannot_look(
    fake_slack: FakeSlackServer, web_client: WebClient, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = SlackNotifier(web_client, "#crisis", min_interval=0)
    with caplog.at_level(logging.WARNING):
        assert notifier.find(message(text("alert"), 17), None) is None
    assert "id of channel '#crisis' is not known" in caplog.text
    notifier.deliver(message(text("alert"), 17), None, None)  # learns the id
    assert notifier.find(message(text("alert"), 17), None) is not None


def test_missing_history_scope_is_reported_and_not_fatal(
    fake_slack: FakeSlackServer, notifier: SlackNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    fake_slack.fail_next("conversations.history", error="missing_scope")
    with caplog.at_level(logging.WARNING):
        assert notifier.find(message(text("alert"), 17), None) is None
    assert "missing_scope" in caplog.text


@pytest.mark.parametrize(("error", "retry_after"), [("ratelimited", 12.0), ("internal_error", None)])
def test_a_busy_slack_means_try_again_later(
    fake_slack: FakeSlackServer, notifier: SlackNotifier, error: str, retry_after: float | None
) -> None:
    fake_slack.fail_next("conversations.replies", error=error, retry_after=12)
    with pytest.raises(DeliveryError) as caught:
        notifier.find(message(text("reply"), 2), "1700000000.000100")
    assert not caught.value.permanent and caught.value.retry_after == retry_after


def test_a_vanished_thread_means_not_found(notifier: SlackNotifier, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert notifier.find(message(text("reply"), 2), "1700000099.000100") is None
    assert "thread_not_found" in caplog.text
