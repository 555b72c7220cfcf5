"""The store over SQL: items, rule state, incidents, checklist, timeline, outbox, sources.

Written once for every backend: statements use ``?`` placeholders and portable SQL
(``ON CONFLICT``, ``RETURNING``, partial unique indexes). A backend supplies a DB-API
connection and overrides the dialect hooks: ``placeholder``, ``autoincrement``,
``_has_table``, ``_begin_upgrade``, ``_guarded`` and ``is_unique_violation``. The defaults
are SQLite's; ``monitor.store.postgres.PostgresStore`` is the other backend.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from monitor.clock import monotonic
from monitor.detect.evidence import Summary
from monitor.detect.state import RuleState
from monitor.errors import InvalidOperation, NotFound
from monitor.http.retry import exponential
from monitor.models import (
    ACTIVE_SQL,
    ChecklistEntry,
    Evidence,
    Incident,
    IncidentStatus,
    Item,
    Message,
    Receipt,
    ScoredItem,
    SignalState,
    TimelineEntry,
    TopItem,
)
from monitor.store.hit_rows import HitRows
from monitor.store.notify_rows import NotifyRows
from monitor.store.schema import MIGRATIONS

log = logging.getLogger(__name__)


def ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def dt_(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class DuplicateIncident(Exception):
    """An active incident already exists for (rule, group): another daemon opened it first.

    The failed insert has been undone; the enclosing transaction is still usable (and is
    rolled back when this propagates out of it). Fetch the winner with
    ``store.active_incident(rule_id, group)``.
    """

    def __init__(self, rule_id: str, group: str) -> None:
        self.rule_id = rule_id
        self.group = group
        super().__init__(
            f"rule {rule_id!r} already has an active incident for group {group!r}; "
            "update that one (store.active_incident) instead of opening another"
        )


def describe_error(exc: BaseException) -> str:
    """A driver error in one line (psycopg's messages span several)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def hint_for(exc: BaseException) -> str:
    """What to do about ``exc`` (with a leading "; "), or "" when a retry is all there is."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")) or isinstance(exc, PermissionError):
        return "; make the file and its folder writable by the user running crisismon (or point --db elsewhere)"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return "; it is damaged or not a crisismon database: restore a backup, or move it away to start empty"
    if name.startswith("SQLITE_FULL"):
        return "; the disk is full: free some space"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "; another process holds a lock on it: the work is retried"
    if name.startswith("SQLITE_IOERR"):
        return "; the disk failed a read or write: check it"
    if type(exc).__module__.startswith("psycopg"):
        return "; check that PostgreSQL is running and reachable, and the URL's host, port, user, password and database"
    return ""


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used right now (connection lost, locked, read-only...).

    The unit of work that met it was rolled back; retry it later (the next run of the job).
    The message names the database and says what to do.
    """


@dataclass(frozen=True, slots=True)
class SourceHealth:
    name: str
    last_attempt: datetime | None
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    total_failures: int
    items_total: int


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds the named piece of shared work, until when (see ``SqlStore.try_lease``)."""

    name: str
    owner: str
    acquired_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Claim:
    """An outbox message claimed for sending by one daemon.

    ``attempt_started_at`` is when an earlier attempt began whose outcome was never recorded
    (the daemon died, or the request failed in a way that may have reached the remote): the
    message may already be there. None when no attempt was started before.
    ``last_attempt_at``: when the latest attempt that may have arrived started (None when
    the latest attempt is known not to have arrived).
    """

    message_id: int
    attempt_started_at: datetime | None
    last_attempt_at: datetime | None = None


#: SQLite errors that say "not now" or "not this file" rather than "bug": they become
#: DatabaseUnavailable (``sqlite_errorname`` prefixes).
_SQLITE_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
    "SQLITE_READONLY",
    "SQLITE_CORRUPT",
    "SQLITE_NOTADB",
    "SQLITE_FULL",
    "SQLITE_PROTOCOL",
    "SQLITE_PERM",
)
RECONNECT_FIRST = 0.5  # seconds before the first reconnection attempt; doubles up to RECONNECT_MAX
RECONNECT_MAX = 30.0


class SqlStore(NotifyRows, HitRows):
    """All persistent state. Thread-safe: one connection guarded by a lock.

    A lost connection heals: the unit of work that met the loss is rolled back and fails
    with :class:`DatabaseUnavailable` (its job runs again at its next interval), and the
    connection is reopened with ``connect`` before the next unit of work, with backoff
    (0.5 s doubling to 30 s) while the database stays away. ``unavailable_for()`` says how
    long the database has been failing (the daemon exits after ``database_outage_limit``).
    """

    placeholder = "?"
    autoincrement = "AUTOINCREMENT"

    def __init__(
        self, connection: Any, *, connect: Callable[[], Any] | None = None, where: str = "the database"
    ) -> None:
        self._conn = connection
        self._connect = connect
        self.where = where
        self._lock = threading.RLock()
        self._depth = 0
        self._broken = False
        self._failures = 0
        self._retry_at = 0.0
        self._down_since: float | None = None
        self._last_error = ""
        self._wrote = False

    # -- plumbing ----------------------------------------------------------------------

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several calls into one atomic unit (re-entrant).

        Raises DatabaseUnavailable (after rolling back) when the database cannot be used.
        """
        with self._lock:
            if self._depth == 0:
                self._ensure_connection()
                self._wrote = False
            self._depth += 1
            try:
                yield
            except BaseException as exc:
                if self._depth == 1:
                    self._rollback_quietly()
                    if isinstance(exc, Exception) and self.is_unavailable_error(exc):
                        raise self._lost(exc) from exc
                raise
            else:
                if self._depth == 1:
                    try:
                        self._conn.commit()
                    except Exception as exc:
                        if not self.is_unavailable_error(exc):
                            raise
                        self._rollback_quietly()
                        raise self._lost(exc) from exc
                    self._failures = 0
                    if self._wrote:  # a read can succeed where writes fail (a locked or read-only file)
                        self._down_since = None
            finally:
                self._depth -= 1

    # -- connection health ---------------------------------------------------------------

    def is_unavailable_error(self, exc: Exception) -> bool:
        """Whether ``exc`` means the database cannot be used now (not a bug in a statement)."""
        name = getattr(exc, "sqlite_errorname", None) or ""
        return isinstance(exc, sqlite3.DatabaseError) and name.startswith(_SQLITE_UNAVAILABLE)

    def _connection_lost(self) -> bool:
        """Whether the connection must be reopened (SQLite's never needs to be)."""
        return False

    def _lost(self, exc: Exception) -> DatabaseUnavailable:
        self._failures += 1
        if self._down_since is None:
            self._down_since = monotonic()
        self._last_error = describe_error(exc)
        if self._connect is not None and self._connection_lost():
            self._broken = True
            self._retry_at = monotonic() + self._backoff()
            return DatabaseUnavailable(f"{self.where}: the connection was lost ({self._last_error}); reconnecting")
        return DatabaseUnavailable(f"{self.where}: {self._last_error}{hint_for(exc)}")

    def _backoff(self) -> float:
        return exponential(RECONNECT_FIRST, self._failures - 1, RECONNECT_MAX)

    def _ensure_connection(self) -> None:
        if not self._broken or self._connect is None:
            return
        now = monotonic()
        if now < self._retry_at:
            raise DatabaseUnavailable(
                f"{self.where} is unreachable ({self._last_error}); next reconnection in {self._retry_at - now:.1f}s"
            )
        try:
            connection = self._connect()
        except Exception as exc:
            self._failures += 1
            self._retry_at = now + self._backoff()
            self._last_error = describe_error(exc)
            raise DatabaseUnavailable(f"cannot reconnect to {self.where}: {self._last_error}{hint_for(exc)}") from exc
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn, self._broken = connection, False
        log.warning("reconnected to %s", self.where)

    def _rollback_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.rollback()

    def ping(self) -> str | None:
        """None when the database answers and the last write worked; else why not (for /readyz)."""
        try:
            self._one("SELECT 1")
        except DatabaseUnavailable as exc:
            return str(exc)
        down = self.unavailable_for()
        if down is not None:
            return f"{self.where}: writes failing for {down:.0f}s ({self._last_error})"
        return None

    def unavailable_for(self) -> float | None:
        """Seconds since the database began failing; None while it works."""
        since = self._down_since
        return None if since is None else monotonic() - since

    def outage_check(self, limit: float) -> Callable[[], str | None]:
        """For the daemon's main loop: a reason to exit once the database has failed ``limit`` seconds.

        Each call also tries the database when it is failing and no job holds it, so that
        a recovery is noticed even while every job waits.
        """

        def check() -> str | None:
            if self._down_since is None:
                return None
            if self._lock.acquire(blocking=False):
                try:
                    self.ping()
                finally:
                    self._lock.release()
            down = self.unavailable_for()
            if down is None or down < limit:
                return None
            return (
                f"{self.where} has been unavailable for {down:.0f}s ({self._last_error}); exiting so that the "
                f"supervisor restarts crisismon (database_outage_limit is {limit:g}s)"
            )

        return check

    def _exec(self, statement: str, params: Sequence[Any] = ()) -> Any:
        with self.transaction():
            if statement.lstrip()[:6].upper() != "SELECT":
                self._wrote = True
            cur = self._conn.cursor()
            cur.execute(self._sql(statement), tuple(params))
            return cur

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.transaction():
            return list(self._exec(statement, params).fetchall())

    def _one(self, statement: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self._rows(statement, params)
        return rows[0] if rows else None

    # -- dialect hooks (SQLite here; see monitor.store.postgres) --------------------------

    def is_unique_violation(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the driver's error for a violated unique constraint or index."""
        return isinstance(exc, sqlite3.IntegrityError) and exc.sqlite_errorname in (
            "SQLITE_CONSTRAINT_UNIQUE",
            "SQLITE_CONSTRAINT_PRIMARYKEY",
        )

    def _has_table(self, name: str) -> bool:
        return self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is not None

    def units_sql(self, column: str) -> str:
        """SQL of ``monitor.detect.window.units(column)``: the value times 10^9 rounded half to
        even (Python's ``round``), as an integer, so that sums the database makes are exact.
        SQLite's ROUND goes half away from zero: the halves are mended by hand."""
        x = f"({column} * 1000000000.0)"
        whole = f"CAST({x} AS INTEGER)"
        half_even = f"ABS({x} - {whole}) = 0.5 AND {whole} % 2 = 0"
        return f"(CASE WHEN {half_even} THEN {whole} ELSE CAST(ROUND({x}) AS INTEGER) END)"

    def lock_hits(self, *, exclusive: bool) -> None:
        """Inside a transaction: exclude, until it ends, the transactions of other connections
        that change what rules' hits and sums are (``monitor.detect.hits``: ingest takes it
        shared, a rebuild exclusive). Nothing to do on SQLite: one connection, one writer."""

    def _begin_upgrade(self) -> None:
        """Start the migration transaction, excluding other upgraders (called inside it).

        SQLite runs DDL outside a transaction unless one is open, so open one explicitly:
        a failing step then leaves the schema as it was.
        """
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN IMMEDIATE")

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """Run statements whose failure must not poison the enclosing transaction.

        SQLite undoes only the failing statement, so nothing is needed here.
        """
        yield

    # -- schema ------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version of the database; 0 when it has no crisismon tables yet."""
        with self.transaction():
            if not self._has_table("schema_version"):
                return 0
            row = self._one("SELECT version FROM schema_version")
        return int(row[0]) if row else 0

    def upgrade(self) -> int:
        """Apply pending migrations in one transaction; return the number applied.

        A database already at (or beyond, when a newer crisismon upgraded it) the latest
        version is left untouched.
        """
        with self.transaction():
            self._begin_upgrade()
            self._exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = self.schema_version()
            if current >= len(MIGRATIONS):
                return 0
            for statements in MIGRATIONS[current:]:
                for statement in statements:
                    self._exec(statement.format(autoincrement=self.autoincrement))
            if current == 0:
                self._exec("INSERT INTO schema_version (version) VALUES (?)", (len(MIGRATIONS),))
            else:
                self._exec("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))
        return len(MIGRATIONS) - current

    def close(self) -> None:
        with self._lock, contextlib.suppress(Exception):
            self._conn.close()

    # -- items -------------------------------------------------------------------------

    def known_ids(self, source: str, ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(ids))
        known: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._rows(f"SELECT id FROM items WHERE source = ? AND id IN ({marks})", (source, *chunk))
            known.update(r[0] for r in rows)
        return known

    def add_items(self, scored: Sequence[ScoredItem], fetched_at: datetime) -> int:
        """Store items not seen before, in batches of one statement; return how many were new."""
        rows = [_item_row(s, fetched_at) for s in scored]
        return self.insert_new("items", ITEM_COLUMNS, rows)

    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        """Insert the rows whose key is not stored yet, in one batch; how many were new
        (``monitor.store.postgres`` copies large batches in)."""
        names, marks = ", ".join(columns), ", ".join("?" * len(columns))
        return self.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING", rows)

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> int:
        """One statement over many rows, in one round of the driver (batched writes); the rows changed."""
        if not rows:
            return 0
        with self.transaction():
            self._wrote = True
            cur = self._conn.cursor()
            cur.executemany(self._sql(statement), [tuple(r) for r in rows])
            return max(int(cur.rowcount), 0)

    def items_between(self, sources: Sequence[str] | None, start: datetime, end: datetime) -> list[ScoredItem]:
        """Items published in ``(start, end]``, from ``sources`` (None = all), oldest first."""
        params: list[Any] = [ts(start), ts(end)]
        where = "published_at > ? AND published_at <= ?"
        if sources:
            where += f" AND source IN ({','.join('?' * len(sources))})"
            params.extend(sources)
        rows = self._rows(
            "SELECT source, id, published_at, kind, title, text, url, category, count, attrs, sentiment, "
            f"lang, norm, tokens, story_id FROM items WHERE {where} ORDER BY published_at, source, id",
            params,
        )
        return [_scored_from_row(r) for r in rows]

    def items_of(self, source: str, ids: Sequence[str]) -> list[ScoredItem]:
        """The stored items of ``source`` with these ids (at most a few hundred at a time)."""
        if not ids:
            return []
        rows = self._rows(
            "SELECT source, id, published_at, kind, title, text, url, category, count, attrs, sentiment, "
            f"lang, norm, tokens, story_id FROM items WHERE source = ? AND id IN ({','.join('?' * len(ids))})",
            (source, *ids),
        )
        return [_scored_from_row(r) for r in rows]

    def item_words_between(
        self, sources: Sequence[str] | None, start: datetime, end: datetime, limit: int | None = None
    ) -> Iterator[tuple[str, str, int | None, str | None]]:
        """Only the source, id, story and words (``tokens``) of the items published in
        ``(start, end]`` from ``sources`` (None = all), the latest ``limit`` of them (None: all):
        what a term baseline needs of them, the items of a story one after the other, read a
        batch at a time (``_stream``: consume them at once, the store is held meanwhile)."""
        params: list[Any] = [ts(start), ts(end)]
        where = "published_at > ? AND published_at <= ?"
        if sources:
            where += f" AND source IN ({','.join('?' * len(sources))})"
            params.extend(sources)
        latest = ""
        if limit is not None:
            latest = " ORDER BY published_at DESC, source DESC, id DESC LIMIT ?"
            params.append(limit)
        rows = self._stream(
            f"SELECT source, id, story_id, tokens FROM (SELECT source, id, story_id, tokens FROM items WHERE {where}"
            f"{latest}) AS chosen ORDER BY story_id IS NULL, story_id, source, id",  # a story's items together
            params,
        )
        return cast(Iterator[tuple[str, str, int | None, str | None]], rows)  # the columns' own types

    def _stream(self, statement: str, params: Sequence[Any] = (), size: int = 2000) -> Iterator[tuple[Any, ...]]:
        """The rows of a query ``size`` at a time, not all in memory at once (a dialect hook:
        PostgreSQL reads them through a server-side cursor)."""
        with self.transaction():
            cur = self._exec(statement, params)
            while batch := cur.fetchmany(size):
                yield from batch

    def earliest_item(self, sources: Sequence[str] | None) -> datetime | None:
        """When the oldest stored item of ``sources`` (None = all) was published."""
        params: list[Any] = list(sources or ())
        where = f" WHERE source IN ({','.join('?' * len(params))})" if params else ""
        row = self._one(f"SELECT MIN(published_at) FROM items{where}", params)
        return dt(row[0]) if row else None

    def item_count(self) -> int:
        row = self._one("SELECT COUNT(*) FROM items")
        return int(row[0]) if row else 0

    # -- stories (near-duplicate groups, see monitor.text.stories) ------------------------

    def story_candidates(self, bands: Sequence[int], since: datetime, limit: int = 200) -> list[tuple[int, str]]:
        """(id, core) of stories active since ``since`` that share a SimHash band, oldest first."""
        either = " OR ".join(f"band{i} = ?" for i in range(len(bands)))
        rows = self._rows(
            f"SELECT id, core FROM stories WHERE last_at >= ? AND ({either}) ORDER BY id LIMIT {int(limit)}",
            (ts(since), *bands),
        )
        return [(int(r[0]), r[1]) for r in rows]

    def new_story(self, fingerprint: int, bands: Sequence[int], core: str, at: datetime) -> int:
        """Start a story with its first item; its id."""
        with self.transaction():
            cur = self._exec(
                f"""INSERT INTO stories (fingerprint, {", ".join(f"band{i}" for i in range(len(bands)))}, core,
                   first_at, last_at, items) VALUES (?, {", ".join("?" * len(bands))}, ?, ?, ?, 1) RETURNING id""",
                (fingerprint, *bands, core, ts(at), ts(at)),
            )
            return int(cur.fetchone()[0])

    def join_story(self, story_id: int, at: datetime) -> None:
        """One more item joined the story (published at ``at``)."""
        self._exec(
            "UPDATE stories SET items = items + 1, last_at = CASE WHEN last_at < ? THEN ? ELSE last_at END "
            "WHERE id = ?",
            (ts(at), ts(at), story_id),
        )

    def story_sources(self, story_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """For each story, its stored items per source."""
        wanted = sorted(set(story_ids))
        out: dict[int, dict[str, int]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._rows(
                f"SELECT story_id, source, COUNT(*) FROM items WHERE story_id IN ({','.join('?' * len(chunk))}) "
                "GROUP BY story_id, source",
                chunk,
            )
            for story, source, count in rows:
                out.setdefault(int(story), {})[source] = int(count)
        return out

    # -- rule state --------------------------------------------------------------------

    def rule_states(self, rule_id: str) -> dict[str, RuleState]:
        rows = self._rows(
            "SELECT group_key, state, pending_since, firing_since, last_true_at, severity FROM rule_state "
            "WHERE rule_id = ?",
            (rule_id,),
        )
        return {r[0]: RuleState(SignalState(r[1]), dt(r[2]), dt(r[3]), dt(r[4]), r[5]) for r in rows}

    def put_rule_state(self, rule_id: str, group: str, state: RuleState) -> None:
        if state.state == SignalState.INACTIVE:
            self._exec("DELETE FROM rule_state WHERE rule_id = ? AND group_key = ?", (rule_id, group))
            return
        self._exec(
            """INSERT INTO rule_state (rule_id, group_key, state, pending_since, firing_since, last_true_at,
               severity) VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (rule_id, group_key) DO UPDATE SET state = excluded.state,
               pending_since = excluded.pending_since, firing_since = excluded.firing_since,
               last_true_at = excluded.last_true_at, severity = excluded.severity""",
            (
                rule_id,
                group,
                state.state.value,
                ts(state.pending_since),
                ts(state.firing_since),
                ts(state.last_true_at),
                state.severity,
            ),
        )

    def detector_states(self, rule_id: str) -> dict[tuple[str, str], dict[str, Any]]:
        """The rule's saved running detectors: (group, condition spec) -> state."""
        rows = self._rows("SELECT group_key, spec, state FROM detector_states WHERE rule_id = ?", (rule_id,))
        return {(str(group), str(spec)): json.loads(state) for group, spec, state in rows}

    def put_detector_states(
        self, rule_id: str, states: Mapping[tuple[str, str], Mapping[str, Any]], at: datetime
    ) -> None:
        """Save running detectors ((group, condition spec) -> state), replacing what was saved."""
        self.executemany(
            "INSERT INTO detector_states (rule_id, group_key, spec, state, saved_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (rule_id, group_key, spec) DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at",
            [(rule_id, group, spec, json.dumps(state), ts(at)) for (group, spec), state in sorted(states.items())],
        )

    # -- incidents ---------------------------------------------------------------------

    def active_incident(self, rule_id: str, group: str) -> Incident | None:
        row = self._one(
            f"SELECT {_INCIDENT_COLS} FROM incidents WHERE rule_id = ? AND group_key = ? AND {ACTIVE_SQL}",
            (rule_id, group),
        )
        return None if row is None else self._incident(row)

    def open_incident(
        self,
        *,
        rule_id: str,
        group: str,
        playbook: str,
        title: str,
        severity: str,
        at: datetime,
        evidence: Sequence[Evidence],
        top_items: Sequence[TopItem],
        checklist: Sequence[ChecklistEntry],
        summary: Summary | None = None,
    ) -> Incident:
        """Open an incident with its checklist; DuplicateIncident if (rule, group) has an active one."""
        with self.transaction():
            try:
                with self._guarded():
                    cur = self._exec(
                        """INSERT INTO incidents (rule_id, group_key, playbook, title, status, severity,
                           opened_at, updated_at, evidence, top_items, summary)
                           VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?) RETURNING id""",
                        (
                            rule_id,
                            group,
                            playbook,
                            title,
                            severity,
                            ts(at),
                            ts(at),
                            _dump_evidence(evidence),
                            _dump_top(top_items),
                            _dump_summary(summary),
                        ),
                    )
                    incident_id = int(cur.fetchone()[0])
            except Exception as exc:
                if self.is_unique_violation(exc):
                    raise DuplicateIncident(rule_id, group) from exc
                raise
            self.add_checklist_items(incident_id, checklist)
            return self.incident(incident_id)

    def update_signal(
        self,
        incident_id: int,
        *,
        at: datetime,
        severity: str,
        evidence: Sequence[Evidence],
        top_items: Sequence[TopItem],
        summary: Summary | None = None,
    ) -> None:
        """Record the latest signal; a None ``summary`` keeps the one recorded before."""
        self._exec(
            "UPDATE incidents SET severity = ?, updated_at = ?, evidence = ?, top_items = ?, "
            "summary = COALESCE(?, summary) WHERE id = ?",
            (severity, ts(at), _dump_evidence(evidence), _dump_top(top_items), _dump_summary(summary), incident_id),
        )

    def set_status(self, incident_id: int, status: IncidentStatus, at: datetime, by: str | None = None) -> None:
        column = {IncidentStatus.RESOLVED: "resolved_at", IncidentStatus.CLOSED: "closed_at"}.get(status)
        extra = f", {column} = ?" if column else ""
        params: list[Any] = [status.value, ts(at)]
        if column:
            params.append(ts(at))
        if status == IncidentStatus.ACKNOWLEDGED:
            extra += ", acknowledged_by = ?"
            params.append(by)
        params.append(incident_id)
        self._exec(f"UPDATE incidents SET status = ?, updated_at = ?{extra} WHERE id = ?", params)

    def incident(self, incident_id: int) -> Incident:
        if not 0 < incident_id < 2**63:  # beyond any id the database can hold
            raise NotFound(f"no incident {str(incident_id)[:30]}; `crisismon incidents` lists them")
        row = self._one(f"SELECT {_INCIDENT_COLS} FROM incidents WHERE id = ?", (incident_id,))
        if row is None:
            raise NotFound(f"no incident {incident_id}; `crisismon incidents` lists them")
        return self._incident(row)

    def incidents(self, *, active_only: bool = False) -> list[Incident]:
        where = f" WHERE {ACTIVE_SQL}" if active_only else ""
        rows = self._rows(f"SELECT {_INCIDENT_COLS} FROM incidents{where} ORDER BY id")
        return [self._incident(r) for r in rows]

    def _incident(self, row: tuple[Any, ...]) -> Incident:
        checklist = self._rows(
            """SELECT item_id, phase, phase_title, text, text_en, owner, due_at, done_at, done_by
               FROM checklist WHERE incident_id = ? ORDER BY position""",
            (row[0],),
        )
        return Incident(
            id=int(row[0]),
            rule_id=row[1],
            group=row[2],
            playbook=row[3],
            title=row[4],
            status=IncidentStatus(row[5]),
            severity=row[6],
            opened_at=dt_(row[7]),
            updated_at=dt_(row[8]),
            resolved_at=dt(row[9]),
            closed_at=dt(row[10]),
            acknowledged_by=row[11],
            evidence=tuple(Evidence(**e) for e in json.loads(row[12])),
            top_items=tuple(_top_from(d) for d in json.loads(row[13])),
            summary=_summary_from(row[14]),
            checklist=tuple(
                ChecklistEntry(c[0], c[1], c[2], c[3], c[4], c[5], dt_(c[6]), dt(c[7]), c[8]) for c in checklist
            ),
        )

    def add_checklist_items(self, incident_id: int, entries: Sequence[ChecklistEntry]) -> None:
        """Append entries (e.g. items that apply from a newly reached severity)."""
        with self.transaction():
            row = self._one("SELECT COALESCE(MAX(position), -1) FROM checklist WHERE incident_id = ?", (incident_id,))
            start = int(row[0]) + 1 if row else 0
            for offset, entry in enumerate(entries):
                self._exec(
                    """INSERT INTO checklist (incident_id, position, item_id, phase, phase_title, text, text_en,
                       owner, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        incident_id,
                        start + offset,
                        entry.item_id,
                        entry.phase,
                        entry.phase_title,
                        entry.text,
                        entry.text_en,
                        entry.owner,
                        ts(entry.due_at),
                    ),
                )

    def latest_incident(self, rule_id: str, group: str) -> Incident | None:
        """The most recent incident of (rule, group), whatever its status."""
        row = self._one(
            f"SELECT {_INCIDENT_COLS} FROM incidents WHERE rule_id = ? AND group_key = ? ORDER BY id DESC LIMIT 1",
            (rule_id, group),
        )
        return None if row is None else self._incident(row)

    def incidents_live_since(self, group: str, since: datetime) -> list[Incident]:
        """Incidents of ``group`` still active or ended (resolved or closed) after ``since``:
        bounded by that window, not by history."""
        rows = self._rows(
            f"SELECT {_INCIDENT_COLS} FROM incidents WHERE group_key = ? "
            f"AND ({ACTIVE_SQL} OR COALESCE(resolved_at, closed_at) > ?) ORDER BY id",
            (group, ts(since)),
        )
        return [self._incident(r) for r in rows]

    def active_incidents_for_group(self, group: str) -> list[Incident]:
        """Active incidents of any rule for ``group`` (for attaching related rules' signals)."""
        rows = self._rows(
            f"SELECT {_INCIDENT_COLS} FROM incidents WHERE group_key = ? AND {ACTIVE_SQL} ORDER BY id",
            (group,),
        )
        return [self._incident(r) for r in rows]

    def set_item_done(self, incident_id: int, item_id: str, *, at: datetime | None, by: str | None) -> None:
        cur = self._exec(
            "UPDATE checklist SET done_at = ?, done_by = ? WHERE incident_id = ? AND item_id = ?",
            (ts(at), by, incident_id, item_id),
        )
        if cur.rowcount == 0:
            known = ", ".join(e.item_id for e in self.incident(incident_id).checklist)
            raise InvalidOperation(f"incident {incident_id} has no checklist item {item_id!r}; its items: {known}")

    # -- timeline ----------------------------------------------------------------------

    def add_timeline(self, incident_id: int, at: datetime, actor: str, kind: str, detail: Mapping[str, Any]) -> None:
        self._exec(
            "INSERT INTO timeline (incident_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)",
            (incident_id, ts(at), actor, kind, json.dumps(dict(detail), ensure_ascii=False, default=str)),
        )

    def timeline(self, incident_id: int) -> list[TimelineEntry]:
        rows = self._rows(
            "SELECT at, actor, kind, detail FROM timeline WHERE incident_id = ? ORDER BY id", (incident_id,)
        )
        return [TimelineEntry(dt_(r[0]), r[1], r[2], json.loads(r[3])) for r in rows]

    # -- outbox ------------------------------------------------------------------------

    def enqueue(
        self,
        destination: str,
        kind: str,
        payload: Mapping[str, Any],
        *,
        now: datetime,
        incident_id: int | None = None,
        thread_of: int | None = None,
        update_of: int | None = None,
    ) -> int:
        with self.transaction():  # read the id before committing: SQLite cannot commit mid-statement
            cur = self._exec(
                """INSERT INTO outbox (destination, kind, incident_id, thread_of, update_of, payload, status,
                   next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING id""",
                (
                    destination,
                    kind,
                    incident_id,
                    thread_of,
                    update_of,
                    json.dumps(dict(payload), ensure_ascii=False),
                    ts(now),
                    ts(now),
                ),
            )
            return int(cur.fetchone()[0])

    def pending_messages(self, destination: str) -> list[Message]:
        """Unsent messages for ``destination``, in the order they must go out."""
        rows = self._rows(
            f"SELECT {_MESSAGE_COLS} FROM outbox WHERE destination = ? AND status = 'pending' ORDER BY id",
            (destination,),
        )
        return [_message(r) for r in rows]

    def next_attempt_at(self, message_id: int) -> datetime:
        row = self._one("SELECT next_attempt_at FROM outbox WHERE id = ?", (message_id,))
        if row is None:
            raise NotFound(f"no outbox message {message_id}")
        return dt_(row[0])

    def message_ref(self, message_id: int) -> tuple[str | None, str]:
        """(remote ref, status) of a message."""
        row = self._one("SELECT remote_ref, status FROM outbox WHERE id = ?", (message_id,))
        if row is None:
            raise NotFound(f"no outbox message {message_id}")
        return row[0], row[1]

    def first_message(self, incident_id: int, destination: str, kind: str) -> int | None:
        row = self._one(
            "SELECT id FROM outbox WHERE incident_id = ? AND destination = ? AND kind = ? ORDER BY id LIMIT 1",
            (incident_id, destination, kind),
        )
        return None if row is None else int(row[0])

    def mark_sent(self, message_id: int, receipt: Receipt, now: datetime) -> None:
        """Record that the remote accepted the message; any claim on it ends."""
        self._exec(
            """UPDATE outbox SET status = 'sent', remote_ref = ?, remote_channel = ?, sent_at = ?,
               attempts = attempts + 1, claimed_by = NULL, claimed_until = NULL WHERE id = ?""",
            (receipt.ref, receipt.channel, ts(now), message_id),
        )

    def mark_failed(
        self, message_id: int, error: str, *, retry_at: datetime | None, maybe_arrived: bool = True
    ) -> None:
        """Record a failed attempt; ``retry_at`` None gives up on the message for good.

        Any claim on the message ends. The start of the attempt stays recorded: a request
        that failed (a time-out, a reset) may still have reached the remote, so the next
        attempt first looks for it there (``Claim.attempt_started_at``). ``maybe_arrived``
        False (the remote answered with an error) clears ``Claim.last_attempt_at``.
        """
        if not maybe_arrived:
            self._exec("UPDATE outbox SET last_attempt_at = NULL WHERE id = ?", (message_id,))
        if retry_at is None:
            self._exec(
                """UPDATE outbox SET status = 'failed', last_error = ?, attempts = attempts + 1,
                   claimed_by = NULL, claimed_until = NULL WHERE id = ?""",
                (error, message_id),
            )
        else:
            self._exec(
                """UPDATE outbox SET last_error = ?, attempts = attempts + 1, next_attempt_at = ?,
                   claimed_by = NULL, claimed_until = NULL WHERE id = ?""",
                (error, ts(retry_at), message_id),
            )

    def claim_message(self, message_id: int, owner: str, now: datetime, until: datetime) -> Claim | None:
        """Claim a pending message for sending until ``until``; None when it is not claimable.

        One atomic ``UPDATE``: a message still claimed by another owner (``claimed_until``
        not past), or no longer pending, is not claimed, so two daemons never send it both.
        Claiming again one's own claim extends it.
        """
        row = self._one(
            """UPDATE outbox SET claimed_by = ?, claimed_until = ?
               WHERE id = ? AND status = 'pending'
               AND (claimed_by IS NULL OR claimed_by = ? OR claimed_until IS NULL OR claimed_until <= ?)
               RETURNING attempt_started_at, last_attempt_at""",
            (owner, ts(until), message_id, owner, ts(now)),
        )
        return None if row is None else Claim(message_id, dt(row[0]), dt(row[1]))

    def mark_attempting(self, message_id: int, now: datetime) -> None:
        """Persist that an attempt to send the message starts now (before calling the remote).

        The first start is kept, and this one as the last; ``mark_sent`` ends the uncertainty.
        """
        self._exec(
            "UPDATE outbox SET attempt_started_at = COALESCE(attempt_started_at, ?), last_attempt_at = ? WHERE id = ?",
            (ts(now), ts(now), message_id),
        )

    def outbox_counts(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._rows("SELECT status, COUNT(*) FROM outbox GROUP BY status")}

    def oldest_pending_message(self) -> datetime | None:
        """When the oldest message still waiting in the outbox was queued (None: none waits)."""
        row = self._one("SELECT MIN(created_at) FROM outbox WHERE status = 'pending'")
        return dt(row[0]) if row else None

    def messages(self, incident_id: int | None = None) -> list[tuple[Message, str]]:
        where, params = ("WHERE incident_id = ?", (incident_id,)) if incident_id is not None else ("", ())
        rows = self._rows(f"SELECT {_MESSAGE_COLS}, status FROM outbox {where} ORDER BY id", params)
        return [(_message(r[:-1]), r[-1]) for r in rows]

    # -- replay protection (signed Slack requests) ------------------------------------------

    def first_sighting(self, key: str, now: datetime, keep: timedelta) -> bool:
        """Record ``key``; True the first time, False when it was seen within ``keep`` already.

        One atomic insert, so of several daemons receiving the same request at once only one
        gets True; keys older than ``keep`` are forgotten.
        """
        with self.transaction():
            self._exec("DELETE FROM slack_requests_seen WHERE seen_at < ?", (ts(now - keep),))
            row = self._one(
                "INSERT INTO slack_requests_seen (digest, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING "
                "RETURNING digest",
                (key, ts(now)),
            )
        return row is not None

    # -- leases ------------------------------------------------------------------------

    def try_lease(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take the lease ``name`` for ``owner`` until ``now + ttl``, or renew it; True if held.

        Succeeds when nobody holds the lease, when its holder let it expire, or when
        ``owner`` already holds it. One atomic statement (``INSERT … ON CONFLICT DO UPDATE …
        WHERE``): of several daemons asking at once, exactly one gets a free lease.
        """
        row = self._one(
            """INSERT INTO leases (name, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
               acquired_at = CASE WHEN leases.owner = excluded.owner THEN leases.acquired_at
                                  ELSE excluded.acquired_at END
               WHERE leases.owner = excluded.owner OR leases.expires_at <= excluded.acquired_at
               RETURNING owner""",
            (name, owner, ts(now), ts(now + ttl)),
        )
        return row is not None

    def release(self, name: str, owner: str) -> None:
        """Give the lease up, if ``owner`` holds it, so that another daemon can take it now."""
        self._exec("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    def release_all(self, owner: str) -> int:
        """Give up every lease of ``owner`` (a daemon stopping, or one found dead)."""
        return max(int(self._exec("DELETE FROM leases WHERE owner = ?", (owner,)).rowcount), 0)

    def leases(self, prefix: str = "", *, live_at: datetime | None = None) -> list[Lease]:
        """Leases whose name starts with ``prefix``, by name; only unexpired ones with ``live_at``."""
        where = "substr(name, 1, ?) = ?"  # not LIKE: names may contain % and _
        params: list[Any] = [len(prefix), prefix]
        if live_at is not None:
            where += " AND expires_at > ?"
            params.append(ts(live_at))
        rows = self._rows(
            f"SELECT name, owner, acquired_at, expires_at FROM leases WHERE {where} ORDER BY name", params
        )
        return [Lease(r[0], r[1], dt_(r[2]), dt_(r[3])) for r in rows]

    # -- sources -----------------------------------------------------------------------

    def record_fetch(self, name: str, now: datetime, *, error: str | None, items: int) -> None:
        with self.transaction():
            self._exec("INSERT INTO source_state (name) VALUES (?) ON CONFLICT DO NOTHING", (name,))
            if error is None:
                self._exec(
                    """UPDATE source_state SET last_attempt = ?, last_success = ?, consecutive_failures = 0,
                       items_total = items_total + ? WHERE name = ?""",
                    (ts(now), ts(now), items, name),
                )
            else:
                self._exec(
                    """UPDATE source_state SET last_attempt = ?, last_error = ?, last_error_at = ?,
                       consecutive_failures = consecutive_failures + 1, total_failures = total_failures + 1,
                       items_total = items_total + ? WHERE name = ?""",
                    (ts(now), error, ts(now), items, name),
                )

    def source_health(self) -> list[SourceHealth]:
        rows = self._rows(
            """SELECT name, last_attempt, last_success, last_error, last_error_at, consecutive_failures,
               total_failures, items_total FROM source_state ORDER BY name"""
        )
        return [SourceHealth(r[0], dt(r[1]), dt(r[2]), r[3], dt(r[4]), int(r[5]), int(r[6]), int(r[7])) for r in rows]

    def source_data(self, name: str) -> dict[str, Any]:
        row = self._one("SELECT data FROM source_state WHERE name = ?", (name,))
        return {} if row is None else dict(json.loads(row[0]))

    def put_source_data(self, name: str, data: Mapping[str, Any]) -> None:
        with self.transaction():
            self._exec("INSERT INTO source_state (name) VALUES (?) ON CONFLICT DO NOTHING", (name,))
            self._exec("UPDATE source_state SET data = ? WHERE name = ?", (json.dumps(dict(data)), name))

    # -- source health: monitor.runtime.health and `crisismon sources` (begin) -----------------

    def source_health_of(self, name: str) -> SourceHealth | None:
        """One source's row of ``source_health``; None when it was never polled."""
        row = self._one(
            """SELECT name, last_attempt, last_success, last_error, last_error_at, consecutive_failures,
               total_failures, items_total FROM source_state WHERE name = ?""",
            (name,),
        )
        if row is None:
            return None
        return SourceHealth(row[0], dt(row[1]), dt(row[2]), row[3], dt(row[4]), int(row[5]), int(row[6]), int(row[7]))

    def update_source_data(self, name: str, section: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into ``source_data(name)[section]`` atomically (None deletes a key).

        Several writers share a source's data (the source's own state, health markers), so
        each updates only its section. Returns the whole data after the change.
        """
        with self.transaction():
            data = self.source_data(name)
            part = dict(data.get(section) or {})
            for key, value in changes.items():
                if value is None:
                    part.pop(key, None)
                else:
                    part[key] = value
            data[section] = part
            self.put_source_data(name, data)
            return data

    def items_fetched_since(self, since: datetime) -> dict[str, int]:
        """Items stored after ``since``, per source (only sources with some)."""
        rows = self._rows("SELECT source, COUNT(*) FROM items WHERE fetched_at > ? GROUP BY source", (ts(since),))
        return {r[0]: int(r[1]) for r in rows}

    # -- source health (end) --------------------------------------------------------------


_INCIDENT_COLS = (
    "id, rule_id, group_key, playbook, title, status, severity, opened_at, updated_at, resolved_at, "
    "closed_at, acknowledged_by, evidence, top_items, summary"
)
_MESSAGE_COLS = "id, destination, kind, payload, incident_id, thread_of, update_of, attempts"


def _message(row: tuple[Any, ...]) -> Message:
    return Message(
        id=int(row[0]),
        destination=row[1],
        kind=row[2],
        payload=json.loads(row[3]),
        incident_id=row[4],
        thread_of=row[5],
        update_of=row[6],
        attempts=int(row[7]),
    )


ITEM_COLUMNS = (
    "source", "id", "published_at", "fetched_at", "kind", "title", "text", "url",
    "category", "count", "attrs", "sentiment", "lang", "norm", "tokens", "story_id",
)  # fmt: skip
"""The columns of ``_item_row``, in its order."""


def _item_row(s: ScoredItem, fetched_at: datetime) -> tuple[Any, ...]:
    it = s.item
    return (
        it.source,
        it.id,
        ts(it.published_at),
        ts(fetched_at),
        it.kind,
        it.title,
        it.text,
        it.url,
        s.category,
        it.count,
        json.dumps(dict(it.attrs), ensure_ascii=False),
        s.sentiment,
        s.lang,
        s.norm if s.tokens is not None else None,
        s.tokens,
        s.story,
    )


def _scored_from_row(r: tuple[Any, ...]) -> ScoredItem:
    item = Item(
        source=r[0],
        id=r[1],
        published_at=dt_(r[2]),
        kind=r[3],
        title=r[4],
        text=r[5],
        url=r[6],
        category=r[7],
        count=int(r[8]),
        attrs=json.loads(r[9]),
    )
    return ScoredItem(
        item=item,
        sentiment=r[10],
        category=r[7],
        lang=r[11],
        norm=r[12] or "",
        tokens=r[13],
        story=None if r[14] is None else int(r[14]),
    )


def _dump_evidence(evidence: Sequence[Evidence]) -> str:
    return json.dumps([asdict(e) for e in evidence])


def _dump_top(items: Sequence[TopItem]) -> str:
    return json.dumps([{**asdict(t), "published_at": ts(t.published_at)} for t in items], ensure_ascii=False)


def _top_from(d: dict[str, Any]) -> TopItem:
    fields = {**d, "published_at": dt_(d["published_at"])}
    if "sources" in fields:
        fields["sources"] = tuple(fields["sources"])
    return TopItem(**fields)


def _dump_summary(summary: Summary | None) -> str | None:
    return None if summary is None else json.dumps(asdict(summary), ensure_ascii=False)


def _summary_from(text: str | None) -> Summary | None:
    if not text:
        return None
    d = json.loads(text)
    return Summary(
        items=int(d["items"]),
        stories=int(d["stories"]),
        sources=tuple((str(s), int(n)) for s, n in d["sources"]),
        terms=tuple((str(t), float(lift), int(n)) for t, lift, n in d["terms"]),
        authors=tuple((str(a), None if r is None else int(r), int(n)) for a, r, n in d["authors"]),
        other_languages=int(d["other_languages"]),
        unscored=int(d["unscored"]),
    )
