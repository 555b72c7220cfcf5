"""`crisismon backtest`: replay history through the rules, list episodes, draw charts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.demo.scenario import build_timeline

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def write_scenario(path: Path) -> None:
    names = {"complaints": "complaints", "social": "weibo", "news": "news"}
    with path.open("w", encoding="utf-8") as handle:
        for e in build_timeline(START):
            record = {
                "source": names[e.channel],
                "id": e.id,
                "time": e.at.isoformat(),
                "text": e.text,
                "title": e.title,
                "category": e.category,
                "product": e.product,
                "region": e.region,
                "sentiment": 0.05 if e.id.startswith("surge") else 0.7,
            }
            handle.write(json.dumps({k: v for k, v in record.items() if v is not None}, ensure_ascii=False) + "\n")
        handle.write("{broken\n")


def test_backtest_lists_when_each_rule_fires_and_draws_charts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "items.jsonl"
    write_scenario(items)
    out = tmp_path / "out"
    code = main(["backtest", "--items", str(items), "--to", "2026-11-20T06:00:00+00:00", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "items.jsonl" in captured.err and "not JSON" in captured.err  # the bad line is reported
    assert "replaying [" in captured.err
    assert "product-quality-complaint-surge: 1 firing episode(s)" in captured.out
    assert "product=暖居 X3 电暖器" in captured.out
    results = {r["rule"]: r for r in json.loads((out / "results.json").read_text(encoding="utf-8"))}
    (episode,) = results["product-quality-complaint-surge"]["episodes"]
    fired = datetime.fromisoformat(episode["fired_at"])
    assert START < fired < datetime(2026, 11, 20, 3, 20, tzinfo=UTC)  # during the surge
    assert results["disaster-reports"]["episodes"] == []
    png = (out / "product-quality-complaint-surge.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_backtest_from_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.store import open_store
    from monitor.testing import FakeClock, FakeSource, RecordingNotifier

    from .test_engine import make_engine, surge

    db = str(tmp_path / "b.db")
    store = open_store(db)
    clock, source = FakeClock(), FakeSource("complaints")
    engine = make_engine(store, clock, source, RecordingNotifier())
    surge(clock, source, 0, 12)
    engine.poll("complaints")
    store.close()
    assert main(["backtest", "--db", db, "--rule", "product-quality-complaint-surge"]) == 0
    out = capsys.readouterr().out
    assert "replayed 13 item(s)" in out and "product-quality-complaint-surge: 1 firing episode(s)" in out


def test_backtest_says_what_is_wrong_with_its_arguments(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    items = tmp_path / "i.jsonl"
    write_scenario(items)
    assert main(["backtest", "--items", str(items), "--rule", "nope"]) == 2
    assert "no rule matches" in capsys.readouterr().err
    assert main(["backtest", "--items", str(items), "--from", "yesterday"]) == 2
    assert "expected an ISO time" in capsys.readouterr().err
