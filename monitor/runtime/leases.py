"""Sharing the work between daemons on one database: who polls, evaluates, delivers what.

Each piece of shared work has a lease in the store (``source:NAME``, ``rule:ID``, ``sla``,
``deliver:DESTINATION``) with an owner and an expiry. A daemon does a piece of work only
while it holds its lease, and renews it on every run; the lease lasts a few of the job's
intervals (``LeaseTimes``). When a daemon dies, its leases expire and another takes over.

Which daemon *should* hold a lease is decided by rendezvous hashing over the live daemons
(those whose ``node:ID`` heartbeat lease is unexpired): every daemon computes the same
owner for every name, so the work spreads evenly without talking, and a daemon that joins
or leaves moves only its share. A daemon that is not the chosen one gives a lease up (after
its current run) and never takes one; the chosen one takes it as soon as it is free or
expired. Views of the live set can differ for a moment; the lease itself is what makes the
work exclusive, the hashing only spreads it.

With SQLite there is one daemon: it is always the chosen one and holds every lease.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from monitor.store.sql import Lease

log = logging.getLogger(__name__)


class LeaseStore(Protocol):
    """What the lease keeper needs."""

    def leases(self, prefix: str = "", *, live_at: datetime | None = None) -> list[Lease]: ...

    def release(self, name: str, owner: str) -> None: ...

    def release_all(self, owner: str) -> int: ...

    def try_lease(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool: ...


NODE_PREFIX = "node:"
PERIODS = 3  # a lease lasts this many intervals of its job
MIN_TTL = timedelta(seconds=2)


def make_node_id(hostname: str | None = None, pid: int | None = None) -> str:
    """``host:pid:random``: unique per daemon process, readable in `crisismon db` and logs."""
    host = hostname or socket.gethostname()
    return f"{host}:{pid if pid is not None else os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class LeaseTimes:
    """How long each lease lasts: ``PERIODS`` intervals of the job that renews it.

    ``sources`` maps a source name to its poll interval; ``rule:*`` leases follow
    ``evaluate``, ``deliver:*`` ``deliver``, ``sla`` ``sla``.
    """

    sources: Mapping[str, timedelta] = field(default_factory=dict)
    evaluate: timedelta = timedelta(minutes=1)
    deliver: timedelta = timedelta(seconds=5)
    sla: timedelta = timedelta(minutes=1)
    default: timedelta = timedelta(minutes=1)

    def interval(self, name: str) -> timedelta:
        kind, _, rest = name.partition(":")
        if kind == "source":
            return self.sources.get(rest, self.default)
        return {"rule": self.evaluate, "deliver": self.deliver, "sla": self.sla}.get(kind, self.default)

    def ttl(self, name: str) -> timedelta:
        return max(self.interval(name) * PERIODS, MIN_TTL)

    def node_ttl(self) -> timedelta:
        """The heartbeat's lease: as short as the shortest job lease, so a dead daemon drops
        out of the live set before (or when) its work leases expire."""
        shortest = min([self.evaluate, self.deliver, self.sla, *self.sources.values()])
        return max(shortest * PERIODS, MIN_TTL)


class LeaseKeeper:
    """One daemon's leases: heartbeat, the live set, and the rendezvous gate."""

    def __init__(self, store: LeaseStore, node_id: str, times: LeaseTimes | None = None) -> None:
        self.store = store
        self.node_id = node_id
        self.times = times or LeaseTimes()
        self._live: list[str] = [node_id]
        self._refreshed: datetime | None = None
        self._held: set[str] = set()

    # -- liveness ------------------------------------------------------------------------

    def heartbeat(self, now: datetime) -> list[str]:
        """Renew this daemon's node lease and re-read the live daemons (sorted ids)."""
        self.store.try_lease(NODE_PREFIX + self.node_id, self.node_id, now, self.times.node_ttl())
        live = {lease.owner for lease in self.store.leases(NODE_PREFIX, live_at=now)}
        live.add(self.node_id)
        self._live = sorted(live)
        self._refreshed = now
        return self._live

    def live(self, now: datetime) -> list[str]:
        stale = self._refreshed is None or now - self._refreshed >= self.times.node_ttl() / PERIODS
        if stale or now < (self._refreshed or now):
            self.heartbeat(now)
        return self._live

    def preferred(self, name: str, now: datetime) -> str:
        """The live daemon that should hold ``name`` (highest rendezvous weight)."""
        return max(self.live(now), key=lambda node: _weight(name, node))

    # -- leases --------------------------------------------------------------------------

    def acquire(self, name: str, now: datetime) -> bool:
        """Take or renew ``name`` if this daemon should hold it; True when it holds it now.

        A daemon that holds a lease it should no longer hold (another daemon joined) gives
        it up here, so the chosen one can take it at its next run.
        """
        if self.preferred(name, now) != self.node_id:
            if name in self._held:
                self.release(name)
                log.info("lease %s handed over to %s", name, self.preferred(name, now))
            return False
        held = self.store.try_lease(name, self.node_id, now, self.times.ttl(name))
        if held and name not in self._held:
            log.info("lease %s taken by %s", name, self.node_id)
        (self._held.add if held else self._held.discard)(name)
        return held

    def renew(self, name: str, now: datetime) -> bool:
        """Extend a lease held already (long deliveries); False if it was lost meanwhile."""
        held = self.store.try_lease(name, self.node_id, now, self.times.ttl(name))
        if not held:
            self._held.discard(name)
        return held

    def release(self, name: str) -> None:
        self.store.release(name, self.node_id)
        self._held.discard(name)

    def close(self) -> None:
        """Give up every lease (clean shutdown): others take over at once."""
        released = self.store.release_all(self.node_id)
        self._held.clear()
        log.info("released %d lease(s) of %s", released, self.node_id)

    def reap_dead_local(self, alive: Callable[[int], bool] | None = None) -> list[str]:
        """Release leases of earlier daemons on this host whose process is gone.

        A daemon killed and restarted on the same host then resumes at once instead of
        waiting for its predecessor's leases to expire. Owners on other hosts are left
        to expire. Returns the owners released.
        """
        check = alive or pid_alive
        host, pid = _host_pid(self.node_id)
        reaped: list[str] = []
        for owner in sorted({lease.owner for lease in self.store.leases()}):
            other_host, other_pid = _host_pid(owner)
            if owner == self.node_id or other_host != host or other_pid is None:
                continue
            if other_pid == pid or not check(other_pid):
                self.store.release_all(owner)
                reaped.append(owner)
        if reaped:
            log.info("released the leases of stopped daemon(s) on this host: %s", ", ".join(reaped))
        return reaped


def _weight(name: str, node: str) -> bytes:
    return hashlib.blake2b(f"{name}\x1f{node}".encode(), digest_size=8).digest()


def _host_pid(node_id: str) -> tuple[str, int | None]:
    parts = node_id.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return node_id, None
    return parts[0], int(parts[1])


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (signal 0 probes without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True
