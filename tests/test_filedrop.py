"""File drop: CSV/JSONL files ingested once, moved to done/ or failed/ with an error report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.app import build_engine, build_sources
from monitor.config.loading import Definitions
from monitor.config.rules import RuleSet
from monitor.config.settings import AppConfig, load_config
from monitor.runtime.engine import Engine
from monitor.sources.filedrop import FileDropSource, is_partial
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HEADER = "id,time,text,category,product,region\n"


def record(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"F-{i}", "time": "2026-11-20T08:15:00+08:00", "text": "电暖器冒烟", "product": "X3", **extra}


def jsonl(*records: Any) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)


def engine_for(store: SqlStore, folder: Path, clock: FakeClock) -> Engine:
    config = AppConfig.model_validate({"sources": [{"type": "file_drop", "name": "drop", "path": str(folder)}]})
    with_no_http = build_sources(config.sources, client=None)  # type: ignore[arg-type]  # file drop needs none
    wiring = build_engine(
        config,
        Definitions(RuleSet([]), {}),
        store,
        clock,
        scorer=FakeScorer(),
        sources=with_no_http,
        notifiers={},
        renderers={},
    )
    return wiring.engine


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_good_csv_is_ingested_and_moved_to_done(store: SqlStore, drop: Path) -> None:
    (drop / "crm-export.csv").write_text(
        HEADER + 'C-1,2026-11-20T08:15:00+08:00,"插头发烫, 冒烟",product_quality,暖居 X3,杭州\n'
        "C-2,2026-11-20T08:16:00+08:00,退款太慢,,暖居 X3,\n",
        encoding="utf-8-sig",
    )
    engine = engine_for(store, drop, FakeClock(NOW))
    assert engine.poll("drop") == 2
    assert names(drop) == ["done"] and names(drop / "done") == ["crm-export.csv"]
    items = {s.item.id: s.item for s in store.items_between(["drop"], NOW.replace(hour=0), NOW)}
    assert items["C-1"].text == "插头发烫, 冒烟" and items["C-1"].kind == "complaint"
    assert items["C-1"].category == "product_quality"
    assert dict(items["C-1"].attrs) == {"product": "暖居 X3", "region": "杭州"}
    assert dict(items["C-2"].attrs) == {"product": "暖居 X3"}
    assert store.source_health()[0].consecutive_failures == 0


def test_a_gb18030_csv_from_excel_is_read(store: SqlStore, drop: Path) -> None:
    (drop / "export.csv").write_bytes((HEADER + "C-1,2026-11-20T08:15:00+08:00,客服态度差,,,\n").encode("gb18030"))
    engine = engine_for(store, drop, FakeClock(NOW))
    assert engine.poll("drop") == 1
    assert store.items_between(["drop"], NOW.replace(hour=0), NOW)[0].item.text == "客服态度差"


def test_a_bad_file_goes_to_failed_with_a_report(store: SqlStore, drop: Path) -> None:
    (drop / "bad.jsonl").write_text(jsonl("{oops", {"id": "X", "text": "缺时间"}), encoding="utf-8")
    engine = engine_for(store, drop, FakeClock(NOW))
    assert engine.poll("drop") == 0
    assert names(drop / "failed") == ["bad.jsonl", "bad.jsonl.error.txt"]
    report = (drop / "failed" / "bad.jsonl.error.txt").read_text(encoding="utf-8").splitlines()
    assert report[0] == "crisismon: bad.jsonl: 2 problem(s); kept 0 record(s); the file is in failed/"
    assert report[1].startswith("line 1: invalid JSON (")
    assert report[2] == "line 2: id 'X': missing field(s) time"
    (health,) = store.source_health()
    assert health.consecutive_failures == 1 and "bad.jsonl: 2 bad line(s)" in (health.last_error or "")


def test_a_csv_without_the_required_columns_fails_whole(store: SqlStore, drop: Path) -> None:
    (drop / "wrong.csv").write_text("编号,内容\n1,坏了\n", encoding="utf-8")
    engine_for(store, drop, FakeClock(NOW)).poll("drop")
    report = (drop / "failed" / "wrong.csv.error.txt").read_text(encoding="utf-8")
    assert "line 1: the header lacks column(s) id, time, text" in report


def test_a_mixed_file_keeps_the_good_records_in_done_with_a_report(store: SqlStore, drop: Path) -> None:
    (drop / "mixed.csv").write_text(
        HEADER + "C-1,2026-11-20T08:15:00+08:00,好的一行,,,\n"
        "C-2,昨天,时间不对,,,\n"
        "C-3,2026-11-20T08:15:00+08:00,多了一列,,,,extra\n"
        '"C-4","2026-11-20T08:17:00+08:00","跨行的\n文本",,,\n'
        "C-5,2026-11-20T08:18:00+08:00,,,,\n",
        encoding="utf-8",
    )
    engine = engine_for(store, drop, FakeClock(NOW))
    assert engine.poll("drop") == 2
    assert names(drop / "done") == ["mixed.csv", "mixed.csv.error.txt"]
    report = (drop / "done" / "mixed.csv.error.txt").read_text(encoding="utf-8").splitlines()
    assert report[1:] == [
        "line 3: id 'C-2': time '昨天' is not ISO 8601 (e.g. 2026-11-20T08:15:00+08:00)",
        "line 4: 7 field(s), expected 6 (as in the header)",
        "line 7: id 'C-5': missing field(s) text",
    ]
    assert store.source_health()[0].consecutive_failures == 0  # items came: the source works


def test_partial_files_are_left_alone(store: SqlStore, drop: Path) -> None:
    for name in (".hidden.csv", "upload.csv.part", "export.jsonl.tmp", "~lock.csv"):
        (drop / name).write_text(HEADER, encoding="utf-8")
    engine = engine_for(store, drop, FakeClock(NOW))
    engine.poll("drop")
    assert names(drop) == sorted([".hidden.csv", "upload.csv.part", "export.jsonl.tmp", "~lock.csv"])
    assert is_partial("x.CSV.TMP") and not is_partial("x.csv")


def test_a_restart_does_not_ingest_a_file_again(store: SqlStore, drop: Path) -> None:
    (drop / "a.jsonl").write_text(jsonl(record(1), record(2)), encoding="utf-8")
    clock = FakeClock(NOW)
    assert engine_for(store, drop, clock).poll("drop") == 2
    (drop / "a.jsonl").write_text(jsonl(record(1), record(3)), encoding="utf-8")  # dropped again, one new
    clock.advance(minutes=1)
    assert engine_for(store, drop, clock).poll("drop") == 1  # a new engine: the store knows F-1
    assert names(drop / "done") == ["a.20261120T120100.jsonl", "a.jsonl"]
    assert store.item_count() == 3


def test_items_are_kept_when_the_store_fails_before_the_move(store: SqlStore, drop: Path) -> None:
    """A crash between fetch and store leaves the file in place: the next poll reads it again."""
    (drop / "a.jsonl").write_text(jsonl(record(1)), encoding="utf-8")
    source = FileDropSource("drop", drop)
    assert len(source.fetch(NOW).items) == 1  # no stored(): as if the daemon died here
    assert names(drop) == ["a.jsonl"]
    assert len(source.fetch(NOW).items) == 1
    source.stored(NOW)
    assert names(drop) == ["done"]


def test_unknown_extensions_fail_and_format_overrides(drop: Path) -> None:
    (drop / "notes.txt").write_text(jsonl(record(1)), encoding="utf-8")
    result = FileDropSource("drop", drop).fetch(NOW)
    assert result.items == [] and "unknown file type '.txt'" in result.errors[0]
    assert len(FileDropSource("drop", drop, format="jsonl").fetch(NOW).items) == 1


def test_a_missing_folder_is_a_failed_poll(tmp_path: Path) -> None:
    result = FileDropSource("drop", tmp_path / "nowhere").fetch(NOW)
    assert result.items == [] and "does not exist" in result.errors[0]


def test_files_over_max_bytes_are_refused(drop: Path) -> None:
    (drop / "big.jsonl").write_text(jsonl(*(record(i) for i in range(50))), encoding="utf-8")
    result = FileDropSource("drop", drop, max_bytes=100).fetch(NOW)
    assert result.items == [] and "the cap is max_bytes=100" in result.errors[0]


def test_the_config_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "crisismon.yaml").write_text(
        "sources:\n  - name: drop\n    type: file_drop\n    path: inbox\n    format: csv\n", encoding="utf-8"
    )
    config = load_config(tmp_path / "crisismon.yaml")
    (source,) = config.sources
    assert source.type == "file_drop" and source.path == str(tmp_path / "inbox")
