"""Store rows for notification control: silences, and where a message was delivered.

A mixin of :class:`monitor.store.sql.SqlStore` (its ``_exec``/``_rows``/``_one``), kept in
its own module so the silences and routing live apart from the rest of the store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from monitor.errors import NotFound
from monitor.models import Delivery, Matcher, Silence

_COLS = "id, matchers, starts_at, ends_at, author, comment, created_at, ended_by"


class _Rows(Protocol):
    def _exec(self, statement: str, params: Sequence[Any] = ()) -> Any: ...
    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    def _one(self, statement: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...
    def transaction(self) -> AbstractContextManager[None]: ...
    def _insert_silence(
        self,
        matchers: Sequence[Matcher],
        starts_at: datetime,
        ends_at: datetime,
        author: str,
        comment: str,
        created_at: datetime,
    ) -> int: ...


class NotifyRows:
    """Silences (``silences`` table) and the outbox's delivery details."""

    def add_silence(
        self: _Rows,
        matchers: Sequence[Matcher],
        *,
        starts_at: datetime,
        ends_at: datetime,
        author: str,
        comment: str,
        created_at: datetime,
    ) -> int:
        with self.transaction():  # read the id before committing: SQLite cannot commit mid-statement
            return self._insert_silence(matchers, starts_at, ends_at, author, comment, created_at)

    def _insert_silence(
        self: _Rows,
        matchers: Sequence[Matcher],
        starts_at: datetime,
        ends_at: datetime,
        author: str,
        comment: str,
        created_at: datetime,
    ) -> int:
        cur = self._exec(
            """INSERT INTO silences (matchers, starts_at, ends_at, author, comment, created_at)
               VALUES (?, ?, ?, ?, ?, ?) RETURNING id""",
            (
                json.dumps([[m.label, m.op, m.value] for m in matchers], ensure_ascii=False),
                starts_at.timestamp(),
                ends_at.timestamp(),
                author,
                comment,
                created_at.timestamp(),
            ),
        )
        return int(cur.fetchone()[0])

    def silence(self: _Rows, silence_id: int) -> Silence:
        row = self._one(f"SELECT {_COLS} FROM silences WHERE id = ?", (silence_id,))
        if row is None:
            raise NotFound(f"no silence {silence_id}: `crisismon silence list --all` shows them")
        return _silence(row)

    def silences(self: _Rows, *, ending_after: datetime | None = None) -> list[Silence]:
        """All silences, oldest first; with ``ending_after``, only those not ended by then
        (the active ones and those still to come)."""
        if ending_after is None:
            rows = self._rows(f"SELECT {_COLS} FROM silences ORDER BY id")
        else:
            rows = self._rows(
                f"SELECT {_COLS} FROM silences WHERE ends_at > ? ORDER BY id", (ending_after.timestamp(),)
            )
        return [_silence(r) for r in rows]

    def end_silence(self: _Rows, silence_id: int, at: datetime, by: str | None = None) -> None:
        """End a silence at ``at`` (one still to come ends before it starts); ``by``: who ended it."""
        self._exec("UPDATE silences SET ends_at = ?, ended_by = ? WHERE id = ?", (at.timestamp(), by, silence_id))

    def mark_silenced(self: _Rows, message_id: int, silence_id: int) -> None:
        """A message not sent because of a silence: it leaves the queue (status ``silenced``)."""
        self._exec(
            """UPDATE outbox SET status = 'silenced', last_error = ?, claimed_by = NULL, claimed_until = NULL
               WHERE id = ? AND status = 'pending'""",
            (f"silenced by silence {silence_id}", message_id),
        )

    def deliveries(self: _Rows, incident_id: int) -> list[Delivery]:
        """Where each message of an incident stands, oldest first."""
        rows = self._rows(
            """SELECT id, destination, kind, status, remote_channel, remote_ref, attempts, last_error, next_attempt_at
               FROM outbox WHERE incident_id = ? ORDER BY id""",
            (incident_id,),
        )
        return [
            Delivery(int(r[0]), r[1], r[2], r[3], r[4], r[5], int(r[6]), r[7], datetime.fromtimestamp(float(r[8]), UTC))
            for r in rows
        ]

    def message_channel(self: _Rows, message_id: int) -> str | None:
        """The channel a delivered message went to (as the remote named it), else None."""
        row = self._one("SELECT remote_channel FROM outbox WHERE id = ?", (message_id,))
        return None if row is None or row[0] is None else str(row[0])


def _silence(row: tuple[Any, ...]) -> Silence:
    return Silence(
        id=int(row[0]),
        matchers=tuple(Matcher(str(m[0]), m[1], str(m[2])) for m in json.loads(row[1])),
        starts_at=datetime.fromtimestamp(float(row[2]), UTC),
        ends_at=datetime.fromtimestamp(float(row[3]), UTC),
        author=str(row[4]),
        comment=str(row[5]),
        created_at=datetime.fromtimestamp(float(row[6]), UTC),
        ended_by=row[7],
    )
