"""Every incident operation from Slack, through signed requests, the real slack-sdk client and the fake Slack."""

from __future__ import annotations

from monitor.config.roster import Roster
from monitor.testing import FakeSlackServer

from .world import LEAD, LEGAL, SPOKES, STRANGER, World, option_value, text_value, user_value


def kinds(world: World, incident_id: int) -> list[str]:
    return [e.kind for e in world.timeline(incident_id)]


def test_acknowledge_records_the_roster_name_not_the_slack_handle(world: World) -> None:
    incident_id = world.open_incident()
    response = world.click(LEAD, "ack", world.button_value(incident_id, "ack"))
    assert response.status_code == 200
    incident = world.incident(incident_id)
    assert incident.status.value == "acknowledged" and incident.acknowledged_by == "王芳"
    assert world.timeline(incident_id)[-1].actor == "王芳"
    world.deliver()
    assert any("acknowledged by 王芳" in m.text for m in world.fake.messages)


def test_unknown_users_are_refused_with_an_ephemeral_message(world: World) -> None:
    incident_id = world.open_incident()
    before = kinds(world, incident_id)
    world.click(STRANGER, "ack", {"incident": incident_id})
    assert world.incident(incident_id).status.value == "open" and kinds(world, incident_id) == before
    (notice,) = world.fake.ephemerals
    assert notice["user"] == STRANGER and "not in the roster" in notice["text"] and STRANGER in notice["text"]


def test_without_slack_only_known_strangers_act_under_their_slack_name(world: World) -> None:
    world.roster = Roster(people=world.roster.people, slack_only_known=False)
    incident_id = world.open_incident()
    world.click(STRANGER, "ack", {"incident": incident_id})
    assert world.incident(incident_id).acknowledged_by == f"user-{STRANGER.lower()} (slack:{STRANGER})"


def test_mark_stable_then_resolve_then_close_without_confirmation(world: World) -> None:
    incident_id = world.open_incident()
    world.click(LEAD, "ack", {"incident": incident_id})
    world.deliver()
    world.click(LEAD, "stable", world.button_value(incident_id, "stable"))
    assert world.incident(incident_id).status.value == "stable"
    world.click(LEGAL, "resolve", {"incident": incident_id})
    assert world.incident(incident_id).status.value == "resolved"
    world.click(LEAD, "close", {"incident": incident_id})
    assert world.incident(incident_id).status.value == "closed"
    assert world.fake.views == []  # a resolved incident closes at once
    actors = {e.kind: e.actor for e in world.timeline(incident_id)}
    assert actors["stable"] == "王芳" and actors["resolved"] == "陈律师" and actors["closed"] == "王芳"


def test_closing_an_unresolved_incident_needs_the_confirmation_modal(world: World) -> None:
    incident_id = world.open_incident()
    world.click(LEAD, "close", {"incident": incident_id})
    assert world.incident(incident_id).status.value == "open"  # only the modal opened
    view = world.last_view("close_confirm")
    assert "not resolved" in view["blocks"][1]["text"]["text"]
    response = world.submit(LEAD, view, {})
    assert response.json() == {"response_action": "clear"}
    assert world.incident(incident_id).status.value == "closed"
    world.deliver()
    assert any("closed by 王芳 (forced)" in m.text for m in world.fake.messages)


def test_a_refused_action_says_why_and_changes_nothing(world: World) -> None:
    incident_id = world.open_incident()
    world.click(LEAD, "stable", {"incident": incident_id})  # not acknowledged yet
    assert world.incident(incident_id).status.value == "open"
    assert "acknowledge it before marking it stable" in world.fake.ephemerals[-1]["text"]


def test_status_update_is_posted_to_the_thread_and_recorded(world: World) -> None:
    incident_id = world.open_incident()
    world.click(LEAD, "status_update", {"incident": incident_id})
    view = world.last_view("status_update")
    response = world.submit(SPOKES, view, {"text": text_value("已联系首批投诉用户，退货通道已开通。")})
    assert response.json() == {"response_action": "clear"}
    (entry,) = [e for e in world.timeline(incident_id) if e.kind == "status_update"]
    assert entry.actor == "刘洋" and entry.detail["text"] == "已联系首批投诉用户，退货通道已开通。"
    world.deliver()
    alert_ts = world.fake.messages[0].ts
    replies = [m for m in world.fake.messages if m.thread_ts == alert_ts]
    assert any("Status update from 刘洋: 已联系首批投诉用户" in m.text for m in replies)


def test_assign_a_commander_and_the_owner_of_an_item(world: World) -> None:
    incident_id = world.open_incident()
    world.click(LEAD, "assign", {"incident": incident_id})
    view = world.last_view("assign")
    item = world.incident(incident_id).checklist[1].item_id
    values = {"commander": user_value(SPOKES), "item": option_value(item), "owner": user_value(LEGAL)}
    assert world.submit(LEAD, view, values).json() == {"response_action": "clear"}
    assigned = world.ops.assignments(incident_id)
    assert assigned.commander == "刘洋" and assigned.owners == {item: "陈律师"}
    assert [e.actor for e in world.timeline(incident_id) if e.kind in ("commander", "owner")] == ["王芳", "王芳"]
    shown = world.command(LEAD, f"show {incident_id}").json()["text"]
    assert "Commander: 刘洋" in shown and "— 陈律师" in shown


def test_assigning_someone_outside_the_roster_changes_nothing(world: World) -> None:
    incident_id = world.open_incident()
    world.click(LEAD, "assign", {"incident": incident_id})
    response = world.submit(LEAD, world.last_view("assign"), {"commander": user_value(STRANGER)})
    assert response.json()["response_action"] == "errors"
    assert world.ops.assignments(incident_id).commander is None


def test_mute_and_tick_record_the_roster_name(world: World) -> None:
    incident_id = world.open_incident()
    world.deliver()
    world.click(LEAD, "mute", world.button_value(incident_id, "mute"), select=True)
    muted = [e for e in world.timeline(incident_id) if e.kind == "muted"]
    assert muted and muted[0].actor == "王芳" and muted[0].detail["hours"] == 1
    item = world.incident(incident_id).checklist[0].item_id
    world.click(LEAD, "tick", {"incident": incident_id, "item": item, "op": "tick"})
    assert world.incident(incident_id).checklist[0].done_by == "王芳"
    world.deliver()
    # the mute time is printed in the configured zone (Asia/Shanghai), not UTC
    assert any("reminders muted for 1 h by 王芳 (until" in m.text and "CST)" in m.text for m in world.fake.messages)


def test_signature_failures_are_refused_before_anything_happens(world: World, fake: FakeSlackServer) -> None:
    incident_id = world.open_incident()
    payload = {
        "type": "block_actions",
        "user": {"id": LEAD},
        "actions": [{"action_id": "ack", "type": "button", "value": f'{{"incident": {incident_id}}}'}],
    }
    assert world.interact(payload, age=600).status_code == 401
    assert world.interact(payload, tamper=True).status_code == 401
    assert world.command(LEAD, f"ack {incident_id}", tamper=True).status_code == 401
    assert world.command(LEAD, f"ack {incident_id}", age=-600).status_code == 401
    assert world.incident(incident_id).status.value == "open"
    assert fake.ephemerals == [] and fake.views == []


def test_a_modal_slack_refuses_to_open_is_explained(world: World, fake: FakeSlackServer) -> None:
    incident_id = world.open_incident()
    fake.fail_next("views.open", error="expired_trigger_id")
    assert world.click(LEAD, "status_update", {"incident": incident_id}).status_code == 200
    assert "Could not open the window (expired_trigger_id)" in fake.ephemerals[-1]["text"]
