"""Retention on both backends: what goes (items, their hits, old stories, finished outbox rows of
inactive incidents), what stays (incidents, timelines, evidence, what an active review reads),
and a pruning run killed halfway leaves every item with its hits."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

from monitor.config.rules import Rule
from monitor.detect.hits import HitBook, MatchedHits
from monitor.models import FetchResult, IncidentStatus, Item, Receipt
from monitor.runtime.ingest import Ingestor
from monitor.runtime.metrics import Metrics
from monitor.store import SqlStore, open_store
from monitor.store.prune import cutoff_for, plan, prune, retention_for
from monitor.testing import FakeClock, FakeScorer
from monitor.text.classify import KeywordClassifier

RULE = Rule.model_validate(
    {
        "id": "quality",
        "description": "test",
        "playbook": "product_quality",
        "match": {"keywords_any": ["坏"]},
        "condition": {"threshold": {"metric": "count", "value": 2}},
    }
)


def fill(store: SqlStore, clock: FakeClock, days: int, per_day: int = 12) -> HitBook:
    """``per_day`` items a day for ``days`` days up to now, half of them counted by RULE."""
    book = HitBook(store, lambda: [RULE])
    ingest = Ingestor(store, FakeScorer(), KeywordClassifier.default(), Metrics())
    ingest.hits = book
    book.ensure([RULE], clock.now())  # built before the items came, as in a running daemon
    items = [
        Item(
            source="complaints",
            id=f"c-{d}-{i}",
            text=f"{'坏了' if i % 2 else '很好'}，第{d}天第{i}条",
            published_at=clock.now() - timedelta(days=d, hours=i * 24 / per_day),
            kind="complaint",
        )
        for d in range(days)
        for i in range(per_day)
    ]
    ingest.ingest("complaints", FetchResult(items=items), clock.now())
    return book


def counts(store: SqlStore) -> tuple[int, int]:
    items = store._one("SELECT COUNT(*) FROM items")
    hits = store._one("SELECT COUNT(*) FROM rule_hits")
    assert items is not None and hits is not None
    return int(items[0]), int(hits[0])


def orphans(store: SqlStore) -> tuple[int, int]:
    """(hits without their item, counted items without their hit)."""
    lost = store._one(
        "SELECT COUNT(*) FROM rule_hits h WHERE NOT EXISTS "
        "(SELECT 1 FROM items i WHERE i.source = h.source AND i.id = h.item_id)"
    )
    bare = store._one(
        "SELECT COUNT(*) FROM items i WHERE i.text LIKE '坏%' AND NOT EXISTS "
        "(SELECT 1 FROM rule_hits h WHERE h.source = i.source AND h.item_id = i.id)"
    )
    assert lost is not None and bare is not None
    return int(lost[0]), int(bare[0])


def test_retention_defaults_to_the_longest_lookback_plus_a_day_and_at_least_30_days() -> None:
    assert retention_for(None, [RULE]) == timedelta(days=30)
    long = RULE.model_copy(update={"window": timedelta(days=40)})
    assert retention_for(None, [long]) == timedelta(days=41)
    assert retention_for(timedelta(days=90), [long]) == timedelta(days=90)


def test_prune_removes_old_items_with_their_hits_and_keeps_incidents(store: SqlStore) -> None:
    clock = FakeClock()
    book = fill(store, clock, days=10)
    old = store.open_incident(
        rule_id="quality", group="", playbook="product_quality", title="old", severity="high",
        at=clock.now() - timedelta(days=9), evidence=(), top_items=(), checklist=(),
    )  # fmt: skip
    store.add_timeline(old.id, clock.now() - timedelta(days=9), "crisismon", "opened", {})
    sent = store.enqueue("console", "alert", {"text": "old"}, now=clock.now() - timedelta(days=9), incident_id=old.id)
    store.mark_sent(sent, Receipt("r1"), clock.now() - timedelta(days=9))
    waiting = store.enqueue("console", "alert", {"text": "waits"}, now=clock.now() - timedelta(days=9))
    store.set_status(old.id, IncidentStatus.CLOSED, clock.now() - timedelta(days=8))
    cutoff = cutoff_for(store, timedelta(days=5), [RULE], clock.now())
    assert cutoff == clock.now() - timedelta(days=5)

    planned = plan(store, cutoff)
    assert counts(store) == (120, 60)  # the dry run changed nothing
    batches: list[int] = []  # 59: the 60th old item is at the cutoff, which stays
    done = prune(store, cutoff, batch=7, after_batch=lambda p: batches.append(p.items))
    assert (done.items, done.hits, done.outbox) == (planned.items, planned.hits, planned.outbox) == (59, 30, 1)
    assert done.stories == planned.stories > 0
    assert len(batches) >= 60 // 7  # small batches, each its own transaction
    assert counts(store) == (61, 30)
    assert orphans(store) == (0, 0)
    now = clock.now()
    assert book.hits_between(RULE, now - timedelta(days=5), now) == MatchedHits(store).hits_between(
        RULE, now - timedelta(days=5), now
    )
    assert store.incident(old.id).title == "old"
    assert "opened" in [e.kind for e in store.timeline(old.id)]
    assert [m.id for m, _ in store.messages()] == [waiting]  # the pending one stays


def test_prune_forgets_detectors_not_saved_since_the_cutoff(store: SqlStore) -> None:
    clock = FakeClock()
    state = {"edge": 0.0, "fed": 0, "last": None, "run_fired": False, "detector": {}}
    store.put_detector_states("gone", {("", "{}"): state}, clock.now() - timedelta(days=40))  # its rule removed
    store.put_detector_states("kept", {("", "{}"): state}, clock.now() - timedelta(hours=1))
    prune(store, clock.now() - timedelta(days=31))
    assert not store.detector_states("gone")
    assert store.detector_states("kept") == {("", "{}"): state}


def test_an_active_incident_keeps_what_its_review_reads(store: SqlStore) -> None:
    clock = FakeClock()
    fill(store, clock, days=10)
    store.open_incident(
        rule_id="quality", group="", playbook="product_quality", title="ongoing", severity="high",
        at=clock.now() - timedelta(days=8), evidence=(), top_items=(), checklist=(),
    )  # fmt: skip
    cutoff = cutoff_for(store, timedelta(days=5), [RULE], clock.now())
    assert cutoff == clock.now() - timedelta(days=8, hours=6) - RULE.lookback()


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime, UTC
    from monitor.store import open_store
    from monitor.store.prune import prune

    store = open_store(sys.argv[1])
    deletes = 0
    real_exec = store._exec

    def exec_then_die(statement, params=()):
        global deletes
        cur = real_exec(statement, params)
        if statement.startswith("DELETE FROM rule_hits"):
            deletes += 1
            if deletes == 3:  # in the third batch: its hits deleted, its items not yet
                os.kill(os.getpid(), signal.SIGKILL)
        return cur

    store._exec = exec_then_die
    prune(store, datetime.fromtimestamp(float(sys.argv[2]), UTC), batch=10)
    """
)


def test_a_pruning_run_killed_halfway_leaves_every_item_with_its_hits(tmp_path: Path) -> None:
    path = str(tmp_path / "prune.db")
    store = open_store(path)
    clock = FakeClock()
    fill(store, clock, days=10)
    cutoff = clock.now() - timedelta(days=5)
    store.close()
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, path, str(cutoff.timestamp())], capture_output=True, text=True, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    store = open_store(path)
    items, hits = counts(store)
    assert (items, hits) == (100, 50)  # two batches of 10 went (5 counted items each), the third was undone
    assert orphans(store) == (0, 0)
    prune(store, cutoff)  # the next run carries on
    assert counts(store) == (61, 30) and orphans(store) == (0, 0)
    store.close()
