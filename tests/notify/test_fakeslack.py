"""The fake Slack Web API itself: realistic answers, scripting, clean stop."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from slack_sample import TOKEN
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from monitor.slack.client import make_web_client
from monitor.testing.fakeslack import FakeSlackServer, block_problems


def test_base_url_is_loopback_with_a_trailing_slash(fake_slack: FakeSlackServer) -> None:
    assert fake_slack.base_url.startswith("http://127.0.0.1:") and fake_slack.base_url.endswith("/api/")


def test_auth_test_and_post_answer_like_slack(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    assert web_client.auth_test()["user_id"] == "U0FAKEBOT"
    first = web_client.chat_postMessage(channel="#crisis", text="一")
    second = web_client.chat_postMessage(channel="#crisis", text="二", thread_ts=first["ts"])
    assert first["ts"] == "1700000000.000100" and second["ts"] == "1700000000.000200"
    assert first["channel"] == second["channel"] == fake_slack.channel_id("crisis")
    assert second["message"]["thread_ts"] == first["ts"]
    assert [r.method for r in fake_slack.requests] == ["auth.test", "chat.postMessage", "chat.postMessage"]


def test_request_records_body_and_headers(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    web_client.chat_postMessage(channel="C0CRISIS01", text="hi", blocks=[{"type": "divider"}])
    recorded = fake_slack.calls("chat.postMessage")[0]
    assert recorded.body == {"channel": "C0CRISIS01", "text": "hi", "blocks": [{"type": "divider"}]}
    assert recorded.headers["content-type"].startswith("application/json")
    assert recorded.path == "/api/chat.postMessage" and recorded.raw


def test_tokens_are_checked(fake_slack: FakeSlackServer) -> None:
    for token, error in [("", "not_authed"), ("xoxb-other", "invalid_auth")]:
        client = WebClient(token=token, base_url=fake_slack.base_url, retry_handlers=[])
        with pytest.raises(SlackApiError) as caught:
            client.chat_postMessage(channel="C0CRISIS01", text="x")
        assert caught.value.response["error"] == error


def test_update_needs_channel_id_and_existing_message(web_client: WebClient) -> None:
    posted = web_client.chat_postMessage(channel="#crisis", text="x")
    for channel, ts, error in [
        ("#crisis", posted["ts"], "channel_not_found"),
        (posted["channel"], "1.2", "message_not_found"),
    ]:
        with pytest.raises(SlackApiError) as caught:
            web_client.chat_update(channel=channel, ts=ts, text="y")
        assert caught.value.response["error"] == error
    assert web_client.chat_update(channel=posted["channel"], ts=posted["ts"], text="y")["ts"] == posted["ts"]


def test_unknown_method_and_missing_text(web_client: WebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        web_client.api_call("chat.explode")
    assert caught.value.response["error"] == "unknown_method"
    with pytest.raises(SlackApiError) as caught, pytest.warns(UserWarning, match="text"):
        web_client.chat_postMessage(channel="C0CRISIS01")
    assert caught.value.response["error"] == "no_text"


def test_fail_next_scripts_errors_then_recovers(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    fake_slack.fail_next("chat.postMessage", 2, error="ratelimited", retry_after=3)
    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            web_client.chat_postMessage(channel="C0CRISIS01", text="x")
        assert caught.value.response.status_code == 429
        assert caught.value.response.headers["Retry-After"] == "3"
    assert web_client.chat_postMessage(channel="C0CRISIS01", text="x")["ok"]
    fake_slack.fail_next("chat.postMessage", error="internal_error")
    with pytest.raises(SlackApiError) as caught:
        web_client.chat_postMessage(channel="C0CRISIS01", text="x")
    assert caught.value.response.status_code == 500


def test_other_methods_are_not_affected_by_a_script(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    fake_slack.fail_next("chat.update", error="cant_update_message")
    assert web_client.chat_postMessage(channel="C0CRISIS01", text="x")["ok"]


def test_invalid_blocks_are_refused_with_reasons(web_client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51
    with pytest.raises(SlackApiError) as caught:
        web_client.chat_postMessage(channel="C0CRISIS01", text="x", blocks=blocks)
    assert caught.value.response["error"] == "invalid_blocks"
    assert any("50" in e for e in caught.value.response["errors"])


@pytest.mark.parametrize(
    "block",
    [
        {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}},
        {"type": "section"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11},
        {
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "x" * 76}}],
        },
        {
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "x"}, "value": "v" * 2001}],
        },
        {"type": "actions", "elements": []},
        {"type": "bogus"},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "x"},
            "accessory": {
                "type": "checkboxes",
                "options": [{"text": {"type": "plain_text", "text": "x"}, "value": "v" * 151}],
            },
        },
    ],
)
def test_block_problems_catch_each_limit(block: dict[str, object]) -> None:
    assert block_problems([block]) != []


def test_duplicate_block_ids_are_refused() -> None:
    block = {"type": "divider", "block_id": "same"}
    assert block_problems([block, block]) != []


def test_webhook_endpoint(fake_slack: FakeSlackServer) -> None:
    response = httpx.post(fake_slack.webhook_url, json={"text": "hi"})
    assert (response.status_code, response.text) == (200, "ok")
    assert fake_slack.calls("webhook")[0].body == {"text": "hi"}


def test_files_upload_v2_flow(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    response = web_client.files_upload_v2(channel="C0CRISIS01", content="a,b\n1,2\n", filename="x.csv", title="数据")
    assert response["ok"]
    methods = [r.method for r in fake_slack.requests]
    assert methods[0] == "files.getUploadURLExternal" and "files.completeUploadExternal" in methods


def test_stop_is_clean_even_with_a_delayed_request_in_flight() -> None:
    fake = FakeSlackServer(token=TOKEN).start()
    fake.delay_next("chat.postMessage", 30)
    client = make_web_client(TOKEN, base_url=fake.base_url, timeout=5)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.chat_postMessage(channel="C0CRISIS01", text="x")
        except BaseException as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while not fake.calls("chat.postMessage"):
        time.sleep(0.01)
    started = time.monotonic()
    fake.stop()
    caller.join(timeout=5)
    assert time.monotonic() - started < 2 and not caller.is_alive()
    fake.stop()  # idempotent


def test_recorded_requests_are_bounded(web_client: WebClient) -> None:
    with FakeSlackServer(max_requests=3) as fake:
        client = make_web_client(TOKEN, base_url=fake.base_url)
        for _ in range(5):
            client.auth_test()
        assert len(fake.requests) == 3


def test_port_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = FakeSlackServer().base_url
