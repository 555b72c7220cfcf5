"""The daemon's wiring: build_engine + build_api give the Slack app its config, roster and client."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

import httpx

from monitor.app import build_api, build_engine
from monitor.config.loading import load_definitions
from monitor.config.settings import AppConfig, ScoringConfig
from monitor.slack.signature import sign
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer, FakeSlackServer, FakeSource

from ..conftest import ROOT


def test_the_daemon_serves_the_slash_command_in_its_locale_with_roster_names(
    store: SqlStore, fake: FakeSlackServer, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        "people:\n  - {name: 王芳, slack: U0123LEAD, roles: [crisis_lead]}\nslack_only_known: true\n", "utf-8"
    )
    config = AppConfig(
        rules_dir=str(ROOT / "rules"),
        playbooks_dir=str(ROOT / "playbooks"),
        scoring=ScoringConfig(negative_below=0.3),
        http={"listen": "127.0.0.1:0", "console": False},
        roster=str(roster),
        locale="zh-CN",
        timezone="Asia/Shanghai",
    )
    clock = FakeClock()
    env = {"SLACK_SIGNING_SECRET": "s3cret", "SLACK_BOT_TOKEN": "xoxb-t", "CRISISMON_SLACK_API_URL": fake.base_url}
    wiring = build_engine(
        config,
        load_definitions(config, check_sources=False),
        store,
        clock,
        scorer=FakeScorer(),
        sources={"complaints": FakeSource("complaints")},
        env=env,
    )
    server = build_api(config, wiring, store, clock, env)
    try:

        def command(user: str, text: str) -> str:
            body = urlencode({"command": "/crisis", "text": text, "user_id": user, "channel_id": "C1"}).encode()
            stamp = str(int(clock.now().timestamp()))
            headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sign("s3cret", stamp, body)}
            clock.advance(seconds=1)
            answer = httpx.post(f"{server.url}/slack/commands", content=body, headers=headers, timeout=10)
            assert answer.status_code == 200
            return str(json.loads(answer.text)["text"])

        assert command("U0123LEAD", "list") == "目前没有进行中的事件。"
        assert command("U0NOBODY1", "list").startswith("你不在值班名单")
    finally:
        server.close()
        wiring.close()
