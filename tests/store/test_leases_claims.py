"""Leases and outbox claims: the store's part of sharing work between daemons (both backends)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from monitor.models import Receipt
from monitor.store import SqlStore, open_store

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

TTL = timedelta(seconds=30)


# -- leases ------------------------------------------------------------------------------


def test_a_free_lease_is_taken_and_renewed_by_its_owner_only(store: SqlStore) -> None:
    assert store.try_lease("source:weibo", "a", T0, TTL)
    assert not store.try_lease("source:weibo", "b", T0 + timedelta(seconds=10), TTL)
    assert store.try_lease("source:weibo", "a", T0 + timedelta(seconds=20), TTL)  # renewal
    (lease,) = store.leases("source:")
    assert (lease.owner, lease.acquired_at, lease.expires_at) == ("a", T0, T0 + timedelta(seconds=50))


def test_an_expired_lease_goes_to_whoever_asks(store: SqlStore) -> None:
    store.try_lease("rule:quality", "a", T0, TTL)
    later = T0 + TTL
    assert store.try_lease("rule:quality", "b", later, TTL)
    assert not store.try_lease("rule:quality", "a", later, TTL)
    (lease,) = store.leases()
    assert (lease.owner, lease.acquired_at) == ("b", later)


def test_release_frees_only_the_owners_leases(store: SqlStore) -> None:
    store.try_lease("source:a", "n1", T0, TTL)
    store.try_lease("source:b", "n1", T0, TTL)
    store.try_lease("source:c", "n2", T0, TTL)
    store.release("source:c", "n1")  # not n1's: nothing happens
    assert [lease.name for lease in store.leases()] == ["source:a", "source:b", "source:c"]
    store.release("source:a", "n1")
    assert store.try_lease("source:a", "n2", T0, TTL)
    assert store.release_all("n1") == 1
    assert [(lease.name, lease.owner) for lease in store.leases()] == [("source:a", "n2"), ("source:c", "n2")]


def test_leases_lists_by_prefix_and_liveness(store: SqlStore) -> None:
    store.try_lease("node:n1", "n1", T0, TTL)
    store.try_lease("node:n2", "n2", T0 - TTL, TTL)  # expired at T0
    store.try_lease("node_%x", "n3", T0, TTL)  # LIKE wildcards in the name are plain text
    assert [lease.owner for lease in store.leases("node:")] == ["n1", "n2"]
    assert [lease.owner for lease in store.leases("node:", live_at=T0)] == ["n1"]


def test_one_of_many_connections_racing_for_a_lease_gets_it(db_url: str) -> None:
    stores = [open_store(db_url) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    won: list[str] = []

    def race(store: SqlStore, owner: str) -> None:
        barrier.wait()
        for attempt in range(20):
            if store.try_lease(f"source:s{attempt}", owner, T0, TTL):
                won.append(f"s{attempt}")

    threads = [threading.Thread(target=race, args=(s, f"n{i}")) for i, s in enumerate(stores)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in stores:
            s.close()
    assert sorted(won) == sorted(f"s{i}" for i in range(20))  # each exactly once


# -- outbox claims -----------------------------------------------------------------------


def test_a_claimed_message_cannot_be_claimed_by_another_until_the_claim_ends(store: SqlStore) -> None:
    msg = store.enqueue("slack", "alert", {"text": "1"}, now=T0)
    claim = store.claim_message(msg, "a", T0, T0 + TTL)
    assert claim is not None and claim.attempt_started_at is None
    assert store.claim_message(msg, "b", T0 + timedelta(seconds=5), T0 + TTL) is None
    assert store.claim_message(msg, "a", T0 + timedelta(seconds=5), T0 + TTL) is not None  # own: extended
    assert store.claim_message(msg, "b", T0 + TTL, T0 + 2 * TTL) is not None  # claim ran out


def test_an_attempt_start_is_remembered_until_sent(store: SqlStore) -> None:
    msg = store.enqueue("slack", "alert", {"text": "1"}, now=T0)
    store.claim_message(msg, "a", T0, T0 + TTL)
    store.mark_attempting(msg, T0)
    store.mark_attempting(msg, T0 + timedelta(seconds=1))  # the first start is kept
    # "a" dies here; after its claim has run out, "b" learns an attempt may have gone out
    claim = store.claim_message(msg, "b", T0 + TTL, T0 + 2 * TTL)
    assert claim is not None and claim.attempt_started_at == T0
    store.mark_sent(msg, Receipt(ref="1.0001", channel="C1"), T0 + TTL)
    assert store.claim_message(msg, "c", T0 + 3 * TTL, T0 + 4 * TTL) is None  # not pending
    assert store.message_ref(msg) == ("1.0001", "sent")


def test_a_failed_attempt_ends_the_claim_and_keeps_the_attempt_start(store: SqlStore) -> None:
    msg = store.enqueue("slack", "alert", {"text": "1"}, now=T0)
    store.claim_message(msg, "a", T0, T0 + TTL)
    store.mark_attempting(msg, T0)
    store.mark_failed(msg, "timeout", retry_at=T0 + timedelta(seconds=5))
    claim = store.claim_message(msg, "b", T0 + timedelta(seconds=5), T0 + TTL)
    assert claim is not None and claim.attempt_started_at == T0
    assert [m.id for m in store.pending_messages("slack")] == [msg]
    assert store.outbox_counts() == {"pending": 1}


def test_many_connections_racing_for_messages_claim_each_once(db_url: str) -> None:
    first = open_store(db_url)
    ids = [first.enqueue("slack", "update", {"text": str(i)}, now=T0) for i in range(30)]
    stores = [first, *(open_store(db_url) for _ in range(4))]
    barrier = threading.Barrier(len(stores))
    claimed: list[int] = []

    def race(store: SqlStore, owner: str) -> None:
        barrier.wait()
        for message_id in ids:
            if store.claim_message(message_id, owner, T0, T0 + TTL) is not None:
                claimed.append(message_id)

    threads = [threading.Thread(target=race, args=(s, f"n{i}")) for i, s in enumerate(stores)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in stores:
            s.close()
    assert sorted(claimed) == ids
