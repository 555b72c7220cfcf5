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


def _record(source: str, n: int, at: datetime, text: str, **extra: object) -> str:
    return json.dumps(
        {"source": source, "id": f"{source}-{n}", "time": at.isoformat(), "text": text, **extra}, ensure_ascii=False
    )


def write_crisis(path: Path) -> None:
    """Eight calm days of ordinary posts and complaints, then one burn report in traditional
    characters, its reposts, an English report and a storm of odd input."""
    from datetime import timedelta

    calm = [
        "暖居电暖器挺暖和的",
        "客服回复很快，点赞",
        "物流有点慢，不过东西不错",
        "The WarmHome heater is nice and warm",
    ]
    lines = []
    for hour in range(8 * 24):
        at = START + timedelta(hours=hour)
        lines.append(_record("weibo", hour, at, calm[hour % len(calm)]))
    event = START + timedelta(days=8, hours=2)
    burn = "電暖器起火，孩子被燙傷送醫院了，暖居必須給個說法！"
    lines.append(_record("complaints", 1, event, burn, category="product_quality"))
    for i in range(20):
        lines.append(_record("weibo", 1000 + i, event + timedelta(minutes=i), f"太心疼了//@宝妈{i}:{burn}"))
    lines.append(
        _record("news", 2, event + timedelta(minutes=30), "My WarmHome heater caught fire and my son was burned")
    )
    odd = [
        "😱😱🔥🔥🔥",
        "<p>&lt;b&gt;暖居&amp;</p> https://t.cn/xyz?a=1&b=2",
        "é”Ÿæ–¤æ‹·çƒ«çƒ«çƒ« mojibake Ã©",
        "长文" * 5000,
        "Это ужасный обогреватель",
        "",
    ]
    for i, text in enumerate(odd):
        lines.append(_record("weibo", 2000 + i, event + timedelta(minutes=40), text))
    lines.append(json.dumps({"source": "weibo", "time": event.isoformat(), "text": 12345}))  # no id, a number as text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_backtest_replays_the_ingest_path_on_a_crisis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "crisis.jsonl"
    write_crisis(items)
    out = tmp_path / "out"
    code = main(
        [
            "backtest",
            "--items",
            str(items),
            "--rule",
            "product-harm-immediate",
            "--rule",
            "product-safety-posts",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    results = {r["rule"]: r for r in json.loads((out / "results.json").read_text(encoding="utf-8"))}
    (episode,) = results["product-harm-immediate"]["episodes"]
    assert datetime.fromisoformat(episode["fired_at"]) <= datetime(2026, 11, 28, 2, 5, tzinfo=UTC)
    assert results["product-safety-posts"]["episodes"] == []  # 20 reposts of one report are one story


def test_odd_items_are_stored_and_counted_never_raised(tmp_path: Path) -> None:
    from monitor.detect.backtest import ingest_items, load_items_jsonl
    from monitor.runtime.ingest import Ingestor
    from monitor.runtime.metrics import Metrics
    from monitor.store import open_store
    from monitor.testing import FakeScorer
    from monitor.text.classify import KeywordClassifier

    items = tmp_path / "crisis.jsonl"
    write_crisis(items)
    loaded, problems = load_items_jsonl(items)
    assert [p.split(": ", 1)[1] for p in problems] == ["id 'weibo-2005': missing field(s) text"]  # reported, not fatal
    store = open_store(":memory:")
    scored = ingest_items(loaded, Ingestor(store, FakeScorer(), KeywordClassifier.default(), Metrics()))
    assert len(scored) == len(loaded) == store.item_count() == 8 * 24 + 1 + 20 + 1 + 5 + 1
    langs = {s.item.text[:8]: s.lang for s in scored}
    assert langs["Это ужас"] == "other" and langs["😱😱🔥🔥🔥"] == "other"
    reposts = {s.story for s in scored if s.item.text.startswith("太心疼了")}
    assert len(reposts) == 1
    store.close()
