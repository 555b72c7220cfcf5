from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.store import open_store
from monitor.testing import FakeClock, FakeSource, RecordingNotifier

from .conftest import ROOT
from .test_engine import make_engine, open_incident


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "daemon.py"), *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def test_check_accepts_the_shipped_rules_and_playbooks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert "ok: 14 rule(s), 5 playbook(s)" in capsys.readouterr().out


def write_config(tmp_path: Path, rules: str, extra: str = "") -> Path:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(rules, encoding="utf-8")
    config = tmp_path / "crisismon.yaml"
    config.write_text(f"rules_dir: rules\nplaybooks_dir: {ROOT / 'playbooks'}\n{extra}", encoding="utf-8")
    return config


BROKEN = """rules:
  - id: a
    description: d
    playbook: nope
    sources: [ghost]
    condition: {spike: {metric: count, ratio: 2}}
"""


def test_check_prints_every_problem_and_exits_2(tmp_path: Path) -> None:
    config = write_config(tmp_path, BROKEN)
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    path = str(tmp_path / "rules" / "r.yaml")
    assert f"{path}:6: rules.0.condition.spike.baseline: found nothing, expected this required field" in lines
    assert lines[-1] == "1 problem(s) found"
    assert "Traceback" not in result.stderr


def test_check_reports_cross_file_problems_with_the_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, BROKEN.replace("ratio: 2", "ratio: 2, baseline: 1d"))
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 2
    path = str(tmp_path / "rules" / "r.yaml")
    assert f"{path}:2: playbook: found 'nope', expected a playbook id" in result.stderr
    assert f"{path}:2: sources: found 'ghost', expected a configured source (none configured)" in result.stderr


def test_run_refuses_to_start_with_the_same_messages(tmp_path: Path) -> None:
    config = write_config(tmp_path, BROKEN)
    check = run_cli("check", "--config", str(config))
    run = run_cli("run", "--config", str(config), "--once", "--db", str(tmp_path / "x.db"))
    assert run.returncode == 2 and run.stderr == check.stderr


def test_config_typo_is_reported_with_its_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("database: x.db\nevaluate_evry: 1m\n", encoding="utf-8")
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 2
    assert f"{config}:2: evaluate_evry: found unknown field 'evaluate_evry'" in result.stderr


def test_incidents_and_incident_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "i.db")
    store = open_store(db)
    clock, source = FakeClock(), FakeSource("complaints")
    engine = make_engine(store, clock, source, RecordingNotifier())
    open_incident(engine, clock, source)
    store.close()

    assert main(["incidents", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "#1" in out and "open" in out and "产品质量投诉激增" in out

    assert main(["incidents", "--db", db, "--json"]) == 0
    data = json.loads(capsys.readouterr().out.splitlines()[0])
    assert data["playbook"] == "product_quality" and data["checklist"]

    assert main(["incident", "show", "1", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "checklist for incident #1" in out and "opened" in out

    assert main(["incident", "show", "99", "--db", db]) == 2
    assert "no incident 99" in capsys.readouterr().err


def test_daemon_py_is_the_same_as_crisismon() -> None:
    result = run_cli("--help")
    assert result.returncode == 0 and "crisismon" in result.stdout and "check" in result.stdout


def test_incident_review_writes_markdown_with_the_metric_chart(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    store = open_store(db)
    clock, source = FakeClock(), FakeSource("complaints")
    engine = make_engine(store, clock, source, RecordingNotifier())
    open_incident(engine, clock, source)
    store.close()
    out = tmp_path / "review.md"
    assert main(["incident", "review", "1", "--db", db, "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Post-incident review: #1") and "![metric chart](review.png)" in text
    assert (tmp_path / "review.png").read_bytes().startswith(b"\x89PNG")


def test_the_example_config_and_roster_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(ROOT / "examples" / "crisismon.yaml")]) == 0
    assert "3 source(s)" in capsys.readouterr().out


def test_check_validates_the_roster(tmp_path: Path) -> None:
    roster = tmp_path / "roster.yaml"
    roster.write_text("people:\n  - {name: 王芳, roles: [crisis_lead]}\n  - {name: 李强, roles: [qualty]}\n", "utf-8")
    config = tmp_path / "c.yaml"
    config.write_text("roster: roster.yaml\n", encoding="utf-8")
    result = run_cli("check", "--config", str(config))
    assert result.returncode == 2
    assert f"{roster}:3: people.1: found qualty, expected roles among crisis_lead" in result.stderr
