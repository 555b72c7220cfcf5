"""The fake Slack's history, replies, metadata and file upload flow, through the real client."""

from __future__ import annotations

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from monitor.testing.fakeslack import FakeSlackServer

CHANNEL = "C0CRISIS01"
META = {"event_type": "crisismon_message", "event_payload": {"outbox_id": 3}}


def test_metadata_is_kept_and_returned_only_when_asked(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    posted = web_client.chat_postMessage(channel=CHANNEL, text="hi", metadata=META)
    assert posted["message"]["metadata"] == META
    plain = web_client.conversations_history(channel=CHANNEL)
    assert "metadata" not in plain["messages"][0]
    full = web_client.conversations_history(channel=CHANNEL, include_all_metadata=True)
    assert full["messages"][0]["metadata"] == META


def test_an_edit_without_metadata_keeps_it(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    ts = web_client.chat_postMessage(channel=CHANNEL, text="hi", metadata=META)["ts"]
    web_client.chat_update(channel=CHANNEL, ts=ts, text="edited")
    assert fake_slack.message(CHANNEL, ts).metadata == META


def test_malformed_metadata_is_refused(web_client: WebClient) -> None:
    with pytest.raises(SlackApiError, match="invalid_metadata_format"):
        web_client.chat_postMessage(channel=CHANNEL, text="hi", metadata={"event_payload": {}})


def test_history_is_top_level_newest_first_in_pages(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    first = fake_slack.post(CHANNEL, "first")
    fake_slack.post(CHANNEL, "reply", thread_ts=first.ts)
    fake_slack.post(CHANNEL, "second")
    fake_slack.post(CHANNEL, "third")
    page = web_client.conversations_history(channel=CHANNEL, limit=2)
    assert [m["text"] for m in page["messages"]] == ["third", "second"] and page["has_more"]
    rest = web_client.conversations_history(channel=CHANNEL, limit=2, cursor=page["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["first"] and not rest["has_more"]
    assert rest["messages"][0]["reply_count"] == 1


def test_replies_are_the_parent_then_its_replies_oldest_first(
    fake_slack: FakeSlackServer, web_client: WebClient
) -> None:
    parent = fake_slack.post(CHANNEL, "parent")
    for text in ("a", "b"):
        fake_slack.post(CHANNEL, text, thread_ts=parent.ts)
    replies = web_client.conversations_replies(channel=CHANNEL, ts=parent.ts)
    assert [m["text"] for m in replies["messages"]] == ["parent", "a", "b"]


def test_history_needs_a_channel_id_and_replies_a_thread(web_client: WebClient) -> None:
    with pytest.raises(SlackApiError, match="channel_not_found"):
        web_client.conversations_history(channel="#crisis")
    with pytest.raises(SlackApiError, match="thread_not_found"):
        web_client.conversations_replies(channel=CHANNEL, ts="1.000001")


def test_upload_flow_records_bytes_and_where_the_file_was_shared(
    fake_slack: FakeSlackServer, web_client: WebClient
) -> None:
    parent = fake_slack.post(CHANNEL, "alert")
    response = web_client.files_upload_v2(
        channel=CHANNEL, thread_ts=parent.ts, file=b"\x89PNG data", filename="c.png", title="图", initial_comment="hi"
    )
    [stored] = fake_slack.files
    assert response["file"]["id"] == stored.id
    assert (stored.data, stored.name, stored.title, stored.length) == (b"\x89PNG data", "c.png", "图", 9)
    assert (stored.channel, stored.thread_ts, stored.initial_comment) == (CHANNEL, parent.ts, "hi")
    replies = web_client.conversations_replies(channel=CHANNEL, ts=parent.ts)["messages"]
    assert replies[1]["files"][0] == {"id": stored.id, "name": "c.png", "title": "图", "mimetype": "image/png"}
    assert replies[1]["text"] == "hi"


def test_an_upload_without_a_channel_stays_private(fake_slack: FakeSlackServer, web_client: WebClient) -> None:
    web_client.files_upload_v2(file=b"x", filename="x.txt")
    assert fake_slack.files[0].channel is None and fake_slack.messages == []


def test_completing_an_upload_whose_bytes_never_came_fails(web_client: WebClient) -> None:
    file_id = web_client.files_getUploadURLExternal(filename="x.png", length=3)["file_id"]
    with pytest.raises(SlackApiError, match="file_not_found"):
        web_client.files_completeUploadExternal(files=[{"id": file_id, "title": "x"}], channel_id=CHANNEL)


def test_upload_url_for_an_unknown_file_is_404(fake_slack: FakeSlackServer) -> None:
    response = httpx.post(f"http://127.0.0.1:{fake_slack.port}/upload/F0NOPE", content=b"x")
    assert response.status_code == 404


def test_sharing_into_an_unknown_thread_fails(web_client: WebClient) -> None:
    with pytest.raises(SlackApiError, match="invalid_thread_ts"):
        web_client.files_upload_v2(channel=CHANNEL, thread_ts="1.000009", file=b"x", filename="x.png")
