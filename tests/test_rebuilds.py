"""Background rebuilds of edited rules (``monitor.detect.rebuilds``): a short one is waited for,
a failed one is said and started again at the next round."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from monitor.detect.hits import HitBook
from monitor.detect.rebuilds import Rebuilds
from monitor.models import FetchResult
from monitor.store import DatabaseUnavailable, SqlStore
from monitor.testing import FakeClock
from tests.store.test_hits_contract import RULES, ingestor, items


def test_a_short_rebuild_is_waited_for_and_the_round_evaluates_every_rule(store: SqlStore) -> None:
    clock = FakeClock()
    book = HitBook(store, lambda: RULES, 0.3)
    ingestor(store, book).ingest("complaints", FetchResult(items=items(clock, 0, 60)), clock.now())
    assert Rebuilds(book).ready(RULES, clock.now()) == RULES
    assert all(book.ready(rule, clock.now()) for rule in RULES)


def test_a_failed_rebuild_is_said_and_started_again_at_the_next_round(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    book = HitBook(store, lambda: RULES, 0.3)
    rebuild = book.rebuild
    failures = [DatabaseUnavailable("database at store.db: disk I/O error")]

    def flaky(*args: Any) -> None:
        if failures:
            raise failures.pop()
        rebuild(*args)

    book.rebuild = flaky  # type: ignore[method-assign]
    caplog.set_level(logging.INFO, logger="monitor.detect.rebuilds")
    rebuilds = Rebuilds(book)
    assert rebuilds.ready(RULES, clock.now()) == []  # nothing evaluated on hits half rebuilt
    assert any("failed; it starts again at the next round" in r.getMessage() for r in caplog.records)
    assert rebuilds.ready(RULES, clock.now()) == RULES
