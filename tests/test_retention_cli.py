"""Retention from the command line: `check` reports a rule reading further back than the
retention (path:line, found, expected); `db prune --dry-run` shows what would go and removes
nothing; `db prune` removes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.models import Item, ScoredItem
from monitor.store import open_store

from .conftest import ROOT

RULES = """rules:
  - id: weekly
    description: d
    playbook: product_quality
    window: 2d
    condition:
      spike: {metric: count, ratio: 2, baseline: 7d}
  - id: hourly
    description: d
    playbook: product_quality
    condition:
      threshold: {metric: count, value: 5}
"""


def write_config(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "r.yaml").write_text(RULES, encoding="utf-8")
    config = tmp_path / "crisismon.yaml"
    config.write_text(
        f"rules_dir: rules\nplaybooks_dir: {ROOT / 'playbooks'}\ndatabase: {tmp_path / 'c.db'}\n{extra}",
        encoding="utf-8",
    )
    return config


def test_check_reports_a_rule_reading_further_back_than_the_retention(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "retention: 5d\n")
    assert main(["check", "--config", str(config)]) == 2
    err = capsys.readouterr().err.splitlines()
    path = tmp_path / "rules" / "r.yaml"
    assert (
        f"{path}:2: lookback: found rule 'weekly' reads 9d back (its windows, baselines and anomaly history), "
        "expected at most the config's retention: 5d (raise retention: or shorten the rule's window, baseline "
        "or history)"
    ) in err
    assert not any("'hourly'" in line for line in err)


def test_a_retention_long_enough_passes_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(write_config(tmp_path, "retention: 9d\n"))]) == 0


def test_a_retention_shorter_than_a_day_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "retention: 2h\n")
    assert main(["check", "--config", str(config)]) == 2
    assert f"{config}:4: retention: found 2h, expected a retention of at least 1d" in capsys.readouterr().err


def test_db_prune_dry_run_shows_what_would_go_and_prune_removes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "retention: 10d\n")
    store = open_store(str(tmp_path / "c.db"))
    now = datetime.now(UTC)
    store.add_items(
        [
            ScoredItem(Item("complaints", f"c{d}", f"第{d}天", now - timedelta(days=d, minutes=1)), 0.5, None)
            for d in range(15)
        ],
        now,
    )
    store.close()
    assert main(["db", "prune", "--dry-run", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "would remove 5 item(s)" in out and "(retention: 10d)" in out
    assert open_store(str(tmp_path / "c.db")).item_count() == 15
    assert main(["db", "prune", "--config", str(config)]) == 0
    assert "removed 5 item(s)" in capsys.readouterr().out
    assert open_store(str(tmp_path / "c.db")).item_count() == 10
