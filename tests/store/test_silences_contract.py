"""Silences in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.errors import NotFound
from monitor.incidents import silences
from monitor.store import SqlStore

NOW = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)


def test_a_silence_is_stored_listed_and_expired(store: SqlStore) -> None:
    made = silences.create_from_text(store, 'rule=launch_spike group=~"product=X1.*" for 2h 新品发布会', "王芳", NOW)
    assert [str(m) for m in made.matchers] == ["rule=launch_spike", "group=~product=X1.*"]
    assert (made.starts_at, made.ends_at, made.author, made.comment) == (
        NOW,
        NOW + timedelta(hours=2),
        "王芳",
        "新品发布会",
    )
    assert silences.list_silences(store, NOW) == [made]
    ended = silences.expire(store, made.id, NOW + timedelta(minutes=30), by="李强")
    assert (ended.ends_at, ended.ended_by) == (NOW + timedelta(minutes=30), "李强")
    assert silences.list_silences(store, NOW + timedelta(hours=1)) == []
    assert silences.list_silences(store, NOW + timedelta(hours=1), include_ended=True) == [ended]
    with pytest.raises(silences.SilenceError, match="already ended"):
        silences.expire(store, made.id, NOW + timedelta(hours=1))


def test_an_unknown_silence_is_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound, match="no silence 41"):
        silences.expire(store, 41, NOW)


def test_a_silence_in_advance_is_pending_until_it_starts(store: SqlStore) -> None:
    made = silences.create_from_text(
        store, "playbook=product_quality from 2026-11-25T09:00+08:00 for 6h 发布会", "li", NOW
    )
    assert made.starts_at == datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert silences.state(made, NOW) == "pending"
    assert silences.state(made, made.starts_at) == "active"
    assert silences.state(made, made.ends_at) == "ended"
