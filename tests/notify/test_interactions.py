"""Parsing Slack block_actions payloads into Actions (after the signature check)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sample import NOW, PLAYBOOK_TITLE, RULE_DESCRIPTION, sample_incident

from monitor.slack.blocks import render_alert, render_checklist
from monitor.slack.interactions import Action, InteractionError, parse_interaction
from monitor.slack.signature import sign, verify_slack_signature

SECRET = "test-signing-secret"


def form(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def block_actions(action: dict[str, Any]) -> dict[str, Any]:
    """A block_actions payload shaped like the ones Slack sends."""
    return {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "wang.lei", "name": "wang.lei", "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0CRISIS01"},
        "trigger_id": "123.456.abc",
        "team": {"id": "T0001", "domain": "acme"},
        "channel": {"id": "C0CRISIS01", "name": "crisis"},
        "message": {"ts": "1700000000.000100", "text": "..."},
        "response_url": "https://hooks.slack.com/actions/T0001/1/abc",
        "actions": [{"action_ts": "1700000100.000001", **action}],
    }


def alert_element(action_id: str) -> dict[str, Any]:
    payload = render_alert(sample_incident(), rule_description=RULE_DESCRIPTION, playbook_title=PLAYBOOK_TITLE, now=NOW)
    elements = payload["blocks"][-1]["elements"]
    element: dict[str, Any] = next(e for e in elements if e["action_id"] == action_id)
    return element


def checklist_block(item_id: str) -> dict[str, Any]:
    payload = render_checklist(sample_incident(), playbook_title=PLAYBOOK_TITLE, now=NOW)
    block: dict[str, Any] = next(b for b in payload["blocks"] if b.get("block_id") == f"tick:42:{item_id}")
    return block


def test_acknowledge_button() -> None:
    button = alert_element("ack")
    action = parse_interaction(
        form(block_actions({"type": "button", "action_id": "ack", "block_id": "incident:42", "value": button["value"]}))
    )
    assert action == Action(
        kind="ack",
        incident_id=42,
        user_id="U024BE7LH",
        user_name="wang.lei",
        channel_id="C0CRISIS01",
        message_ts="1700000000.000100",
        response_url="https://hooks.slack.com/actions/T0001/1/abc",
    )


def test_show_checklist_button() -> None:
    value = alert_element("show_checklist")["value"]
    action = parse_interaction(form(block_actions({"type": "button", "action_id": "show_checklist", "value": value})))
    assert (action.kind, action.incident_id) == ("show_checklist", 42)


def test_mute_select() -> None:
    option = alert_element("mute")["options"][1]
    raw = {"type": "static_select", "action_id": "mute", "block_id": "incident:42", "selected_option": option}
    action = parse_interaction(form(block_actions(raw)))
    assert (action.kind, action.incident_id, action.mute_hours) == ("mute", 42, 4)


def test_ticking_a_checkbox() -> None:
    block = checklist_block("scope")
    option = block["accessory"]["options"][0]
    raw = {
        "type": "checkboxes",
        "action_id": "tick",
        "block_id": block["block_id"],
        "selected_options": [option],
    }
    action = parse_interaction(form(block_actions(raw)))
    assert (action.kind, action.incident_id, action.item_id) == ("tick", 42, "scope")


def test_unticking_a_checkbox() -> None:
    block = checklist_block("stop-use-advice")
    raw = {"type": "checkboxes", "action_id": "tick", "block_id": block["block_id"], "selected_options": []}
    action = parse_interaction(form(block_actions(raw)))
    assert (action.kind, action.incident_id, action.item_id) == ("untick", 42, "stop-use-advice")


def test_item_ids_with_colons_survive() -> None:
    raw = {"type": "checkboxes", "action_id": "tick", "block_id": "tick:7:a:b", "selected_options": []}
    assert parse_interaction(form(block_actions(raw))).item_id == "a:b"


@pytest.mark.parametrize("op", ["tick", "untick"])
def test_tick_button_fallback(op: str) -> None:
    value = json.dumps({"incident": 9, "item": "x" * 140, "op": op})
    action = parse_interaction(form(block_actions({"type": "button", "action_id": "tick", "value": value})))
    assert (action.kind, action.incident_id, action.item_id) == (op, 9, "x" * 140)


def test_signed_request_round_trip() -> None:
    body = form(block_actions({"type": "button", "action_id": "ack", "value": '{"incident":42}'}))
    timestamp = str(int(NOW.timestamp()))
    verify_slack_signature(SECRET, timestamp, body, sign(SECRET, timestamp, body), NOW.timestamp() + 3)
    assert parse_interaction(body).kind == "ack"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no single 'payload'"),
        (b"payload=%7B", "payload is not JSON"),
        (b"foo=bar", "no single 'payload'"),
        (b"payload=1&payload=2", "no single 'payload'"),
        (b"\xff\xfe", "not a urlencoded form"),
        (form([1, 2]), "payload must be a JSON object"),
        (form({"type": "view_submission"}), "unsupported interaction type 'view_submission'"),
        (form({"type": "block_actions", "actions": []}), "exactly one action"),
        (form({"type": "block_actions", "actions": [{"action_id": "ack"}]}), "user must be a JSON object"),
        (form(block_actions({"action_id": "delete_everything", "value": "{}"})), "unknown action_id"),
        (form(block_actions({"action_id": "ack"})), "ack value is missing"),
        (form(block_actions({"action_id": "ack", "value": "{}"})), "incident must be a positive integer"),
        (form(block_actions({"action_id": "ack", "value": '{"incident": "42"}'})), "positive integer"),
        (form(block_actions({"action_id": "ack", "value": '{"incident": true}'})), "positive integer"),
        (form(block_actions({"action_id": "ack", "value": '{"incident": -1}'})), "positive integer"),
        (form(block_actions({"action_id": "mute", "value": '{"incident": 1, "hours": 0}'})), "mute hours"),
        (form(block_actions({"action_id": "mute", "value": '{"incident": 1, "hours": 9999}'})), "mute hours"),
        (form(block_actions({"action_id": "mute", "value": '{"incident": 1, "hours": 1.5}'})), "mute hours"),
        (
            form(block_actions({"type": "checkboxes", "action_id": "tick", "block_id": "x", "selected_options": []})),
            "is not 'tick:<incident>:<item>'",
        ),
        (
            form(block_actions({"type": "checkboxes", "action_id": "tick", "block_id": "tick:1:a"})),
            "without 'selected_options'",
        ),
        (
            form(block_actions({"action_id": "tick", "value": '{"incident": 1, "item": "a", "op": "drop"}'})),
            "tick op",
        ),
        (form(block_actions({"action_id": "tick", "value": '{"incident": 1}'})), "item must be"),
        (b"payload=" + b"x" * 300_000, "larger than"),
    ],
)
def test_anything_else_is_refused_with_a_clear_message(body: bytes, message: str) -> None:
    with pytest.raises(InteractionError, match=re.escape(message)):
        parse_interaction(body)


def test_user_name_falls_back_to_the_id() -> None:
    payload = block_actions({"action_id": "ack", "value": '{"incident": 1}'})
    payload["user"] = {"id": "U1ABC"}
    assert parse_interaction(form(payload)).user_name == "U1ABC"
