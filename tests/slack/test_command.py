"""The /crisis slash command for people outside the thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import InvalidOperation

from .world import LEAD, SPOKES, STRANGER, World


def reply(world: World, user: str, text: str) -> str:
    response = world.command(user, text)
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return str(body["text"])


def test_list_show_ack_resolve_note(world: World) -> None:
    assert reply(world, LEAD, "list") == "No active incidents."
    incident_id = world.open_incident()
    listed = reply(world, LEAD, "list")
    assert listed.startswith("Active incidents (1):") and f"#{incident_id}" in listed and "CST" in listed
    assert "checklist: 0/" in reply(world, LEAD, f"show {incident_id}")
    assert reply(world, LEAD, f"ack {incident_id}").startswith(f"Done: #{incident_id}")
    assert world.incident(incident_id).acknowledged_by == "王芳"
    assert "only an open incident can be acknowledged" in reply(world, SPOKES, f"ack {incident_id}")
    reply(world, SPOKES, f"note #{incident_id} 媒体来电已转公关部")
    notes = [e for e in world.timeline(incident_id) if e.kind == "note"]
    assert [(n.actor, n.detail["text"]) for n in notes] == [("刘洋", "媒体来电已转公关部")]
    reply(world, LEAD, f"resolve {incident_id}")
    assert world.incident(incident_id).status.value == "resolved"
    assert reply(world, LEAD, "list") == "No active incidents."


def test_bad_commands_explain_themselves(world: World) -> None:
    assert reply(world, LEAD, "").startswith("Usage: `/crisis list`")
    assert reply(world, LEAD, "frobnicate 3").startswith("Usage:")
    assert reply(world, LEAD, "show 4242") == "There is no incident #4242."
    assert reply(world, LEAD, "ack abc") == "There is no incident #abc."
    incident_id = world.open_incident()
    assert "mention syntax" in reply(world, LEAD, f"note {incident_id} <!channel> hi")
    assert [e for e in world.timeline(incident_id) if e.kind == "note"] == []


def test_strangers_are_refused(world: World) -> None:
    incident_id = world.open_incident()
    assert "not in the roster" in reply(world, STRANGER, f"ack {incident_id}")
    assert world.incident(incident_id).status.value == "open"


def test_silences_go_through_the_silences_seam(world: World) -> None:
    assert reply(world, LEAD, "silence list") == "No active silences."
    created = reply(world, LEAD, "silence rule=product-quality-spike 48h 新品发布")
    assert created.startswith("Silence created: 1: rule=product-quality-spike") and "by 王芳" in created
    assert world.silences.created[0][2] == "王芳"
    assert "rule=product-quality-spike" in reply(world, LEAD, "silence list")
    assert "write matchers" in reply(world, LEAD, "silence 2h")  # the seam's own message
    assert reply(world, LEAD, "silence expire 1") == "Silence expired: 1 (by 王芳)"
    assert reply(world, LEAD, "silence list") == "No active silences."
    assert "mention syntax" in reply(world, LEAD, "silence rule=x 1h <@U0123LEAD>")
    assert len(world.silences.created) == 1


def test_store_silences_creates_lists_and_expires_real_silences(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from monitor.slack.app import StoreSilences
    from monitor.store import open_store

    store = open_store(str(tmp_path / "s.db"))
    silences = StoreSilences(store)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    line = silences.create("rule=product-quality for 2h 新品发布会", "王芳", now)
    assert "rule=product-quality" in line and "王芳" in line and "新品发布会" in line
    assert len(silences.active(now)) == 1
    assert silences.active(now + timedelta(hours=3)) == []
    assert "王芳" in silences.expire("#1", "王芳", now + timedelta(minutes=5))
    assert silences.active(now + timedelta(minutes=6)) == []
    assert store.silence(1).ended_by == "王芳"
    with pytest.raises(InvalidOperation, match="by number"):
        silences.expire("first", "王芳", now)
    store.close()
