"""`crisismon sources`: the health table and its JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.models import Item, ScoredItem
from monitor.store import open_store

CONFIG = """
sources:
  - name: news
    type: rss
    url: https://news.example.com/a.xml
  - name: drop
    type: file_drop
    path: inbox
  - name: weibo
    type: rsshub
    instance: https://rsshub.example.com
    route: /weibo/keyword/暖居
    expected_silence: 2h
  - name: later
    type: jsonfeed
    url: https://blog.example.com/feed.json
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, str]:
    config = tmp_path / "crisismon.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    db = str(tmp_path / "c.db")
    now = datetime.now(UTC).replace(microsecond=0)  # the CLI reads the real clock
    store = open_store(db)
    for minutes in (30, 20, 10):
        store.record_fetch("news", now - timedelta(minutes=minutes), error="HTTP 503 Service Unavailable", items=0)
    store.update_source_data("news", "health", {"backoff_until": (now + timedelta(minutes=30)).isoformat()})
    items = [ScoredItem(Item("drop", f"d-{i}", "投诉", now - timedelta(hours=1)), 0.1, None) for i in range(3)]
    store.add_items(items, now - timedelta(hours=1))
    store.add_items(
        [ScoredItem(Item("drop", "old", "旧的", now - timedelta(days=2)), 0.1, None)], now - timedelta(days=2)
    )
    store.record_fetch("drop", now - timedelta(hours=1), error=None, items=3)
    store.update_source_data("drop", "health", {"last_item_at": (now - timedelta(hours=1)).isoformat()})
    store.record_fetch("weibo", now - timedelta(hours=3), error=None, items=0)
    store.update_source_data("weibo", "health", {"first_polled_at": (now - timedelta(hours=3)).isoformat()})
    store.record_fetch("intake", now - timedelta(minutes=5), error=None, items=1)
    store.close()
    return config, db


def test_the_table_shows_state_errors_items_and_backoff(
    setup: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, db = setup
    assert main(["sources", "--config", str(config), "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "NAME", "TYPE", "STATE", "LAST", "SUCCESS", "FAILS", "ITEMS/24H", "BACKOFF", "UNTIL", "LAST", "ERROR",
    ]  # fmt: skip
    rows = {line.split()[0]: line for line in lines[1:]}
    assert sorted(rows) == ["drop", "intake", "later", "news", "weibo"]
    assert rows["news"].split()[1:5] == ["rss", "down", "never", "3"]
    assert rows["news"].endswith("HTTP 503 Service Unavailable")
    assert rows["drop"].split()[1:3] == ["file_drop", "ok"] and rows["drop"].split()[6] == "3"
    assert rows["weibo"].split()[2] == "silent" and "no new item since its first poll" in rows["weibo"]
    assert rows["later"].split()[1:4] == ["jsonfeed", "new", "never"]
    assert rows["intake"].split()[1:3] == ["-", "ok"]


def test_json_has_one_object_per_source(setup: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    config, db = setup
    assert main(["sources", "--config", str(config), "--db", db, "--json"]) == 0
    data = {d["name"]: d for d in map(json.loads, capsys.readouterr().out.splitlines())}
    news = data["news"]
    assert (news["state"], news["consecutive_failures"], news["last_error"]) == (
        "down",
        3,
        "HTTP 503 Service Unavailable",
    )
    assert news["backoff_until"] is not None and news["last_success"] is None
    assert data["drop"]["items_24h"] == 3 and data["drop"]["items_total"] == 3
    assert data["weibo"]["expected_silence"] == 7200


def test_nothing_configured_nor_polled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.store import open_store

    open_store(str(tmp_path / "empty.db")).close()  # a daemon's database that has seen nothing yet
    assert main(["sources", "--db", str(tmp_path / "empty.db")]) == 0
    assert "no sources" in capsys.readouterr().out
