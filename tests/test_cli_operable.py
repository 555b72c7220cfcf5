"""The command line as an operator meets it: clear one-line errors, no stray databases, relative paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config.settings import load_config
from monitor.sentiment.bayes import Bayes


@pytest.mark.parametrize(
    "argv",
    [["incidents"], ["incident", "show", "1"], ["sources"], ["incident", "review", "1"], ["incident", "ack", "1"]],
)
def test_read_only_commands_never_create_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRISISMON_DB", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no database at crisismon.db: pass --db or --config")
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_database_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    assert main(["incidents", "--db", "postgresql://nobody@127.0.0.1:9/none"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot open PostgreSQL database postgresql://nobody@127.0.0.1:9/none: ")
    assert "\n" not in err


def test_the_scoring_model_is_found_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    Bayes.train([(["好"], "pos"), (["差"], "neg")]).save(tmp_path / "models" / "mine.marshal")
    (tmp_path / "crisismon.yaml").write_text("scoring: {model: models/mine.marshal}\n", encoding="utf-8")
    assert load_config(tmp_path / "crisismon.yaml").scoring.model == str(tmp_path / "models" / "mine.marshal")


def test_a_missing_scoring_model_fails_check_not_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "crisismon.yaml"
    config.write_text("database: x.db\nscoring:\n  model: models/missing.marshal\n", encoding="utf-8")
    assert main(["check", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}:3: scoring.model: found {tmp_path / 'models' / 'missing.marshal'}" in err


def test_a_port_in_use_is_one_line_naming_the_address(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from .conftest import ROOT

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "c.yaml"
        (tmp_path / "rules").mkdir()
        config.write_text(
            f"database: x.db\nrules_dir: rules\nscoring: {{workers: 0}}\nhttp: {{listen: '127.0.0.1:{port}'}}\n",
            "utf-8",
        )
        done = subprocess.run(
            [sys.executable, str(ROOT / "daemon.py"), "run", "--once", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"error: cannot listen on 127.0.0.1:{port} (http.listen): Address already in use"
    assert "Traceback" not in done.stderr
