from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.playbooks import Playbook, load_playbooks
from monitor.store import SqlStore, open_store

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(str(tmp_path / "test.db"))
    yield s
    s.close()


@pytest.fixture(scope="session")
def playbooks() -> dict[str, Playbook]:
    books, problems = load_playbooks(ROOT / "playbooks")
    assert not problems, problems
    return books
