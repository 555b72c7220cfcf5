"""Bad modal submissions: a clear message, nothing changed, nothing escaped into a mention."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .world import LEAD, SPOKES, World, option_value, text_value, user_value


def status_view(world: World, incident_id: int) -> dict[str, Any]:
    world.click(LEAD, "status_update", {"incident": incident_id})
    return world.last_view("status_update")


def refused(world: World, response: Any, incident_id: int, before: int, words: str) -> None:
    body = response.json()
    assert body["response_action"] == "errors"
    (message,) = body["errors"].values()
    assert words in message
    assert words in world.fake.ephemerals[-1]["text"]  # and an ephemeral message in the channel
    assert len(world.timeline(incident_id)) == before  # nothing changed


def test_unknown_incident(world: World) -> None:
    incident_id = world.open_incident()
    view = status_view(world, incident_id)
    forged = {**view, "private_metadata": json.dumps({"incident": 999, "status": "open", "channel": "C0CRISIS01"})}
    before = len(world.timeline(incident_id))
    refused(world, world.submit(LEAD, forged, {"text": text_value("hello")}), incident_id, before, "no incident #999")


def test_stale_view(world: World) -> None:
    incident_id = world.open_incident()
    view = status_view(world, incident_id)
    world.click(LEAD, "ack", {"incident": incident_id})  # the incident moves on while the modal is open
    before = len(world.timeline(incident_id))
    response = world.submit(LEAD, view, {"text": text_value("update")})
    refused(world, response, incident_id, before, "became acknowledged after you opened this window")


def test_item_that_no_longer_exists(world: World) -> None:
    incident_id = world.open_incident()
    world.click(LEAD, "assign", {"incident": incident_id})
    view = world.last_view("assign")
    before = len(world.timeline(incident_id))
    values = {"commander": user_value(SPOKES), "item": option_value("gone-item"), "owner": user_value(LEAD)}
    refused(world, world.submit(LEAD, view, values), incident_id, before, "no longer has checklist item gone-item")
    assert world.ops.assignments(incident_id).commander is None  # not half done either


def test_text_over_the_limit(world: World) -> None:
    incident_id = world.open_incident()
    view = status_view(world, incident_id)
    before = len(world.timeline(incident_id))
    response = world.submit(LEAD, view, {"text": text_value("很" * 3001)})
    refused(world, response, incident_id, before, "3001 characters, over the limit of 3000")


@pytest.mark.parametrize(
    "hostile", ["<!channel> recall now", "ping <@U0123LEAD>", "<!subteam^S0614TZR7>", "@here look"]
)
def test_hostile_mention_syntax(world: World, hostile: str) -> None:
    incident_id = world.open_incident()
    view = status_view(world, incident_id)
    before = len(world.timeline(incident_id))
    response = world.submit(LEAD, view, {"text": text_value(hostile)})
    refused(world, response, incident_id, before, "mention syntax")
    message = response.json()["errors"]["text"]
    assert "<!" not in message and "<@" not in message  # quoted back escaped, never as a mention
    world.deliver()
    assert not any(hostile in m.text for m in world.fake.messages)


def test_empty_text(world: World) -> None:
    incident_id = world.open_incident()
    view = status_view(world, incident_id)
    before = len(world.timeline(incident_id))
    refused(world, world.submit(LEAD, view, {"text": text_value("   ")}), incident_id, before, "cannot be empty")


def test_garbage_interactions_get_400(world: World) -> None:
    incident_id = world.open_incident()
    assert world.interact({"type": "message_action"}).status_code == 400
    assert world.click(LEAD, "launch_rockets", {"incident": incident_id}).status_code == 400
    assert world.incident(incident_id).status.value == "open"


def test_stale_confirmation_without_inputs_is_answered_in_place(world: World) -> None:
    incident_id = world.open_incident()
    world.click(LEAD, "close", {"incident": incident_id})
    view = world.last_view("close_confirm")
    world.click(LEAD, "ack", {"incident": incident_id})
    before = len(world.timeline(incident_id))
    body = world.submit(LEAD, view, {}).json()
    assert body["response_action"] == "update"  # no input to hang an error on: the modal says it
    assert body["view"]["title"]["text"] == "Nothing changed"
    assert "became acknowledged after you opened this window" in body["view"]["blocks"][0]["text"]["text"]
    assert world.incident(incident_id).status.value == "acknowledged" and len(world.timeline(incident_id)) == before
    from monitor.testing.fakeslack import view_problems

    assert view_problems(body["view"]) == []


def test_errors_go_under_the_first_input_even_when_nothing_was_chosen(world: World) -> None:
    incident_id = world.open_incident()
    world.click(LEAD, "assign", {"incident": incident_id})
    view = world.last_view("assign")
    world.click(LEAD, "resolve", {"incident": incident_id})
    body = world.submit(LEAD, view, {}).json()
    assert body["response_action"] == "errors" and list(body["errors"]) == ["commander"]
