"""Leases between daemons: work spread evenly, each piece held once, taken over when a daemon dies."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.runtime.leases import LeaseKeeper, LeaseTimes, make_node_id
from monitor.store import SqlStore, open_store
from monitor.testing import FakeClock, FakeSource, RecordingNotifier

from .test_engine import make_engine

INTERVAL = timedelta(seconds=10)
TIMES = LeaseTimes(sources={f"s{i}": INTERVAL for i in range(60)}, evaluate=INTERVAL, deliver=INTERVAL, sla=INTERVAL)
NAMES = [f"source:s{i}" for i in range(60)]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[list[SqlStore]]:
    opened = [open_store(str(tmp_path / "shared.db")) for _ in range(4)]
    yield opened
    for s in opened:
        s.close()


def keepers(stores: list[SqlStore], n: int, clock: FakeClock) -> list[LeaseKeeper]:
    made = [LeaseKeeper(stores[i], f"host{i}:{100 + i}:abc", TIMES) for i in range(n)]
    for keeper in made + made:  # twice: the first ones learn about the later ones
        keeper.heartbeat(clock.now())
    return made


def run_round(nodes: list[LeaseKeeper], clock: FakeClock) -> dict[str, list[str]]:
    """Every node runs every job once (as their schedulers would); who got what."""
    now = clock.now()
    held: dict[str, list[str]] = {}
    for keeper in nodes:
        for name in NAMES:
            if keeper.acquire(name, now):
                held.setdefault(name, []).append(keeper.node_id)
    return held


def test_the_node_id_names_host_and_process() -> None:
    host, pid, rand = make_node_id("db1", 4242).split(":")
    assert (host, pid, len(rand)) == ("db1", "4242", 6)
    assert make_node_id("db1", 1) != make_node_id("db1", 1)


def test_ttls_are_a_few_intervals_of_each_job() -> None:
    times = LeaseTimes(sources={"weibo": timedelta(minutes=5)}, evaluate=timedelta(minutes=1))
    assert times.ttl("source:weibo") == timedelta(minutes=15)
    assert times.ttl("rule:quality") == timedelta(minutes=3)
    assert times.ttl("deliver:slack") == timedelta(seconds=15)
    assert times.node_ttl() == timedelta(seconds=15)  # the shortest job's lease


def test_one_daemon_holds_everything(stores: list[SqlStore]) -> None:
    clock = FakeClock()
    (alone,) = keepers(stores, 1, clock)
    assert all(nodes == [alone.node_id] for nodes in run_round([alone], clock).values())
    assert len(run_round([alone], clock)) == len(NAMES)


def test_three_daemons_share_the_work_evenly_and_never_hold_a_lease_twice(stores: list[SqlStore]) -> None:
    clock = FakeClock()
    nodes = keepers(stores, 3, clock)
    held = run_round(nodes, clock)
    assert sorted(held) == sorted(NAMES) and all(len(owners) == 1 for owners in held.values())
    shares = Counter(owners[0] for owners in held.values())
    assert len(shares) == 3 and min(shares.values()) >= 10, shares
    clock.advance(INTERVAL)
    assert run_round(nodes, clock) == held  # stable: renewed by the same daemons


def test_a_dead_daemons_work_is_taken_over_within_two_lease_periods(stores: list[SqlStore]) -> None:
    clock = FakeClock()
    nodes = keepers(stores, 3, clock)
    before = run_round(nodes, clock)
    dead, survivors = nodes[0], nodes[1:]
    orphans = {name for name, owners in before.items() if owners == [dead.node_id]}
    ttl = TIMES.ttl(NAMES[0])
    taken_at: dict[str, timedelta] = {}
    start = clock.now()
    while clock.now() - start <= 2 * ttl and len(taken_at) < len(orphans):
        clock.advance(INTERVAL / 2)
        held = run_round(survivors, clock)  # the dead one runs nothing any more
        assert all(len(owners) == 1 for owners in held.values())
        for name in orphans & set(held):
            taken_at.setdefault(name, clock.now() - start)
    assert set(taken_at) == orphans
    assert max(taken_at.values()) <= 2 * ttl
    assert min(taken_at.values()) >= ttl - INTERVAL  # not before its leases could have expired


def test_a_joining_daemon_gets_its_share_handed_over(stores: list[SqlStore]) -> None:
    clock = FakeClock()
    first, second = keepers(stores, 2, clock)
    run_round([first], clock)  # alone at first: everything
    clock.advance(INTERVAL)
    second.heartbeat(clock.now())
    first.heartbeat(clock.now())
    run_round([first, second], clock)  # first hands over what second should hold
    clock.advance(INTERVAL)
    held = run_round([first, second], clock)
    shares = Counter(owners[0] for owners in held.values())
    assert sorted(held) == sorted(NAMES) and shares[second.node_id] >= 15


def test_a_clean_stop_releases_everything_at_once(stores: list[SqlStore]) -> None:
    clock = FakeClock()
    first, second = keepers(stores, 2, clock)
    run_round([first, second], clock)
    first.close()
    assert {lease.owner for lease in stores[0].leases()} == {second.node_id}
    clock.advance(seconds=1)
    second.heartbeat(clock.now())  # first's node lease is gone: second is alone
    assert len(run_round([second], clock)) == len(NAMES)


def test_leases_of_dead_processes_on_this_host_are_released_at_start(stores: list[SqlStore]) -> None:
    clock = FakeClock()
    store = stores[0]
    for owner in ("web1:111:aaa", "web1:222:bbb", "web2:111:ccc", "web1:333:ddd"):
        store.try_lease(f"source:{owner}", owner, clock.now(), INTERVAL)
    me = LeaseKeeper(store, "web1:333:eee", TIMES)
    reaped = me.reap_dead_local(alive=lambda pid: pid == 222)
    assert reaped == ["web1:111:aaa", "web1:333:ddd"]  # dead pid; an earlier engine of this process
    assert sorted(lease.owner for lease in store.leases()) == ["web1:222:bbb", "web2:111:ccc"]


def test_the_engine_polls_only_sources_whose_lease_it_holds(tmp_path: Path) -> None:
    clock = FakeClock()
    store = open_store(str(tmp_path / "engine.db"))
    try:
        source = FakeSource("complaints")
        engine = make_engine(store, clock, source, RecordingNotifier())
        assert engine.leases is not None
        engine.poll("complaints")
        assert source.polls == 1
        # another daemon (not yet in this one's live set) holds the lease
        store.release("source:complaints", engine.leases.node_id)
        store.try_lease("source:complaints", "elsewhere:1:x", clock.now(), timedelta(minutes=15))
        engine.poll("complaints")
        assert source.polls == 1
        clock.advance(minutes=15)
        engine.poll("complaints")  # expired: taken over
        assert source.polls == 2
    finally:
        store.close()
