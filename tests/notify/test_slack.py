"""SlackNotifier and SlackWebhookNotifier against the fake Slack, through real HTTP clients."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sample import MENTIONS, NOW, PLAYBOOK_TITLE, RULE_DESCRIPTION, TOKEN, sample_incident
from slack_sdk import WebClient

from monitor.models import IncidentStatus, Message
from monitor.protocols import DeliveryError, Notifier
from monitor.slack.blocks import render_alert, render_checklist, render_update
from monitor.slack.client import SlackNotifier, SlackWebhookNotifier, make_web_client
from monitor.testing.fakeslack import FakeSlackServer

CHANNEL = "C0CRISIS01"


def message(payload: dict[str, Any], kind: str = "alert", message_id: int = 1) -> Message:
    return Message(id=message_id, destination="slack", kind=kind, payload=payload, incident_id=42)  # type: ignore[arg-type]


def alert_payload(**changes: Any) -> dict[str, Any]:
    return render_alert(
        sample_incident(**changes),
        rule_description=RULE_DESCRIPTION,
        playbook_title=PLAYBOOK_TITLE,
        now=NOW,
        mentions=MENTIONS,
    )


def test_notifier_satisfies_the_protocol(web_client: WebClient) -> None:
    notifier: Notifier = SlackNotifier(web_client, CHANNEL)
    assert notifier.destination == "slack"


def test_alert_checklist_thread_and_update_reach_slack(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    notifier = SlackNotifier(web_client, CHANNEL, min_interval=0)
    alert = alert_payload()
    top = notifier.deliver(message(alert), None, None)
    checklist = render_checklist(sample_incident(), playbook_title=PLAYBOOK_TITLE, now=NOW, mentions=MENTIONS)
    reply = notifier.deliver(message(checklist, "checklist", 2), top.ref, None)
    acked = alert_payload(status=IncidentStatus.ACKNOWLEDGED, acknowledged_by="U024BE7LH")
    edited = notifier.deliver(message(acked, "alert", 3), None, top.ref)

    assert top.ref == "1700000000.000100" and top.channel == CHANNEL
    assert reply.ref == "1700000000.000200"
    assert edited.ref == top.ref
    posts = fake_slack.calls("chat.postMessage")
    assert posts[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert posts[0].body["channel"] == CHANNEL
    assert posts[0].body["text"] == alert["text"]
    assert posts[0].body["blocks"] == alert["blocks"]
    assert posts[0].body["unfurl_links"] is False
    assert "thread_ts" not in posts[0].body
    assert posts[1].body["thread_ts"] == top.ref
    assert posts[1].body["blocks"] == checklist["blocks"]
    update = fake_slack.calls("chat.update")[0].body
    assert (update["channel"], update["ts"]) == (CHANNEL, top.ref)
    assert update["blocks"] == acked["blocks"]
    stored = fake_slack.message(CHANNEL, top.ref)
    assert stored.edits == 1 and stored.replies == [reply.ref]
    assert "Acknowledged by <@U024BE7LH>" in stored.blocks[1]["text"]["text"]


def test_updates_in_the_thread(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    notifier = SlackNotifier(web_client, CHANNEL, min_interval=0)
    top = notifier.deliver(message(alert_payload()), None, None)
    payload = render_update(sample_incident(), "已解决")
    notifier.deliver(message(payload, "update", 2), top.ref, None)
    body = fake_slack.calls("chat.postMessage")[1].body
    assert body["thread_ts"] == top.ref and body["text"] == payload["text"]


def test_channel_name_is_resolved_from_the_first_post(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    notifier = SlackNotifier(web_client, "#crisis", min_interval=0)
    top = notifier.deliver(message(alert_payload()), None, None)
    assert top.channel == fake_slack.channel_id("crisis")
    notifier.deliver(message(alert_payload(), "alert", 2), None, top.ref)
    assert fake_slack.calls("chat.update")[0].body["channel"] == top.channel


def test_update_with_an_unknown_channel_id_is_a_permanent_error(web_client: WebClient) -> None:
    notifier = SlackNotifier(web_client, "#crisis")
    with pytest.raises(DeliveryError) as caught:
        notifier.deliver(message(alert_payload()), None, "1700000000.000100")
    assert caught.value.permanent and "channel id" in caught.value.reason


def test_rate_limit_gives_retry_after_and_no_internal_retry(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    fake_slack.fail_next("chat.postMessage", 1, error="ratelimited", retry_after=30)
    notifier = SlackNotifier(web_client, CHANNEL, min_interval=0)
    with pytest.raises(DeliveryError) as caught:
        notifier.deliver(message(alert_payload()), None, None)
    assert caught.value.retry_after == 30 and not caught.value.permanent
    assert "ratelimited" in caught.value.reason and "429" in caught.value.reason
    assert len(fake_slack.calls("chat.postMessage")) == 1  # the outbox retries, not slack_sdk
    assert notifier.deliver(message(alert_payload()), None, None).ref  # next attempt goes through


@pytest.mark.parametrize(
    ("error", "status"), [("internal_error", 500), ("fatal_error", 200), ("service_unavailable", 503)]
)
def test_server_errors_are_retryable(
    fake_slack: FakeSlackServer, web_client: WebClient, error: str, status: int
) -> None:
    fake_slack.fail_next("chat.postMessage", 1, error=error, status=status)
    with pytest.raises(DeliveryError) as caught:
        SlackNotifier(web_client, CHANNEL).deliver(message(alert_payload()), None, None)
    assert not caught.value.permanent and caught.value.retry_after is None
    assert error in caught.value.reason


@pytest.mark.parametrize(
    "error",
    ["invalid_auth", "channel_not_found", "not_in_channel", "invalid_blocks", "is_archived", "missing_scope"],
)
def test_errors_a_retry_cannot_fix_are_permanent(
    fake_slack: FakeSlackServer, web_client: WebClient, error: str
) -> None:
    fake_slack.fail_next("chat.postMessage", 1, error=error, status=200)
    with pytest.raises(DeliveryError) as caught:
        SlackNotifier(web_client, CHANNEL).deliver(message(alert_payload()), None, None)
    assert caught.value.permanent and error in caught.value.reason


def test_unknown_error_is_retryable_so_nothing_is_lost(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    fake_slack.fail_next("chat.postMessage", 1, error="something_new", status=200)
    with pytest.raises(DeliveryError) as caught:
        SlackNotifier(web_client, CHANNEL).deliver(message(alert_payload()), None, None)
    assert not caught.value.permanent


def test_wrong_token_is_permanent(fake_slack: FakeSlackServer) -> None:
    client = make_web_client("xoxb-wrong", base_url=fake_slack.base_url)
    with pytest.raises(DeliveryError) as caught:
        SlackNotifier(client, CHANNEL).deliver(message(alert_payload()), None, None)
    assert caught.value.permanent and "invalid_auth" in caught.value.reason


def test_blocks_slack_would_refuse_are_permanent_with_slack_reasons(web_client: WebClient) -> None:
    payload = {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]}
    with pytest.raises(DeliveryError) as caught:
        SlackNotifier(web_client, CHANNEL).deliver(message(payload), None, None)
    assert caught.value.permanent and "invalid_blocks" in caught.value.reason
    assert "3001" in caught.value.reason


def test_update_of_a_missing_message_is_permanent(web_client: WebClient) -> None:
    with pytest.raises(DeliveryError) as caught:
        SlackNotifier(web_client, CHANNEL).deliver(message(alert_payload()), None, "1700000099.000100")
    assert caught.value.permanent and "message_not_found" in caught.value.reason


def test_timeout_is_retryable(fake_slack: FakeSlackServer) -> None:
    client = make_web_client(TOKEN, base_url=fake_slack.base_url, timeout=0.2)
    fake_slack.delay_next("chat.postMessage", 2)
    with pytest.raises(DeliveryError) as caught:
        SlackNotifier(client, CHANNEL).deliver(message(alert_payload()), None, None)
    assert not caught.value.permanent and caught.value.retry_after is None
    assert "timed out" in caught.value.reason.lower() or "timeout" in caught.value.reason.lower()


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_web_client(TOKEN, base_url=f"http://127.0.0.1:{port}/api/", timeout=1)
    with pytest.raises(DeliveryError) as caught:
        SlackNotifier(client, CHANNEL).deliver(message(alert_payload()), None, None)
    assert not caught.value.permanent


def test_message_without_content_is_permanent(web_client: WebClient) -> None:
    with pytest.raises(DeliveryError) as caught:
        SlackNotifier(web_client, CHANNEL).deliver(message({"text": ""}), None, None)
    assert caught.value.permanent


# --- make_web_client -----------------------------------------------------------------------


def test_base_url_from_the_environment_gets_a_trailing_slash(fake_slack: FakeSlackServer) -> None:
    url = fake_slack.base_url.rstrip("/")
    client = make_web_client(TOKEN, env={"CRISISMON_SLACK_API_URL": url})
    assert client.base_url == url + "/"
    assert client.retry_handlers == []
    assert client.auth_test()["user_id"] == fake_slack.bot_user_id


def test_explicit_base_url_wins_over_the_environment() -> None:
    client = make_web_client(TOKEN, base_url="http://127.0.0.1:1/api/", env={"CRISISMON_SLACK_API_URL": "http://x/"})
    assert client.base_url == "http://127.0.0.1:1/api/"


def test_default_base_url_is_slack() -> None:
    assert make_web_client(TOKEN, env={}).base_url == "https://slack.com/api/"


def test_environment_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISISMON_SLACK_API_URL", "http://127.0.0.1:9/api")
    assert make_web_client(TOKEN).base_url == "http://127.0.0.1:9/api/"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "127.0.0.1:8080/api/", "ftp://x/"])
def test_non_http_base_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="CRISISMON_SLACK_API_URL"):
        make_web_client(TOKEN, base_url=url)


# --- webhook mode --------------------------------------------------------------------------


@pytest.fixture
def webhook(fake_slack: FakeSlackServer) -> Iterator[SlackWebhookNotifier]:
    with httpx.Client(timeout=2) as client:
        yield SlackWebhookNotifier(fake_slack.webhook_url, client)


def test_webhook_posts_text_and_blocks(fake_slack: FakeSlackServer, webhook: SlackWebhookNotifier) -> None:
    alert = alert_payload()
    receipt = webhook.deliver(message(alert), None, None)
    assert receipt.ref is None
    body = fake_slack.calls("webhook")[0].body
    assert body["text"] == alert["text"] and body["blocks"] == alert["blocks"]


def test_webhook_update_is_a_new_post_marked_update(fake_slack: FakeSlackServer, webhook: SlackWebhookNotifier) -> None:
    alert = alert_payload()
    webhook.deliver(message(alert), None, "1700000000.000100")
    body = fake_slack.calls("webhook")[0].body
    assert body["text"] == "Update: " + alert["text"]
    assert body["blocks"][0]["elements"][0]["text"] == "*Update:*"
    assert body["blocks"][1:] == alert["blocks"]


def test_webhook_thread_reply_is_top_level(fake_slack: FakeSlackServer, webhook: SlackWebhookNotifier) -> None:
    payload = render_update(sample_incident(), "已解决")
    webhook.deliver(message(payload, "update"), "1700000000.000100", None)
    body = fake_slack.calls("webhook")[0].body
    assert "thread_ts" not in body and body["blocks"] == payload["blocks"]


@pytest.mark.parametrize(
    ("status", "error", "permanent", "retry_after"),
    [
        (429, "rate_limited", False, 7.0),
        (500, "internal_error", False, None),
        (400, "invalid_payload", True, None),
        (404, "no_service", True, None),
        (403, "action_prohibited", True, None),
    ],
)
def test_webhook_errors(
    fake_slack: FakeSlackServer,
    webhook: SlackWebhookNotifier,
    status: int,
    error: str,
    permanent: bool,
    retry_after: float | None,
) -> None:
    fake_slack.fail_next("webhook", 1, error=error, status=status, retry_after=7)
    with pytest.raises(DeliveryError) as caught:
        webhook.deliver(message(alert_payload()), None, None)
    assert caught.value.permanent is permanent
    assert caught.value.retry_after == retry_after
    assert error in caught.value.reason and "fakesecret" not in caught.value.reason


def test_webhook_timeout_is_retryable_and_hides_the_url(fake_slack: FakeSlackServer) -> None:
    fake_slack.delay_next("webhook", 2)
    with httpx.Client(timeout=0.2) as client, pytest.raises(DeliveryError) as caught:
        SlackWebhookNotifier(fake_slack.webhook_url, client).deliver(message(alert_payload()), None, None)
    assert not caught.value.permanent and "fakesecret" not in caught.value.reason


def test_webhook_url_must_be_http() -> None:
    with pytest.raises(ValueError):
        SlackWebhookNotifier("hooks.slack.com/services/x")
