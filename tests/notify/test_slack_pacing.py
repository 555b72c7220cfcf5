"""SlackNotifier keeps to about one message per second per channel (without really sleeping)."""

from __future__ import annotations

import base64

import pytest
from slack_helpers import CHANNEL, Ticker, message, text
from slack_sdk import WebClient

from monitor.protocols import DeliveryError
from monitor.slack.client import SlackNotifier
from monitor.testing.fakeslack import FakeSlackServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def notifier(web_client: WebClient, ticker: Ticker) -> SlackNotifier:
    return SlackNotifier(web_client, CHANNEL, sleep=ticker.sleep, monotonic=ticker.monotonic)


def test_first_message_goes_at_once_and_the_next_waits_a_second(notifier: SlackNotifier, ticker: Ticker) -> None:
    notifier.deliver(message(text("one"), 1), None, None)
    assert ticker.sleeps == []
    notifier.deliver(message(text("two"), 2), None, None)
    assert ticker.sleeps == [1.0]


def test_only_the_rest_of_the_second_is_waited(notifier: SlackNotifier, ticker: Ticker) -> None:
    notifier.deliver(message(text("one"), 1), None, None)
    ticker.advance(0.4)
    notifier.deliver(message(text("two"), 2), None, None)
    ticker.advance(2.0)
    notifier.deliver(message(text("three"), 3), None, None)
    assert ticker.sleeps == [0.6]


def test_replies_edits_and_uploads_share_the_channel_budget(
    fake_slack: FakeSlackServer, notifier: SlackNotifier, ticker: Ticker
) -> None:
    top = notifier.deliver(message(text("alert"), 1), None, None)
    notifier.deliver(message(text("reply"), 2), top.ref, None)
    notifier.deliver(message(text("edited"), 3), None, top.ref)
    chart = {"file": base64.b64encode(PNG).decode(), "filename": "chart.png", "title": "chart"}
    notifier.deliver(message(chart, 4), top.ref, None)
    assert ticker.sleeps == [1.0, 1.0, 1.0]
    assert len(fake_slack.files) == 1


def test_a_failed_call_counts_too(fake_slack: FakeSlackServer, notifier: SlackNotifier, ticker: Ticker) -> None:
    fake_slack.fail_next("chat.postMessage", error="ratelimited", retry_after=3)
    with pytest.raises(DeliveryError):
        notifier.deliver(message(text("one"), 1), None, None)
    notifier.deliver(message(text("one"), 1), None, None)
    assert ticker.sleeps == [1.0]


def test_looking_for_a_message_is_not_paced(notifier: SlackNotifier, ticker: Ticker) -> None:
    top = notifier.deliver(message(text("alert"), 1), None, None)
    assert notifier.find(message(text("alert"), 1), None) == top
    assert notifier.find(message(text("reply"), 2), top.ref) is None
    assert ticker.sleeps == []


def test_channels_are_paced_separately(web_client: WebClient, ticker: Ticker) -> None:
    crisis = SlackNotifier(web_client, CHANNEL, sleep=ticker.sleep, monotonic=ticker.monotonic)
    other = SlackNotifier(web_client, "C0OTHER001", sleep=ticker.sleep, monotonic=ticker.monotonic)
    crisis.deliver(message(text("a"), 1), None, None)
    other.deliver(message(text("b"), 2), None, None)
    assert ticker.sleeps == []


def test_zero_interval_switches_pacing_off(web_client: WebClient, ticker: Ticker) -> None:
    notifier = SlackNotifier(web_client, CHANNEL, min_interval=0, sleep=ticker.sleep, monotonic=ticker.monotonic)
    for i in range(3):
        notifier.deliver(message(text(f"m{i}"), i + 1), None, None)
    assert ticker.sleeps == []
