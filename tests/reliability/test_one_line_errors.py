"""One-line errors everywhere (issue 13, point 9): what failed, where, and what to do; exit 2
for configuration problems, 1 for runtime failures; never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.cli import main

from ..store.conftest import POSTGRES_ENV


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err.strip().splitlines()


def test_a_database_path_that_is_a_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, lines = run(capsys, "incidents", "--db", str(tmp_path))
    assert code == 1 and lines == [
        f"error: cannot open SQLite database {tmp_path}: it is a folder; give the path of a file (new or existing)"
    ]


def test_a_damaged_sqlite_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "crisismon.db"
    path.write_bytes(b"this is not a database, it is a text file\n" * 100)
    code, lines = run(capsys, "sources", "--db", str(path))
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith(f"error: cannot open SQLite database {path}: file is not a database; ")
    assert "restore a backup, or move it away to start empty" in lines[0]


def test_a_database_that_cannot_be_created(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run(capsys, "db", "upgrade", "--db", "/proc/crisismon-test.db")  # a read-only file system
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("error: cannot open SQLite database /proc/crisismon-test.db: unable to open")
    assert "writable by the user running crisismon" in lines[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_a_read_only_database_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    assert main(["incidents", "--db", str(path)]) == 0
    capsys.readouterr()
    path.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        code, lines = run(capsys, "incident", "ack", "1", "--db", str(path))
    finally:
        tmp_path.chmod(0o755)
    assert code in (1, 2) and len(lines) == 1 and str(path) in lines[0]


def test_an_unreachable_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("psycopg")
    url = "postgresql://crisismon:secret@127.0.0.1:1/crisismon"
    code, lines = run(capsys, "incidents", "--db", url)
    assert code == 1 and len(lines) == 1
    line = lines[0]
    assert line.startswith("error: cannot open PostgreSQL database postgresql://crisismon:***@127.0.0.1:1/crisismon: ")
    assert "secret" not in line and "check that PostgreSQL is running and reachable" in line


def test_a_config_path_that_is_a_folder_is_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, lines = run(capsys, "run", "--config", str(tmp_path))
    assert code == 2 and lines == [f"{tmp_path}:1: file: found a folder, expected a YAML file", "1 problem(s) found"]


def test_a_23_digit_incident_id(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["db", "upgrade", "--db", str(tmp_path / "d.db")]) == 0
    capsys.readouterr()
    code, lines = run(capsys, "incident", "show", "99999999999999999999999", "--db", str(tmp_path / "d.db"))
    assert code == 2 and lines == ["error: no incident 99999999999999999999999; `crisismon incidents` lists them"]


@pytest.mark.postgres
def test_a_wrong_postgresql_database_name(capsys: pytest.CaptureFixture[str]) -> None:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip("needs PostgreSQL")
    url = base.rsplit("/", 1)[0] + "/no_such_database_here"
    code, lines = run(capsys, "incidents", "--db", url)
    assert code == 1 and len(lines) == 1 and "no_such_database_here" in lines[0]


def test_a_read_only_database_names_the_file_and_what_to_do(tmp_path: Path) -> None:
    """Read-only as SQLite reports it (the tests may run as root, who writes anyway: query_only)."""
    from monitor.store import DatabaseUnavailable, open_store
    from monitor.testing import FakeClock

    path = tmp_path / "ro.db"
    store = open_store(str(path))
    store._conn.execute("PRAGMA query_only = ON")
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            store.record_fetch("s", FakeClock().now(), error=None, items=1)
    finally:
        store.close()
    assert str(caught.value) == (
        f"SQLite database {path}: attempt to write a readonly database; make the file and its folder "
        "writable by the user running crisismon (or point --db elsewhere)"
    )
