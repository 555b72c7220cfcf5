"""Schema migrations on every backend: a database made by an older crisismon is upgraded in place."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from monitor.models import Item, ScoredItem
from monitor.store import SqlStore, open_store
from monitor.store.schema import MIGRATIONS

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

# What a future release might append: a column with a default, and an index on it.
NEW_STEP = [
    "ALTER TABLE items ADD COLUMN reviewed INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX items_reviewed ON items (reviewed)",
]


def create_version_1(url: str) -> SqlStore:
    """A database as the first release left it: migration 1 applied by hand, version 1."""
    store = open_store(url, upgrade=False)
    with store.transaction():
        store._exec("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statement in MIGRATIONS[0]:
            store._exec(statement.format(autoincrement=store.autoincrement))
        store._exec("INSERT INTO schema_version (version) VALUES (1)")
    return store


def item(id_: str) -> ScoredItem:
    return ScoredItem(Item(source="weibo", id=id_, text="起火", published_at=T0), sentiment=0.1, category=None)


def add_data(store: SqlStore) -> int:
    """Rows as the first release wrote them (its items had no prepared text nor story)."""
    for id_ in ("a", "b"):
        store._exec(
            """INSERT INTO items (source, id, published_at, fetched_at, kind, title, text, url, category, count,
               attrs, sentiment, lang) VALUES ('weibo', ?, ?, ?, 'post', '', '起火', NULL, NULL, 1, '{}', 0.1, 'zh')""",
            (id_, T0.timestamp(), T0.timestamp()),
        )
    with store.transaction():  # read the id before committing
        cur = store._exec(
            """INSERT INTO incidents (rule_id, group_key, playbook, title, status, severity, opened_at, updated_at,
           evidence, top_items) VALUES ('quality', '', 'product_quality', 't', 'open', 'high', ?, ?, '[]', '[]')
           RETURNING id""",
            (T0.timestamp(), T0.timestamp()),
        )
        incident_id = int(cur.fetchone()[0])
    store.enqueue("slack", "alert", {"text": "告警"}, now=T0, incident_id=incident_id)
    return incident_id


def test_upgrade_applies_only_the_new_steps_and_keeps_the_data(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    old = create_version_1(db_url)
    incident_id = add_data(old)
    old.close()
    monkeypatch.setattr("monitor.store.sql.MIGRATIONS", [*MIGRATIONS, NEW_STEP])

    store = open_store(db_url, upgrade=False)
    try:
        assert store.schema_version() == 1
        assert store.upgrade() == len(MIGRATIONS)  # every step after 1, and the new one
        assert store.schema_version() == len(MIGRATIONS) + 1
        assert store.item_count() == 2
        assert store.incident(incident_id).rule_id == "quality"
        assert [m.payload for m in store.pending_messages("slack")] == [{"text": "告警"}]
        assert store._rows("SELECT id, reviewed FROM items ORDER BY id") == [("a", 0), ("b", 0)]
        store.add_items([item("c")], T0)  # the old statements still work on the new schema
        assert store.upgrade() == 0
    finally:
        store.close()


def test_a_failing_step_leaves_the_database_at_the_old_version(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = create_version_1(db_url)
    try:
        add_data(store)
        broken = [NEW_STEP[0], "CREATE INDEX broken ON no_such_table (x)"]
        monkeypatch.setattr("monitor.store.sql.MIGRATIONS", [*MIGRATIONS, broken])
        with pytest.raises(Exception, match="no_such_table"):
            store.upgrade()
        assert store.schema_version() == 1
        assert store.item_count() == 2
        with pytest.raises(Exception, match="reviewed"):  # the first statement was undone too
            store._rows("SELECT reviewed FROM items")
    finally:
        store.close()
    monkeypatch.setattr("monitor.store.sql.MIGRATIONS", [*MIGRATIONS, NEW_STEP])
    fixed = open_store(db_url)
    try:
        assert fixed.schema_version() == len(MIGRATIONS) + 1
    finally:
        fixed.close()


def test_a_database_upgraded_by_a_newer_release_is_not_downgraded(db_url: str) -> None:
    store = open_store(db_url)
    try:
        store._exec("UPDATE schema_version SET version = ?", (len(MIGRATIONS) + 5,))
        assert store.upgrade() == 0
        assert store.schema_version() == len(MIGRATIONS) + 5
    finally:
        store.close()


def test_daemons_upgrading_at_once_apply_each_step_once(db_url: str) -> None:
    stores = [open_store(db_url, upgrade=False) for _ in range(3)]
    applied: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def upgrade(store: SqlStore) -> None:
        start.wait()
        try:
            applied.append(store.upgrade())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=upgrade, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for s in stores:
        s.close()
    assert errors == []
    assert sorted(applied) == [0] * (len(stores) - 1) + [len(MIGRATIONS)]
