"""`crisismon db upgrade|status`, and how a PostgreSQL URL is opened (or refused)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli.db import main
from monitor.store import open_store, redact_url
from monitor.store.schema import LATEST

ROOT = Path(__file__).resolve().parents[2]


def run(
    *args: str, env: dict[str, str] | None = None, module: str = "monitor.cli.db"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_upgrade_then_status_in_a_subprocess(db_url: str) -> None:
    fresh = run("upgrade", "--db", db_url)
    assert fresh.returncode == 0, fresh.stderr
    assert f"schema version 0 -> {LATEST} ({LATEST} migration(s) applied)" in fresh.stdout
    again = run("upgrade", env={"CRISISMON_DB": db_url})
    assert again.returncode == 0, again.stderr
    assert f"schema version {LATEST} -> {LATEST} (0 migration(s) applied)" in again.stdout
    status = run("status", "--db", db_url)
    assert (status.returncode, status.stderr) == (0, "")
    assert "up to date" in status.stdout


def test_crisismon_db_upgrade_through_daemon_py(db_url: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "daemon.py"), "db", "upgrade", "--db", db_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "invalid choice: 'db'" in done.stderr:
        pytest.skip("monitor.cli.main does not register the `db` command yet (monitor.cli.db.register)")
    assert done.returncode == 0, done.stderr
    assert f"schema version 0 -> {LATEST}" in done.stdout


def test_status_of_an_old_database_asks_for_an_upgrade(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    open_store(db_url, upgrade=False).close()
    assert main(["status", "--db", db_url]) == 2
    assert f"schema version 0, latest {LATEST}: run `crisismon db upgrade`" in capsys.readouterr().out
    store = open_store(db_url, upgrade=False)
    try:
        assert store.schema_version() == 0  # status changed nothing
    finally:
        store.close()


def test_an_unreachable_server_is_an_error_message_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql://crisismon:s3cret@127.0.0.1:1/crisismon?connect_timeout=5"
    pytest.importorskip("psycopg")
    assert main(["upgrade", "--db", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open PostgreSQL database postgresql://crisismon:***@127.0.0.1:1/crisismon")
    assert "s3cret" not in err


def test_without_psycopg_a_postgres_url_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    monkeypatch.delitem(sys.modules, "monitor.store.postgres", raising=False)
    for url in ("postgresql://u:pw@db.example/crisismon", "postgres://u:pw@db.example/crisismon"):
        with pytest.raises(ImportError, match=r"pip install 'crisismon\[postgres\]'") as raised:
            open_store(url)
        assert "pw" not in str(raised.value)


def test_a_bad_config_file_is_reported_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "crisismon.yaml"
    config.write_text("databse: x.db\n")
    assert main(["status", "--config", str(config)]) == 2
    assert "databse" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db?sslmode=require", "postgresql://u:***@h:5432/db?sslmode=require"),
        ("postgres://u@h/db", "postgres://u@h/db"),
        ("postgresql:///db?host=/run/pg&password=pw", "postgresql:///db?host=/run/pg&password=***"),
        ("postgresql://u:p@ss@[::1]/db", "postgresql://u:***@[::1]/db"),
        ("/var/lib/crisismon/crisismon.db", "/var/lib/crisismon/crisismon.db"),
    ],
)
def test_redact_url_hides_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown
