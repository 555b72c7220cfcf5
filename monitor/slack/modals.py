"""Block Kit modals for the incident operations that need more than a click.

Pure functions: each returns a ``views.open`` view. Every view carries, in
``private_metadata`` (JSON), the incident, the status it had when the view opened (a
submission after the incident moved on is *stale* and changes nothing), the channel to
answer in, and for statements the kind and version. ``callback_id`` names what a
submission does (:mod:`monitor.slack.app` dispatches on it):

=================  ===================================  ======================================
callback_id        inputs (block_id / action_id)        submission
=================  ===================================  ======================================
``status_update``  ``text`` / ``text``                  posted to the thread and recorded
``assign``         ``commander``, ``item``, ``owner``   commander and/or owner of one item
``close_confirm``  none                                 close an unresolved incident (forced)
``draft``          ``text`` / ``text``                  statement submitted for approval
``stmt_return``    ``comment`` / ``comment``            statement returned to its drafter
=================  ===================================  ======================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from monitor.models import Incident
from monitor.notify.i18n import Lang
from monitor.slack.blocks import MAX_OPTION_TEXT, one_line, plain, truncate

View = dict[str, Any]
MAX_TITLE = 24
MAX_INPUT = 3000
MAX_STATUS_TEXT = 3000
MAX_STATEMENT_TEXT = 2900
MAX_COMMENT = 1000
MAX_ITEM_OPTIONS = 100


def metadata(incident: Incident, channel: str | None, **extra: Any) -> str:
    """What a submission needs to find and check its incident again."""
    data = {"incident": incident.id, "status": incident.status.value, "channel": channel or "", **extra}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, MAX_TITLE), "emoji": True}


def _modal(
    callback_id: str, title: str, blocks: list[dict[str, Any]], meta: str, lang: Lang, submit: str | None
) -> View:
    view: View = {
        "type": "modal",
        "callback_id": callback_id,
        "title": _text(title),
        "close": _text(lang.t("modal.cancel")),
        "private_metadata": meta,
        "blocks": blocks,
    }
    if submit:
        view["submit"] = _text(submit)
    return view


def _context(incident: Incident) -> dict[str, Any]:
    title = truncate(plain(one_line(incident.title)), 200)
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": f"#{incident.id} {title}"}]}


def _text_input(block_id: str, label: str, *, initial: str = "", limit: int = MAX_INPUT) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": block_id,
        "multiline": True,
        "max_length": limit,
    }
    if initial:
        element["initial_value"] = initial[:limit]
    return {"type": "input", "block_id": block_id, "label": _label(label), "element": element}


def _label(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, 2000), "emoji": True}


def status_update(incident: Incident, lang: Lang, channel: str | None) -> View:
    blocks = [_context(incident), _text_input("text", lang.t("modal.status.label"), limit=MAX_STATUS_TEXT)]
    meta = metadata(incident, channel)
    return _modal("status_update", lang.t("modal.status.title"), blocks, meta, lang, lang.t("modal.submit"))


def assign(incident: Incident, lang: Lang, channel: str | None) -> View:
    """Commander and, optionally, the owner of one open checklist item (each input optional)."""
    blocks: list[dict[str, Any]] = [_context(incident), _user_input("commander", lang.t("modal.assign.commander"))]
    items = [e for e in incident.checklist if e.done_at is None][:MAX_ITEM_OPTIONS]
    if items:
        options = [
            {
                "text": {
                    "type": "plain_text",
                    "text": truncate(one_line(lang.pick(e.text, e.text_en)), MAX_OPTION_TEXT),
                },
                "value": e.item_id[:150],
            }
            for e in items
        ]
        item = {"type": "static_select", "action_id": "item", "options": options}
        blocks += [
            {
                "type": "input",
                "block_id": "item",
                "optional": True,
                "label": _label(lang.t("modal.assign.item")),
                "element": item,
            },
            _user_input("owner", lang.t("modal.assign.owner")),
        ]
    return _modal(
        "assign", lang.t("modal.assign.title"), blocks, metadata(incident, channel), lang, lang.t("modal.submit")
    )


def _user_input(block_id: str, label: str) -> dict[str, Any]:
    element = {"type": "users_select", "action_id": block_id}
    return {"type": "input", "block_id": block_id, "optional": True, "label": _label(label), "element": element}


def close_confirm(incident: Incident, lang: Lang, channel: str | None) -> View:
    """Closing an incident that was never resolved needs this confirmation (like ``--force``)."""
    body = lang.t("modal.close.body", id=incident.id, status=lang.word(incident.status.value))
    blocks = [_context(incident), {"type": "section", "text": {"type": "mrkdwn", "text": body}}]
    meta = metadata(incident, channel)
    return _modal("close_confirm", lang.t("modal.close.title"), blocks, meta, lang, lang.t("modal.close.submit"))


def draft(incident: Incident, kind: str, version: int, text: str, lang: Lang, channel: str | None) -> View:
    """The statement of ``kind``, prefilled (template or the returned text), to edit and submit."""
    label = lang.t("modal.draft.label", kind=lang.t(f"kit.{kind}"))
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": lang.t("modal.draft.note")}]}
    blocks = [_context(incident), _text_input("text", label, initial=text, limit=MAX_STATEMENT_TEXT), note]
    meta = metadata(incident, channel, kind=kind, version=version)
    return _modal("draft", lang.t("modal.draft.title"), blocks, meta, lang, lang.t("modal.submit"))


def return_statement(incident: Incident, kind: str, version: int, lang: Lang, channel: str | None) -> View:
    blocks = [_context(incident), _text_input("comment", lang.t("modal.return.label"), limit=MAX_COMMENT)]
    meta = metadata(incident, channel, kind=kind, version=version)
    return _modal("stmt_return", lang.t("modal.return.title"), blocks, meta, lang, lang.t("button.return"))


def submitted_values(view: Mapping[str, Any]) -> dict[str, str]:
    """block_id -> the submitted value (text, selected user id or selected option value)."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    found: dict[str, str] = {}
    if not isinstance(values, Mapping):
        return found
    for block_id, actions in values.items():
        if not isinstance(actions, Mapping):
            continue
        for action in actions.values():
            value = _value(action) if isinstance(action, Mapping) else None
            if value is not None:
                found[str(block_id)] = value
    return found


def _value(action: Mapping[str, Any]) -> str | None:
    if isinstance(action.get("value"), str):
        return str(action["value"])
    if isinstance(action.get("selected_user"), str):
        return str(action["selected_user"])
    option = action.get("selected_option")
    if isinstance(option, Mapping) and isinstance(option.get("value"), str):
        return str(option["value"])
    return None


def notice(title: str, message: str, lang: Lang) -> View:
    """A modal that only says something (what replaced a submission that changed nothing)."""
    block = {"type": "section", "text": {"type": "plain_text", "text": truncate(message, 3000), "emoji": True}}
    view = _modal("notice", title, [block], "{}", lang, None)
    view["close"] = _text(lang.t("modal.ok"))
    return view


def first_input(view: Mapping[str, Any]) -> str | None:
    """The block_id of the view's first input block (where Slack can show an error)."""
    blocks = view.get("blocks")
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, Mapping) and block.get("type") == "input" and isinstance(block.get("block_id"), str):
            return str(block["block_id"])
    return None
