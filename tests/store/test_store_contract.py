"""The store contract: what every backend (SQLite, PostgreSQL) must do the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.detect.state import RuleState
from monitor.errors import InvalidOperation, NotFound
from monitor.models import (
    ChecklistEntry,
    Evidence,
    IncidentStatus,
    Item,
    Receipt,
    ScoredItem,
    SignalState,
    TopItem,
)
from monitor.store import DuplicateIncident, SqlStore, open_store
from monitor.store.schema import LATEST

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def scored(
    id_: str,
    minutes: int = 0,
    *,
    source: str = "weibo",
    text: str = "暖居 X3 电暖器起火了",
    sentiment: float | None = 0.1,
    category: str | None = "product_quality",
) -> ScoredItem:
    item = Item(
        source=source,
        id=id_,
        text=text,
        published_at=T0 + timedelta(minutes=minutes),
        title=f"标题 {id_}",
        url=f"https://example.com/{id_}",
        category=category,
        attrs={"product": "暖居 X3", "region": "华东"},
    )
    return ScoredItem(item=item, sentiment=sentiment, category=category, lang="zh")


def checklist() -> list[ChecklistEntry]:
    return [
        ChecklistEntry(
            "confirm-scope",
            "assess",
            "评估",
            "核实受影响批次",
            "Confirm scope",
            "quality",
            T0 + timedelta(minutes=30),
        ),
        ChecklistEntry("safety-first", "assess", "评估", "暂停销售", "Stop sales", "crisis_lead", T0),
        ChecklistEntry("holding", "respond", "回应", "发布声明", "Holding statement", "pr", T0 + timedelta(hours=1)),
    ]


def open_one(store: SqlStore, *, rule: str = "quality", group: str = "product=X3", at: datetime = T0) -> int:
    incident = store.open_incident(
        rule_id=rule,
        group=group,
        playbook="product_quality",
        title="产品质量投诉激增",
        severity="high",
        at=at,
        evidence=[Evidence("spike", "negative_count", 42.0, "1h", baseline=5.0, ratio=8.4)],
        top_items=[TopItem("weibo", "起火", "暖居 X3 起火", T0, "https://example.com/1", 0.02)],
        checklist=checklist(),
    )
    return incident.id


# -- items -------------------------------------------------------------------------------


def test_items_are_stored_once_and_counted_once(store: SqlStore) -> None:
    batch = [scored("a", 1), scored("b", 2)]
    assert store.add_items(batch, T0) == 2
    assert store.add_items([*batch, scored("c", 3)], T0) == 1
    assert store.item_count() == 3


def test_a_large_batch_stores_only_its_new_items_each_once_as_they_went_in(store: SqlStore) -> None:
    # PostgreSQL copies batches of 50 and more in (COPY), smaller ones are inserted
    odd = "tab\there, line\nbreak, back\\slash, \\N, quote ' \" 🔥 — 起火"
    first = [scored(f"b{n}", n % 50, text=odd if n % 7 == 0 else f"第 {n} 条", sentiment=None if n % 5 else 0.2)
             for n in range(120)]  # fmt: skip
    assert store.add_items(first, T0) == 120
    again = [*first[60:], *(scored(f"c{n}", n % 50) for n in range(80)), scored("c1", 1), scored("c1", 1)]
    assert store.add_items(again, T0) == 80  # the 60 stored already and a duplicate inside the batch: skipped
    assert store.item_count() == 200
    stored = store.items_between(None, T0 - timedelta(minutes=1), T0 + timedelta(hours=1))
    assert sorted(stored, key=lambda s: s.item.id) == sorted([*first, *again[60:140]], key=lambda s: s.item.id)


def test_the_same_id_from_another_source_is_another_item(store: SqlStore) -> None:
    assert store.add_items([scored("a", source="weibo"), scored("a", source="news")], T0) == 2


def test_known_ids_names_only_stored_ids_of_that_source(store: SqlStore) -> None:
    store.add_items([scored("a"), scored("b"), scored("z", source="news")], T0)
    assert store.known_ids("weibo", ["a", "a", "c", "z"]) == {"a"}
    assert store.known_ids("weibo", []) == set()


def test_known_ids_handles_more_ids_than_one_query_takes(store: SqlStore) -> None:
    store.add_items([scored(f"id-{n}") for n in range(0, 1200, 2)], T0)
    found = store.known_ids("weibo", [f"id-{n}" for n in range(1200)])
    assert found == {f"id-{n}" for n in range(0, 1200, 2)}


def test_items_between_is_start_exclusive_end_inclusive_oldest_first(store: SqlStore) -> None:
    store.add_items([scored("late", 20), scored("start", 0), scored("mid", 10), scored("end", 15)], T0)
    got = store.items_between(None, T0, T0 + timedelta(minutes=15))
    assert [s.item.id for s in got] == ["mid", "end"]


def test_items_between_filters_by_source(store: SqlStore) -> None:
    store.add_items([scored("w", 1), scored("n", 2, source="news"), scored("c", 3, source="complaints")], T0)
    window = (T0, T0 + timedelta(hours=1))
    assert [s.item.id for s in store.items_between(["news", "complaints"], *window)] == ["n", "c"]
    assert [s.item.id for s in store.items_between([], *window)] == ["w", "n", "c"]
    assert store.items_between(["nowhere"], *window) == []


def test_items_come_back_as_they_went_in(store: SqlStore) -> None:
    full = scored("full", 5)
    bare = ScoredItem(
        item=Item(
            source="complaints",
            id="count-1",
            text="",
            published_at=T0 + timedelta(minutes=6),
            kind="count",
            count=17,
        ),
        sentiment=None,
        category=None,
        lang="und",
    )
    store.add_items([full, bare], T0)
    assert store.items_between(None, T0, T0 + timedelta(hours=1)) == [full, bare]


# -- rule state --------------------------------------------------------------------------


def test_rule_state_is_upserted_per_rule_and_group(store: SqlStore) -> None:
    pending = RuleState(SignalState.PENDING, pending_since=T0, last_true_at=T0)
    firing = RuleState(SignalState.FIRING, T0, T0 + timedelta(minutes=10), T0 + timedelta(minutes=10), "high")
    store.put_rule_state("quality", "product=X3", pending)
    store.put_rule_state("quality", "product=Y1", pending)
    store.put_rule_state("other", "", pending)
    store.put_rule_state("quality", "product=X3", firing)
    assert store.rule_states("quality") == {"product=X3": firing, "product=Y1": pending}
    assert store.rule_states("other") == {"": pending}
    assert store.rule_states("unknown") == {}


def test_an_inactive_rule_state_is_forgotten(store: SqlStore) -> None:
    store.put_rule_state("quality", "g", RuleState(SignalState.FIRING, T0, T0, T0, "high"))
    store.put_rule_state("quality", "g", RuleState())
    store.put_rule_state("quality", "never-stored", RuleState())
    assert store.rule_states("quality") == {}


# -- incidents ---------------------------------------------------------------------------


def test_open_incident_stores_everything_with_its_checklist_in_order(store: SqlStore) -> None:
    incident = store.incident(open_one(store))
    assert (incident.rule_id, incident.group, incident.playbook, incident.severity) == (
        "quality",
        "product=X3",
        "product_quality",
        "high",
    )
    assert incident.status == IncidentStatus.OPEN
    assert incident.opened_at == incident.updated_at == T0
    assert (incident.resolved_at, incident.closed_at, incident.acknowledged_by) == (None, None, None)
    assert incident.evidence == (Evidence("spike", "negative_count", 42.0, "1h", baseline=5.0, ratio=8.4),)
    assert incident.top_items == (TopItem("weibo", "起火", "暖居 X3 起火", T0, "https://example.com/1", 0.02),)
    assert incident.checklist == tuple(checklist())
    assert store.active_incident("quality", "product=X3") == incident
    assert store.incidents() == store.incidents(active_only=True) == [incident]


def test_incident_ids_grow_and_unknown_ids_are_not_found(store: SqlStore) -> None:
    first, second = open_one(store, group="a"), open_one(store, group="b")
    assert second > first
    assert [i.id for i in store.incidents()] == [first, second]
    with pytest.raises(NotFound):
        store.incident(second + 100)


def test_update_signal_changes_severity_and_evidence(store: SqlStore) -> None:
    incident_id = open_one(store)
    later = T0 + timedelta(minutes=20)
    evidence = [Evidence("threshold", "negative_share", 0.8, "1h", op=">=", threshold=0.6)]
    store.update_signal(incident_id, at=later, severity="critical", evidence=evidence, top_items=[])
    incident = store.incident(incident_id)
    assert (incident.severity, incident.updated_at, incident.evidence, incident.top_items) == (
        "critical",
        later,
        tuple(evidence),
        (),
    )
    assert incident.opened_at == T0


def test_status_changes_record_who_and_when(store: SqlStore) -> None:
    incident_id = open_one(store)
    ack, resolved, closed = (T0 + timedelta(minutes=m) for m in (5, 60, 120))
    store.set_status(incident_id, IncidentStatus.ACKNOWLEDGED, ack, by="U123")
    assert store.incident(incident_id).acknowledged_by == "U123"
    store.set_status(incident_id, IncidentStatus.RESOLVED, resolved)
    incident = store.incident(incident_id)
    assert (incident.status, incident.resolved_at, incident.updated_at) == (
        IncidentStatus.RESOLVED,
        resolved,
        resolved,
    )
    assert store.active_incident("quality", "product=X3") is None
    assert store.incidents(active_only=True) == []
    store.set_status(incident_id, IncidentStatus.CLOSED, closed)
    assert store.incident(incident_id).closed_at == closed


def test_one_active_incident_per_rule_and_group(store: SqlStore) -> None:
    first = open_one(store)
    with pytest.raises(DuplicateIncident) as raised:
        open_one(store)
    assert (raised.value.rule_id, raised.value.group) == ("quality", "product=X3")
    assert [i.id for i in store.incidents()] == [first]
    assert store.incident(first).checklist == tuple(checklist())
    assert open_one(store, group="product=Y1") != first
    assert open_one(store, rule="other") != first


def test_a_new_incident_can_open_once_the_last_one_is_resolved(store: SqlStore) -> None:
    first = open_one(store)
    store.set_status(first, IncidentStatus.STABLE, T0)
    with pytest.raises(DuplicateIncident):
        open_one(store)
    store.set_status(first, IncidentStatus.RESOLVED, T0 + timedelta(hours=1))
    second = open_one(store, at=T0 + timedelta(hours=2))
    assert store.active_incident("quality", "product=X3") == store.incident(second)


def test_a_lost_race_leaves_the_enclosing_transaction_usable(store: SqlStore) -> None:
    first = open_one(store)
    with store.transaction():
        store.add_timeline(first, T0, "system", "before", {})
        with pytest.raises(DuplicateIncident):
            open_one(store)
        store.add_timeline(first, T0, "system", "after", {})
    assert [e.kind for e in store.timeline(first)] == ["before", "after"]
    assert len(store.incidents()) == 1


def test_a_lost_race_rolls_back_the_whole_transaction_it_escapes(store: SqlStore) -> None:
    first = open_one(store)
    with pytest.raises(DuplicateIncident), store.transaction():
        store.add_timeline(first, T0, "system", "before", {})
        open_one(store)
    assert store.timeline(first) == []
    store.add_timeline(first, T0, "system", "later", {})  # the connection is fine afterwards
    assert [e.kind for e in store.timeline(first)] == ["later"]


def test_checklist_items_are_done_and_undone(store: SqlStore) -> None:
    incident_id = open_one(store)
    done_at = T0 + timedelta(minutes=7)
    store.set_item_done(incident_id, "safety-first", at=done_at, by="U42")
    entries = {e.item_id: e for e in store.incident(incident_id).checklist}
    assert (entries["safety-first"].done_at, entries["safety-first"].done_by) == (done_at, "U42")
    assert entries["confirm-scope"].done_at is None
    store.set_item_done(incident_id, "safety-first", at=None, by=None)
    assert store.incident(incident_id).checklist == tuple(checklist())


def test_an_unknown_checklist_item_is_an_invalid_operation_naming_the_real_ones(store: SqlStore) -> None:
    incident_id = open_one(store)
    expected = r"no checklist item 'nope'.*confirm-scope, safety-first, holding"
    with pytest.raises(InvalidOperation, match=expected):
        store.set_item_done(incident_id, "nope", at=T0, by="U1")
    with pytest.raises(NotFound):
        store.set_item_done(incident_id + 100, "safety-first", at=T0, by="U1")


# -- timeline ----------------------------------------------------------------------------


def test_timeline_keeps_order_and_details(store: SqlStore) -> None:
    incident_id, other = open_one(store), open_one(store, group="other")
    store.add_timeline(incident_id, T0, "system", "opened", {"severity": "high", "evidence": ["负面 x8"]})
    store.add_timeline(other, T0, "system", "opened", {})
    store.add_timeline(incident_id, T0, "U1", "acknowledged", {"at": T0})  # not JSON: stored as text
    entries = store.timeline(incident_id)
    assert [(e.actor, e.kind) for e in entries] == [("system", "opened"), ("U1", "acknowledged")]
    assert entries[0].detail == {"severity": "high", "evidence": ["负面 x8"]}
    assert entries[1].detail == {"at": str(T0)}
    assert entries[0].at == T0


# -- outbox ------------------------------------------------------------------------------


def test_pending_messages_go_out_in_queue_order_per_destination(store: SqlStore) -> None:
    incident_id = open_one(store)
    alert = store.enqueue("slack", "alert", {"text": "告警"}, now=T0, incident_id=incident_id)
    store.enqueue("console", "alert", {"text": "告警"}, now=T0, incident_id=incident_id)
    reply = store.enqueue("slack", "update", {"text": "更新"}, now=T0, incident_id=incident_id, thread_of=alert)
    edit = store.enqueue("slack", "alert", {"text": "改"}, now=T0, incident_id=incident_id, update_of=alert)
    pending = store.pending_messages("slack")
    assert [m.id for m in pending] == [alert, reply, edit]
    assert (pending[0].payload, pending[0].kind, pending[0].incident_id, pending[0].attempts) == (
        {"text": "告警"},
        "alert",
        incident_id,
        0,
    )
    assert (pending[1].thread_of, pending[2].update_of) == (alert, alert)
    assert store.next_attempt_at(alert) == T0
    assert store.outbox_counts() == {"pending": 4}


def test_a_sent_message_leaves_the_queue_with_its_remote_ref(store: SqlStore) -> None:
    first = store.enqueue("slack", "admin", {"text": "hi"}, now=T0)
    second = store.enqueue("slack", "admin", {"text": "again"}, now=T0)
    assert store.message_ref(first) == (None, "pending")
    store.mark_sent(first, Receipt(ref="1714550400.000100", channel="C1"), T0)
    assert store.message_ref(first) == ("1714550400.000100", "sent")
    assert [m.id for m in store.pending_messages("slack")] == [second]
    assert store.outbox_counts() == {"pending": 1, "sent": 1}
    assert store.messages()[0][0].attempts == 1


def test_a_failed_message_is_retried_later_or_given_up(store: SqlStore) -> None:
    retried = store.enqueue("slack", "admin", {"text": "1"}, now=T0)
    dropped = store.enqueue("slack", "admin", {"text": "2"}, now=T0)
    retry_at = T0 + timedelta(seconds=30)
    store.mark_failed(retried, "ratelimited", retry_at=retry_at)
    store.mark_failed(dropped, "channel_not_found", retry_at=None)
    pending = store.pending_messages("slack")
    assert [(m.id, m.attempts) for m in pending] == [(retried, 1)]
    assert store.next_attempt_at(retried) == retry_at
    assert store.message_ref(dropped) == (None, "failed")
    assert store.outbox_counts() == {"pending": 1, "failed": 1}


def test_first_message_and_messages_of_an_incident(store: SqlStore) -> None:
    incident_id, other = open_one(store), open_one(store, group="other")
    assert store.first_message(incident_id, "slack", "alert") is None
    alert = store.enqueue("slack", "alert", {}, now=T0, incident_id=incident_id)
    store.enqueue("slack", "alert", {}, now=T0, incident_id=incident_id, update_of=alert)
    store.enqueue("slack", "alert", {}, now=T0, incident_id=other)
    assert store.first_message(incident_id, "slack", "alert") == alert
    assert store.first_message(incident_id, "console", "alert") is None
    assert [(m.id, status) for m, status in store.messages(incident_id)] == [
        (alert, "pending"),
        (alert + 1, "pending"),
    ]
    assert len(store.messages()) == 3


def test_unknown_messages_are_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound):
        store.message_ref(999)
    with pytest.raises(NotFound):
        store.next_attempt_at(999)


# -- sources -----------------------------------------------------------------------------


def test_record_fetch_counts_successes_failures_and_items(store: SqlStore) -> None:
    t1, t2, t3 = (T0 + timedelta(minutes=m) for m in (1, 2, 3))
    store.record_fetch("weibo", T0, error=None, items=5)
    store.record_fetch("weibo", t1, error="HTTP 503", items=0)
    store.record_fetch("weibo", t2, error="timeout", items=2)
    store.record_fetch("complaints", t3, error=None, items=1)
    complaints, weibo = store.source_health()
    assert (weibo.name, weibo.last_attempt, weibo.last_success) == ("weibo", t2, T0)
    assert (weibo.last_error, weibo.last_error_at) == ("timeout", t2)
    assert (weibo.consecutive_failures, weibo.total_failures, weibo.items_total) == (2, 2, 7)
    store.record_fetch("weibo", t3, error=None, items=1)
    weibo = store.source_health()[1]
    assert (weibo.consecutive_failures, weibo.total_failures, weibo.items_total, weibo.last_success) == (
        0,
        2,
        8,
        t3,
    )
    assert (complaints.name, complaints.last_error, complaints.items_total) == ("complaints", None, 1)


def test_source_data_round_trips_without_touching_health(store: SqlStore) -> None:
    assert store.source_data("weibo") == {}
    store.record_fetch("weibo", T0, error=None, items=3)
    store.put_source_data("weibo", {"etag": 'W/"abc"', "cursor": 42, "seen": ["一", "二"]})
    store.put_source_data("fresh", {"since": "2024-05-01"})
    assert store.source_data("weibo") == {"etag": 'W/"abc"', "cursor": 42, "seen": ["一", "二"]}
    assert store.source_data("fresh") == {"since": "2024-05-01"}
    assert store.source_health()[1].items_total == 3
    store.put_source_data("weibo", {})
    assert store.source_data("weibo") == {}


# -- schema and transactions -------------------------------------------------------------


def test_a_new_store_is_at_the_latest_schema_and_upgrade_is_idempotent(store: SqlStore, db_url: str) -> None:
    assert store.schema_version() == LATEST
    assert store.upgrade() == 0
    again = open_store(db_url)
    try:
        assert again.schema_version() == LATEST
        assert again.upgrade() == 0
    finally:
        again.close()


def test_an_empty_database_is_at_version_zero(db_url: str) -> None:
    empty = open_store(db_url, upgrade=False)
    try:
        assert empty.schema_version() == 0
        assert empty.schema_version() == 0  # asking twice leaves the connection usable
        assert empty.upgrade() == LATEST
        assert empty.schema_version() == LATEST
    finally:
        empty.close()


def test_a_failing_transaction_leaves_nothing_behind(store: SqlStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_items([scored("a")], T0)
        open_one(store)
        store.enqueue("slack", "admin", {}, now=T0)
        raise RuntimeError("crash between writes")
    assert (store.item_count(), store.incidents(), store.outbox_counts()) == (0, [], {})


def test_changes_are_visible_to_another_connection(store: SqlStore, db_url: str) -> None:
    incident_id = open_one(store)
    other = open_store(db_url)
    try:
        assert other.incident(incident_id) == store.incident(incident_id)
        with pytest.raises(DuplicateIncident):
            open_one(other)
    finally:
        other.close()
