"""Statements from the communication kit: draft in a modal, approve or return, recorded and reviewed."""

from __future__ import annotations

from typing import Any

from monitor.incidents.kit import product
from monitor.incidents.review import review_data, review_markdown

from .world import LEAD, LEGAL, SPOKES, World, text_value


def open_draft(world: World, incident_id: int, kind: str = "holding") -> dict[str, Any]:
    world.deliver()
    world.click(LEAD, "draft", world.button_value(incident_id, "draft") | {"kind": kind}, select=True)
    return world.last_view("draft")


def draft_text(view: dict[str, Any]) -> str:
    (block,) = [b for b in view["blocks"] if b.get("block_id") == "text"]
    return str(block["element"]["initial_value"])


def statement_buttons(world: World) -> dict[str, Any]:
    import json

    for message in reversed(world.fake.messages):
        for block in message.blocks:
            if block.get("type") == "actions" and str(block.get("block_id", "")).startswith("statement:"):
                return {e["action_id"]: json.loads(e["value"]) for e in block["elements"]}
    raise AssertionError("no statement buttons in Slack")


def test_draft_is_prefilled_from_the_kit_with_the_incident_facts(world: World) -> None:
    incident_id = world.open_incident()
    text = draft_text(open_draft(world, incident_id, "first_statement"))
    incident = world.incident(incident_id)
    assert "示例电器" in text and "400-800-1234" in text and "上海, 江苏" in text  # communication facts
    assert product(incident) in text and "product=" not in text and "CST" in text  # product and local time
    assert "{" not in text  # every placeholder filled


def test_submit_approve_by_every_role_then_review(world: World) -> None:
    incident_id = world.open_incident()
    view = open_draft(world, incident_id)
    edited = draft_text(view) + "\n（已由王芳修改）"
    assert world.submit(LEAD, view, {"text": text_value(edited)}).json() == {"response_action": "clear"}
    world.deliver()
    buttons = statement_buttons(world)
    assert buttons["stmt_approve"] == {"incident": incident_id, "kind": "holding", "version": 1}
    for user in (LEAD, LEGAL):
        world.click(user, "stmt_approve", buttons["stmt_approve"])
        assert world.app.statements.current(incident_id)["holding"].state == "submitted"
    world.click(SPOKES, "stmt_approve", buttons["stmt_approve"])
    statement = world.app.statements.current(incident_id)["holding"]
    assert statement.state == "approved" and statement.text == edited
    assert statement.approvals == {"crisis_lead": "王芳", "legal": "陈律师", "spokesperson": "刘洋"}
    final = [e for e in world.timeline(incident_id) if e.kind == "statement_approved"]
    assert final and final[0].detail["text"] == edited
    world.deliver()
    assert any("is approved (version 1). crisismon does not publish it" in m.text for m in world.fake.messages)
    incident = world.incident(incident_id)
    timeline = world.timeline(incident_id)
    assert "## Statements" in review_markdown(incident, timeline) and "（已由王芳修改）" in review_markdown(
        incident, timeline
    )
    assert review_data(incident, timeline)["statements"]["holding"]["state"] == "approved"


def test_returned_with_a_comment_then_edited_and_resubmitted(world: World) -> None:
    incident_id = world.open_incident()
    view = open_draft(world, incident_id)
    world.submit(SPOKES, view, {"text": text_value("第一稿")})
    world.deliver()
    buttons = statement_buttons(world)
    world.click(LEGAL, "stmt_return", buttons["stmt_return"])
    returned = world.submit(LEGAL, world.last_view("stmt_return"), {"comment": text_value("不要写召回，调查未完成")})
    assert returned.json() == {"response_action": "clear"}
    assert world.app.statements.current(incident_id)["holding"].state == "returned"
    world.click(LEAD, "stmt_approve", buttons["stmt_approve"])  # a returned version cannot be approved
    assert "returned, not awaiting approval" in world.fake.ephemerals[-1]["text"]
    world.click(SPOKES, "stmt_edit", buttons["stmt_edit"])
    again = world.last_view("draft")
    assert draft_text(again) == "第一稿"
    world.submit(SPOKES, again, {"text": text_value("第二稿")})
    statement = world.app.statements.current(incident_id)["holding"]
    assert (statement.version, statement.text, statement.state, statement.approvals) == (2, "第二稿", "submitted", {})
    history = [e.kind for e in statement.history]
    assert history == ["statement_submitted", "statement_returned", "statement_submitted"]
    assert "不要写召回" in review_markdown(world.incident(incident_id), world.timeline(incident_id))


def test_only_approver_roles_approve_and_stale_drafts_are_refused(world: World) -> None:
    world.roster = world.roster.model_copy(
        update={
            "people": (
                *world.roster.people,
                world.roster.people[0].model_copy(
                    update={"name": "赵客服", "slack": "U0SERVICE", "roles": ("customer_service",)}
                ),
            )
        }
    )
    incident_id = world.open_incident()
    view = open_draft(world, incident_id)
    world.submit(SPOKES, view, {"text": text_value("第一稿")})
    world.click("U0SERVICE", "stmt_approve", {"incident": incident_id, "kind": "holding", "version": 1})
    assert "approve statements; your roles: customer service" in world.fake.ephemerals[-1]["text"]
    assert world.app.statements.current(incident_id)["holding"].approvals == {}
    before = len(world.timeline(incident_id))
    stale = world.submit(LEAD, view, {"text": text_value("基于旧版本的修改")})  # version 0 view, version 1 exists
    assert stale.json()["response_action"] == "errors" and len(world.timeline(incident_id)) == before


def test_statement_refusals_are_said_in_the_locale(zh_world: World) -> None:
    world = zh_world
    incident_id = world.open_incident()
    world.submit(SPOKES, open_draft(world, incident_id), {"text": text_value("第一稿")})
    world.deliver()
    buttons = statement_buttons(world)
    world.click(LEGAL, "stmt_approve", buttons["stmt_approve"])
    world.click(LEGAL, "stmt_approve", buttons["stmt_approve"])  # twice
    assert world.fake.ephemerals[-1]["text"] == "未执行：陈律师 已批准过等待声明第 1 版"
    world.click(LEGAL, "stmt_return", buttons["stmt_return"])
    world.submit(LEGAL, world.last_view("stmt_return"), {"comment": text_value("请删去未核实的数字")})
    world.click(LEAD, "stmt_approve", buttons["stmt_approve"])  # a returned version cannot be approved
    assert world.fake.ephemerals[-1]["text"] == "未执行：等待声明第 1 版目前已退回，不在待审批状态"
