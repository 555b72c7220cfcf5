"""Intake on a connection of its own (PostgreSQL: ``crisismon run`` opens two): it never waits
for an evaluation, it waits for a rebuild forgetting a rule's old hits, and hits and hourly
sums stay exact while it writes during rebuilds (on SQLite the daemon keeps one connection:
the same test runs through it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from monitor.detect.hits import HitBook
from monitor.models import FetchResult
from monitor.store import SqlStore, is_postgres_url, open_store
from monitor.testing import FakeClock
from tests.store.test_hits_contract import assert_same_as_matching
from tests.store.test_hours_contract import RULES, ingestor, items, rule, stored_hours, summed_hits

CUT = 0.3


@pytest.fixture
def intake(db_url: str, store: SqlStore) -> Iterator[SqlStore]:
    """What the daemon ingests through: a second connection on PostgreSQL, the store on SQLite."""
    if not is_postgres_url(db_url):
        yield store
        return
    second = open_store(db_url, upgrade=False)
    yield second
    second.close()


def ingest_in_thread(intake: SqlStore, clock: FakeClock, prefix: str) -> threading.Thread:
    book = HitBook(intake, lambda: RULES, CUT)
    batch = items(clock, prefix, 0, 20, timedelta(minutes=30))
    thread = threading.Thread(
        target=lambda: ingestor(intake, book).ingest("complaints", FetchResult(items=batch), clock.now()),
        daemon=True,
    )
    thread.start()
    return thread


def test_intake_waits_for_no_evaluation_only_for_a_rebuild_forgetting_hits(
    db_url: str, store: SqlStore, intake: SqlStore
) -> None:
    if intake is store:
        pytest.skip("SQLite: the daemon ingests and evaluates through one connection (one writer)")
    clock = FakeClock()
    HitBook(store, lambda: RULES, CUT).ensure(RULES, clock.now())
    with store.transaction():  # an evaluation reading and writing rule states meanwhile
        store.rule_states(RULES[0].id)
        store.put_detector_states(RULES[0].id, {("g", "spec"): {"x": 1}}, clock.now())
        thread = ingest_in_thread(intake, clock, "a")
        thread.join(timeout=10)
        assert not thread.is_alive(), "intake waited for the evaluation's transaction"
    with store.transaction():
        store.lock_hits(exclusive=True)  # a rebuild forgetting the old hits of an edited rule
        thread = ingest_in_thread(intake, clock, "b")
        thread.join(timeout=0.5)
        assert thread.is_alive(), "intake stored hits while the rebuild was forgetting them"
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert_same_as_matching(store, HitBook(store, lambda: RULES, CUT), RULES, clock)


def test_hits_and_sums_stay_exact_while_intake_writes_during_rebuilds(store: SqlStore, intake: SqlStore) -> None:
    clock = FakeClock()
    rules = list(RULES)
    book = HitBook(store, lambda: rules, CUT)
    book.ensure(rules, clock.now())
    ingestor(intake, HitBook(intake, lambda: rules, CUT)).ingest(
        "complaints", FetchResult(items=items(clock, "h", 0, 600, timedelta(days=2))), clock.now()
    )
    stop = threading.Event()
    failures: list[BaseException] = []

    def keep_ingesting() -> None:
        intake_book = HitBook(intake, lambda: rules, CUT)
        n = 0
        try:
            while not stop.is_set():
                batch = items(clock, f"live{n}-", 0, 15, timedelta(hours=3))
                ingestor(intake, intake_book).ingest("complaints", FetchResult(items=batch), clock.now())
                n += 1
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    writer = threading.Thread(target=keep_ingesting, daemon=True)
    writer.start()
    try:
        for keywords in (["电暖器"], ["起火", "天气"], ["电暖器", "起火", "天气"]):  # an edit: hits and sums rebuilt
            condition = {"threshold": {"metric": "count", "op": ">=", "value": 20}}
            rules[0] = rule("count-7h", condition, window="7h", match={"keywords_any": keywords})
            book.ensure(rules, clock.now())
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not failures, failures
    final = HitBook(store, lambda: rules, CUT)  # a restart: nothing to rebuild
    final.ensure(rules, clock.now())
    assert_same_as_matching(store, final, rules, clock)
    for r in rules:
        assert stored_hours(store, r.id) == summed_hits(store, r.id, CUT), r.id
