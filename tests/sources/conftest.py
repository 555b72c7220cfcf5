"""Fixtures for the source tests: ``server``, a local HTTP server that misbehaves on request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from feedserver import MisbehavingServer


@pytest.fixture
def server() -> Iterator[MisbehavingServer]:
    srv = MisbehavingServer().start()
    try:
        yield srv
    finally:
        srv.stop()
