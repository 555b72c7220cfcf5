"""Fixtures for the Slack tests: a fake Slack Web API on loopback and a real WebClient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sample import TOKEN
from slack_sdk import WebClient

from monitor.slack.client import make_web_client
from monitor.testing.fakeslack import FakeSlackServer


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackServer]:
    with FakeSlackServer(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def web_client(fake_slack: FakeSlackServer) -> WebClient:
    return make_web_client(TOKEN, base_url=fake_slack.base_url, timeout=5)
