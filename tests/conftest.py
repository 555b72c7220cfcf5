from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config.playbooks import Playbook, load_playbooks
from monitor.store import SqlStore, open_store

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

# The sentiment tables' cache (monitor.sentiment.tablecache) is this session's own, shared by
# the CLI runs it starts, and removed at the end: tests never read or fill ~/.cache/crisismon.
SESSION_CACHE = tempfile.mkdtemp(prefix="crisismon-test-cache-")
os.environ["CRISISMON_CACHE_DIR"] = SESSION_CACHE


@pytest.fixture(scope="session", autouse=True)
def _session_cache() -> Iterator[None]:
    yield
    shutil.rmtree(SESSION_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test running the CLI in-process configures the root logger (a handler on the
    standard error pytest captured and then closes, and a level): put it back as it was, so
    that later tests neither log to a closed stream nor see other loggers' INFO records."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


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
