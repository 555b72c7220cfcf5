"""Store rows of each rule's hits: ``rule_hits``, ``rule_groups``, ``rule_hours`` and what
was built (``rule_hits_built``, ``rule_hours_built``).

A mixin of :class:`monitor.store.sql.SqlStore` (its ``_exec``/``_rows``/``_one``), kept in
its own module like the silences. What a hit *is* and when hits are rebuilt is decided in
``monitor.detect.hits`` (whose ``HitStore`` protocol names these methods); here is only how
they are kept. Times are stored as POSIX seconds, as the items' are.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from monitor.detect.hits import EdgeRow, HitRow, HourKey, HourRow
from monitor.detect.window import Aggregate


class _Rows(Protocol):
    def _exec(self, statement: str, params: Sequence[Any] = ()) -> Any: ...
    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    def _one(self, statement: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...
    def transaction(self) -> AbstractContextManager[None]: ...
    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> int: ...
    def units_sql(self, column: str) -> str: ...
    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int: ...


HIT_COLUMNS = ("rule_id", "source", "item_id", "published_at", "group_key", "marks", "count", "sentiment", "story_id")
"""The columns of a ``HitRow``, in its order."""
_BUILT_TABLES = ("rule_hits_built", "rule_hits", "rule_groups", "rule_hours_built", "rule_hours")


class HitRows:
    """Each rule's hits, latest hit per group, hourly sums, and which of them are built."""

    # -- hits ----------------------------------------------------------------------------

    def add_hits(self: _Rows, rows: Sequence[HitRow]) -> int:
        """Store hits not stored yet; how many were new."""
        return self.insert_new("rule_hits", HIT_COLUMNS, rows)

    def hit_rows(
        self: _Rows, rule_id: str, start: float, end: float, groups: Collection[str] | None = None
    ) -> list[HitRow]:
        """The rule's hits published in ``(start, end]`` (of ``groups``; None: all), oldest first."""
        if groups is not None and len(groups) > 500:  # many groups: all of them, filtered here
            return [r for r in HitRows.hit_rows(self, rule_id, start, end) if r[4] in groups]
        where, params = "", [rule_id, start, end]
        if groups is not None:
            where = f" AND group_key IN ({','.join('?' * len(groups))})" if groups else " AND 1 = 0"
            params.extend(sorted(groups))
        rows = self._rows(
            "SELECT rule_id, source, item_id, published_at, group_key, marks, count, sentiment, story_id "
            f"FROM rule_hits WHERE rule_id = ? AND published_at > ? AND published_at <= ?{where} "
            "ORDER BY published_at, source, item_id",
            params,
        )
        return [
            (
                str(r[0]),
                str(r[1]),
                str(r[2]),
                float(r[3]),
                str(r[4]),
                int(r[5]),
                int(r[6]),
                None if r[7] is None else float(r[7]),
                None if r[8] is None else int(r[8]),
            )
            for r in rows
        ]

    def hit_totals(
        self: _Rows, rule_id: str, marks: int, start: float, end: float, cut: float, groups: Collection[str]
    ) -> dict[str, Aggregate]:
        """Per group, the totals of the rule's hits with any of ``marks`` published in ``(start,
        end]`` (``monitor.detect.window.aggregate``'s, counted by the database, sentiment sum
        aside: 0), so that distinct stories need no hits read."""
        found: dict[str, Aggregate] = {}
        wanted = sorted(groups)
        for first in range(0, len(wanted), 500):
            chunk = wanted[first : first + 500]
            rows = self._rows(
                "SELECT group_key, SUM(count), SUM(CASE WHEN sentiment < ? THEN count ELSE 0 END), "
                "SUM(CASE WHEN sentiment IS NOT NULL THEN count ELSE 0 END), "
                "SUM(CASE WHEN story_id IS NULL THEN count ELSE 0 END), "
                "SUM(CASE WHEN story_id IS NULL AND sentiment < ? THEN count ELSE 0 END), "
                "COUNT(DISTINCT story_id), COUNT(DISTINCT CASE WHEN sentiment < ? THEN story_id END) "
                "FROM rule_hits WHERE rule_id = ? AND published_at > ? AND published_at <= ? AND (marks & ?) != 0 "
                f"AND group_key IN ({','.join('?' * len(chunk))}) GROUP BY group_key",
                (cut, cut, cut, rule_id, start, end, marks, *chunk),
            )
            for group, count, negative, scored, lone, lone_negative, stories, negative_stories in rows:
                found[str(group)] = Aggregate(
                    int(count),
                    int(negative),
                    int(scored),
                    0,
                    int(lone) + int(stories),
                    int(lone_negative) + int(negative_stories),
                )
        return found

    def hit_buckets(
        self: _Rows, rule_id: str, marks: int, start: float, end: float, size: float, cut: float, stories: bool
    ) -> list[tuple[str, float, Aggregate]]:
        """Per group and bucket of ``size`` seconds (each ``(E - size, E]``, ``E`` a multiple of
        ``size``), the totals of the rule's hits with any of ``marks`` published in ``(start,
        end]``, as ``monitor.detect.window.aggregate`` totals them (distinct stories only when
        ``stories``): an anomaly detector's history without reading its hits."""
        # ``CAST(x AS BIGINT)`` truncates on SQLite and rounds on PostgreSQL: either way it is the
        # floor or the ceiling of the quotient, and the comparison with ``published_at`` (exact:
        # whole buckets of whole seconds) picks the bucket's end.
        distinct = (
            "COUNT(DISTINCT story_id), COUNT(DISTINCT CASE WHEN sentiment < ? THEN story_id END)" if stories else "0, 0"
        )
        rows = self._rows(
            "SELECT group_key, k, SUM(count), SUM(CASE WHEN sentiment < ? THEN count ELSE 0 END), "
            "SUM(CASE WHEN sentiment IS NOT NULL THEN count ELSE 0 END), "
            "SUM(CASE WHEN story_id IS NULL THEN count ELSE 0 END), "
            f"SUM(CASE WHEN story_id IS NULL AND sentiment < ? THEN count ELSE 0 END), {distinct}, "
            f"SUM(CASE WHEN sentiment IS NOT NULL THEN {self.units_sql('sentiment')} * count ELSE 0 END) "
            "FROM (SELECT group_key, count, sentiment, story_id, CAST(published_at / ? AS BIGINT) + CASE WHEN "
            "published_at > CAST(published_at / ? AS BIGINT) * ? THEN 1 ELSE 0 END AS k FROM rule_hits "
            "WHERE rule_id = ? AND published_at > ? AND published_at <= ? AND (marks & ?) != 0) AS hits "
            "GROUP BY group_key, k",
            (cut, cut, *((cut,) if stories else ()), size, size, size, rule_id, start, end, marks),
        )
        return [
            (
                str(group),
                int(k) * size,
                Aggregate(
                    int(count),
                    int(negative),
                    int(scored),
                    int(units),
                    int(lone) + int(distinct_stories),
                    int(lone_negative) + int(negative_stories),
                ),
            )
            for group, k, count, negative, scored, lone, lone_negative, distinct_stories, negative_stories, units in (
                rows
            )
        ]

    def hit_span(self: _Rows, rule_id: str) -> tuple[float, float] | None:
        """When the rule's first and last stored hits were published (None: it has none)."""
        row = self._one("SELECT MIN(published_at), MAX(published_at) FROM rule_hits WHERE rule_id = ?", (rule_id,))
        return None if row is None or row[0] is None else (float(row[0]), float(row[1]))

    # -- each group's latest hit -----------------------------------------------------------

    def touch_rule_groups(self: _Rows, latest: Mapping[tuple[str, str], float]) -> None:
        """Move each (rule, group)'s latest hit forward to ``latest``'s time (never back)."""
        if not latest:
            return
        self.executemany(
            "INSERT INTO rule_groups (rule_id, group_key, last_at) VALUES (?, ?, ?) ON CONFLICT (rule_id, group_key) "
            "DO UPDATE SET last_at = CASE WHEN excluded.last_at > rule_groups.last_at THEN excluded.last_at "
            "ELSE rule_groups.last_at END",
            [(rule, group, at) for (rule, group), at in sorted(latest.items())],
        )

    def rule_groups_since(self: _Rows, rule_id: str, start: float) -> list[tuple[str, float]]:
        """Each group whose latest hit is after ``start``, with that time."""
        rows = self._rows(
            "SELECT group_key, last_at FROM rule_groups WHERE rule_id = ? AND last_at > ?", (rule_id, start)
        )
        return [(str(group), float(at)) for group, at in rows]

    def group_has_hit(self: _Rows, rule_id: str, group: str, start: float, end: float) -> bool:
        """Whether the rule has a hit of ``group`` published in ``(start, end]``."""
        return (
            self._one(
                "SELECT 1 FROM rule_hits WHERE rule_id = ? AND group_key = ? AND published_at > ? "
                "AND published_at <= ? LIMIT 1",
                (rule_id, group, start, end),
            )
            is not None
        )

    # -- hourly sums ---------------------------------------------------------------------

    def add_rule_hours(self: _Rows, sums: Mapping[HourKey, Aggregate]) -> None:
        """Add sums (their count, negative, scored and sentiment units) to the stored hours."""
        if not sums:
            return
        self.executemany(
            "INSERT INTO rule_hours (rule_id, group_key, hour, bit, count, negative, scored, sentiment_units) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rule_id, hour, group_key, bit) DO UPDATE SET "
            "count = rule_hours.count + excluded.count, negative = rule_hours.negative + excluded.negative, "
            "scored = rule_hours.scored + excluded.scored, "
            "sentiment_units = rule_hours.sentiment_units + excluded.sentiment_units",
            [(*key, a.count, a.negative, a.scored, a.sentiment_units) for key, a in sorted(sums.items())],
        )

    def rule_hours_with_edges(
        self: _Rows, rule_id: str, start: float, end: float, spans: Sequence[tuple[float, float]], cut: float
    ) -> tuple[list[HourRow], list[EdgeRow]]:
        """``rule_hours`` of the hours ending in ``(start, end]``, and the sums of the rule's hits
        in each of ``spans`` (each ``(start, end]``) per group and ``marks``, negative below
        ``cut``, read by one statement: one snapshot of both, so that a sum and the part of it
        taken away agree while other connections write."""
        parts, params = [], []
        if start < end:
            parts.append(
                "SELECT -1, group_key, bit, hour, count, negative, scored, sentiment_units "
                "FROM rule_hours WHERE rule_id = ? AND hour > ? AND hour <= ?"
            )
            params += [rule_id, start, end]
        units = self.units_sql("sentiment")
        for index, (low, high) in enumerate(spans):  # a branch each: its range of the (rule_id, published_at) index
            parts.append(
                f"SELECT {index}, group_key, marks, 0, SUM(count), SUM(CASE WHEN sentiment < ? THEN count ELSE 0 END), "
                "SUM(CASE WHEN sentiment IS NOT NULL THEN count ELSE 0 END), "
                f"SUM(CASE WHEN sentiment IS NOT NULL THEN {units} * count ELSE 0 END) "
                "FROM rule_hits WHERE rule_id = ? AND published_at > ? AND published_at <= ? GROUP BY group_key, marks"
            )
            params += [cut, rule_id, low, high]
        hours: list[HourRow] = []
        edges: list[EdgeRow] = []
        if not parts:
            return hours, edges
        for index, group, bit, hour, count, negative, scored, sentiment_units in self._rows(
            " UNION ALL ".join(parts), params
        ):
            summed = (int(count), int(negative), int(scored), int(sentiment_units))
            if int(index) < 0:
                hours.append((str(group), int(bit), float(hour), *summed))
            else:
                edges.append((int(index), str(group), int(bit), *summed))
        return hours, edges

    def clear_rule_hours(self: _Rows, rule_id: str, start: float, end: float) -> None:
        """Remove the rule's sums of the hours ending in ``(start, end]``."""
        self._exec("DELETE FROM rule_hours WHERE rule_id = ? AND hour > ? AND hour <= ?", (rule_id, start, end))

    # -- what was built ------------------------------------------------------------------

    def hits_built(self: _Rows, rule_id: str) -> tuple[str, float] | None:
        """The fingerprint the rule's hits were built for, and since when they are complete."""
        row = self._one("SELECT fingerprint, since FROM rule_hits_built WHERE rule_id = ?", (rule_id,))
        return None if row is None else (str(row[0]), float(row[1]))

    def set_hits_built(self: _Rows, rule_id: str, fingerprint: str, since: float, built_at: float) -> None:
        self._exec(
            "INSERT INTO rule_hits_built (rule_id, fingerprint, since, built_at) VALUES (?, ?, ?, ?)",
            (rule_id, fingerprint, since, built_at),
        )

    def hours_built(self: _Rows, rule_id: str) -> str | None:
        """The fingerprint the rule's hourly sums were built for."""
        row = self._one("SELECT fingerprint FROM rule_hours_built WHERE rule_id = ?", (rule_id,))
        return None if row is None else str(row[0])

    def set_hours_built(self: _Rows, rule_id: str, fingerprint: str) -> None:
        self._exec("INSERT INTO rule_hours_built (rule_id, fingerprint) VALUES (?, ?)", (rule_id, fingerprint))

    def forget_hours(self: _Rows, rule_id: str) -> None:
        """Remove the rule's hourly sums and their build mark."""
        with self.transaction():
            for table in _BUILT_TABLES[3:]:
                self._exec(f"DELETE FROM {table} WHERE rule_id = ?", (rule_id,))

    def forget_hits(self: _Rows, rule_id: str) -> None:
        """Remove everything kept of the rule's hits (hits, groups, sums and build marks)."""
        with self.transaction():
            for table in _BUILT_TABLES:
                self._exec(f"DELETE FROM {table} WHERE rule_id = ?", (rule_id,))
