from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitor.notify.i18n import Lang
from monitor.store import SqlStore
from monitor.testing import FakeSlackServer

from .world import World


@pytest.fixture
def fake() -> Iterator[FakeSlackServer]:
    with FakeSlackServer() as server:
        yield server


@pytest.fixture
def world(store: SqlStore, fake: FakeSlackServer) -> Iterator[World]:
    w = World(store, fake, lang=Lang("en", "Asia/Shanghai"))
    yield w
    w.close()


@pytest.fixture
def zh_world(store: SqlStore, fake: FakeSlackServer) -> Iterator[World]:
    w = World(store, fake, lang=Lang("zh-CN", "Asia/Shanghai"))
    yield w
    w.close()
