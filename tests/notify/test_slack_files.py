"""Chart uploads: files_upload_v2 through the real client against the fake Slack; webhooks."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from slack_helpers import CHANNEL, message, text
from slack_sdk import WebClient

from monitor.protocols import DeliveryError
from monitor.slack.blocks import render_file
from monitor.slack.client import WEBHOOK_NO_FILE, SlackNotifier, SlackWebhookNotifier, make_web_client
from monitor.testing.fakeslack import FakeSlackServer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def chart(**changes: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "file": base64.b64encode(PNG).decode(),
        "filename": "incident-42.png",
        "title": "negative_count · X1 充电宝",
        "text": "Chart for #42",
    }
    payload.update(changes)
    return payload


@pytest.fixture
def notifier(web_client: WebClient) -> SlackNotifier:
    return SlackNotifier(web_client, CHANNEL, min_interval=0)


def test_a_chart_is_uploaded_into_the_thread(fake_slack: FakeSlackServer, notifier: SlackNotifier) -> None:
    top = notifier.deliver(message(text("alert"), 1), None, None)
    receipt = notifier.deliver(message(chart(), 7, kind="chart"), top.ref, None)

    [stored] = fake_slack.files
    assert stored.data == PNG
    assert stored.name == "incident-42-m7.png"  # the outbox id lets find() recognise it
    assert stored.title == "negative_count · X1 充电宝"
    assert (stored.channel, stored.thread_ts, stored.initial_comment) == (CHANNEL, top.ref, "Chart for #42")
    assert receipt.ref == stored.id and receipt.channel == CHANNEL
    share = fake_slack.message(CHANNEL, str(stored.ts))
    assert share.thread_ts == top.ref and share.files[0]["id"] == stored.id
    assert fake_slack.message(CHANNEL, str(top.ref)).replies == [stored.ts]
    methods = [r.method for r in fake_slack.requests][1:]
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    assert fake_slack.calls("files.getUploadURLExternal")[0].body["length"] == str(len(PNG))


def test_a_chart_without_text_or_thread_is_a_top_level_file(
    fake_slack: FakeSlackServer, notifier: SlackNotifier
) -> None:
    payload = chart()
    del payload["text"]
    notifier.deliver(message(payload, 3, kind="chart"), None, None)
    [stored] = fake_slack.files
    assert (stored.thread_ts, stored.initial_comment) == (None, None)
    assert "initial_comment" not in fake_slack.calls("files.completeUploadExternal")[0].body


def test_render_file_round_trip(fake_slack: FakeSlackServer, notifier: SlackNotifier) -> None:
    payload = render_file(PNG, filename="事件 42 chart.png", title="负面声量\n趋势", text="<!channel> 图表")
    assert payload["filename"] == "42-chart.png"
    assert payload["title"] == "负面声量 趋势"
    assert payload["text"] == "&lt;!channel&gt; 图表"
    notifier.deliver(message(payload, 5, kind="chart"), None, None)
    assert fake_slack.files[0].data == PNG


def test_render_file_refuses_empty_and_huge_files() -> None:
    with pytest.raises(ValueError, match="needs content"):
        render_file(b"", filename="a.png", title="a")
    with pytest.raises(ValueError, match="larger than"):
        render_file(b"x" * (1024 * 1024 + 1), filename="a.png", title="a")


def test_file_sharing_needs_the_channel_id(web_client: WebClient) -> None:
    notifier = SlackNotifier(web_client, "#crisis", min_interval=0)
    with pytest.raises(DeliveryError, match="needs the channel id") as caught:
        notifier.deliver(message(chart(), 2, kind="chart"), None, None)
    assert caught.value.permanent


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (chart(file="not base64!"), "not base64"),
        (chart(file=""), "needs content"),
        (chart(filename=""), "needs content"),
    ],
)
def test_bad_file_payloads_are_permanent(notifier: SlackNotifier, payload: dict[str, object], reason: str) -> None:
    with pytest.raises(DeliveryError, match=reason) as caught:
        notifier.deliver(message(payload, 2, kind="chart"), None, None)
    assert caught.value.permanent


def test_a_file_cannot_replace_a_message(notifier: SlackNotifier) -> None:
    with pytest.raises(DeliveryError, match="cannot replace") as caught:
        notifier.deliver(message(chart(), 2, kind="chart"), None, "1700000000.000100")
    assert caught.value.permanent


def test_rate_limited_upload_gives_retry_after(fake_slack: FakeSlackServer, notifier: SlackNotifier) -> None:
    fake_slack.fail_next("files.getUploadURLExternal", error="ratelimited", retry_after=7)
    with pytest.raises(DeliveryError) as caught:
        notifier.deliver(message(chart(), 2, kind="chart"), None, None)
    assert caught.value.retry_after == 7 and not caught.value.permanent
    assert len(fake_slack.calls("files.getUploadURLExternal")) == 1  # no retry inside the client


def test_failed_byte_upload_is_retryable(fake_slack: FakeSlackServer, notifier: SlackNotifier) -> None:
    fake_slack.fail_next("upload", error="upstream", status=503)
    with pytest.raises(DeliveryError, match="503") as caught:
        notifier.deliver(message(chart(), 2, kind="chart"), None, None)
    assert not caught.value.permanent
    notifier.deliver(message(chart(), 2, kind="chart"), None, None)
    assert [f.data is not None for f in fake_slack.files] == [False, True]


@pytest.mark.parametrize(("error", "permanent"), [("not_in_channel", True), ("internal_error", False)])
def test_completion_errors_are_mapped(
    fake_slack: FakeSlackServer, notifier: SlackNotifier, error: str, permanent: bool
) -> None:
    fake_slack.fail_next("files.completeUploadExternal", error=error)
    with pytest.raises(DeliveryError, match=error) as caught:
        notifier.deliver(message(chart(), 2, kind="chart"), None, None)
    assert caught.value.permanent is permanent


def test_missing_scope_is_permanent(fake_slack: FakeSlackServer, notifier: SlackNotifier) -> None:
    fake_slack.fail_next("files.getUploadURLExternal", error="missing_scope")
    with pytest.raises(DeliveryError, match="missing_scope") as caught:
        notifier.deliver(message(chart(), 2, kind="chart"), None, None)
    assert caught.value.permanent


def test_upload_timeout_is_retryable(fake_slack: FakeSlackServer) -> None:
    client = make_web_client("xoxb-test-token", base_url=fake_slack.base_url, timeout=0.3)
    fake_slack.delay_next("files.completeUploadExternal", 2)
    with pytest.raises(DeliveryError) as caught:
        SlackNotifier(client, CHANNEL, min_interval=0).deliver(message(chart(), 2, kind="chart"), None, None)
    assert not caught.value.permanent


def test_webhook_posts_the_text_with_a_note_instead_of_the_image(fake_slack: FakeSlackServer) -> None:
    webhook = SlackWebhookNotifier(fake_slack.webhook_url)
    webhook.deliver(message(chart(), 2, kind="chart"), None, None)
    body = fake_slack.calls("webhook")[0].body
    assert body["text"] == f"Chart for #42\n{WEBHOOK_NO_FILE}"
    assert "file" not in body and "blocks" not in body
    assert "cannot carry images" in WEBHOOK_NO_FILE


def test_webhook_file_without_text_uses_the_title(fake_slack: FakeSlackServer) -> None:
    payload = chart()
    del payload["text"]
    SlackWebhookNotifier(fake_slack.webhook_url).deliver(message(payload, 2, kind="chart"), None, None)
    assert fake_slack.calls("webhook")[0].body["text"].startswith("negative_count · X1 充电宝\n")


def test_a_rendered_chart_reaches_slack(fake_slack: FakeSlackServer, notifier: SlackNotifier) -> None:
    pytest.importorskip("matplotlib")
    from monitor.notify.charts import ChartSeries, render_png

    start = datetime(2024, 5, 1, 8, tzinfo=UTC)
    stamps = [start + timedelta(minutes=5 * i) for i in range(12)]
    png = render_png(ChartSeries("负面声量", stamps, [float(i) for i in range(12)], threshold=6.0))
    notifier.deliver(message(render_file(png, filename="c.png", title="负面声量"), 9, kind="chart"), None, None)
    assert fake_slack.files[0].data == png
