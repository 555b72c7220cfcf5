"""The demo with Slack configured waits until the alert and checklist really reached Slack."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.clock import monotonic
from monitor.store import open_store
from monitor.testing import FakeSlackServer

CHANNEL = "C0DEMO0001"


def slack_env(monkeypatch: pytest.MonkeyPatch, slack: FakeSlackServer) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-demo")
    monkeypatch.setenv("SLACK_CHANNEL", CHANNEL)
    monkeypatch.setenv("CRISISMON_SLACK_API_URL", slack.base_url)


@pytest.mark.slow
def test_the_demo_waits_out_a_rate_limit_and_says_where_it_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeSlackServer() as slack:
        slack_env(monkeypatch, slack)
        slack.fail_next("chat.postMessage", 1, retry_after=3)  # a 429 with Retry-After: 3 seconds
        db = tmp_path / "demo.db"
        assert main(["demo", "--db", str(db), "--speed", "480", "--wait", "40"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert f"slack: alert delivered to {CHANNEL} (ts " in out
    assert f"checklist delivered to {CHANNEL} in the alert's thread" in out
    assert "alert and checklist delivered" in out
    store = open_store(str(db))
    [incident] = [i for i in store.incidents() if i.playbook == "product_quality"]
    alert = next(d for d in store.deliveries(incident.id) if d.destination == "slack" and d.kind == "alert")
    assert alert.status == "sent" and alert.attempts == 2 and alert.channel == CHANNEL
    store.close()


@pytest.mark.slow
def test_the_demo_says_what_did_not_arrive_when_slack_keeps_refusing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeSlackServer() as slack:
        slack_env(monkeypatch, slack)
        slack.fail_next("chat.postMessage", 1000, retry_after=120)
        started = monotonic()
        code = main(["demo", "--db", str(tmp_path / "d.db"), "--speed", "480", "--wait", "3"])
        took = monotonic() - started
    captured = capsys.readouterr()
    assert code == 1
    assert "slack: alert NOT delivered yet after 1 attempt(s): slack chat.postMessage: ratelimited (HTTP 429)" in (
        captured.out
    )
    assert "next try in 1" in captured.out  # about 120 s: Retry-After honoured, not retried meanwhile
    assert "did not reach every destination" in captured.err
    assert took < 60
