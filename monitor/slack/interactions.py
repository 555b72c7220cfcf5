"""Slack interactivity: turn a ``block_actions`` request into one :class:`Action`.

Over HTTP, verify the request first (:func:`monitor.slack.signature.verify_slack_signature`),
then call :func:`parse_interaction` on the raw body. Over Socket Mode, call
:func:`action_from_payload` on the envelope's payload. Only the actions our messages carry are
accepted (see :mod:`monitor.slack.blocks`):

=================  ==================  ==============================================
action_id          element             carries
=================  ==================  ==============================================
``ack``            button              value ``{"incident": id}``
``show_checklist`` button              value ``{"incident": id}``
``mute``           static_select       selected option ``{"incident": id, "hours": n}``
``tick``           checkboxes          block_id ``tick:<incident>:<item>``; ticked when
                                       the option is among ``selected_options``
``tick``           button (fallback)   value ``{"incident", "item", "op": tick|untick}``
=================  ==================  ==============================================

Anything else raises :class:`InteractionError` with a message saying what was wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

ActionKind = Literal["ack", "tick", "untick", "show_checklist", "mute"]
MAX_BODY_BYTES = 256 * 1024
MAX_MUTE_HOURS = 24 * 7


class InteractionError(ValueError):
    """A request body that is not one of our block actions."""


@dataclass(frozen=True, slots=True)
class Action:
    """What a person did on one of our messages."""

    kind: ActionKind
    incident_id: int
    user_id: str
    user_name: str
    item_id: str | None = None  # tick / untick
    mute_hours: int | None = None  # mute
    channel_id: str | None = None
    message_ts: str | None = None
    response_url: str | None = None


def parse_interaction(form_body: bytes) -> Action:
    """The action in a Slack ``application/x-www-form-urlencoded`` body (``payload=<json>``)."""
    return action_from_payload(_payload(form_body))


def decode_form_payload(form_body: bytes) -> dict[str, Any]:
    """The JSON object in Slack's ``payload=<json>`` form body (any interaction type)."""
    return _payload(form_body)


def action_from_payload(payload: Mapping[str, Any]) -> Action:
    """The action in an interaction payload already decoded from JSON.

    The HTTP endpoint gets it from :func:`parse_interaction` after checking the signature;
    Socket Mode (:mod:`monitor.slack.socket_mode`) gets it from the websocket, which the app
    token authenticates, so there is no signature to check.
    """
    if not isinstance(payload, Mapping):
        raise InteractionError("payload must be a JSON object")
    if payload.get("type") != "block_actions":
        raise InteractionError(f"unsupported interaction type {payload.get('type')!r} (expected 'block_actions')")
    actions = payload.get("actions")
    if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], dict):
        raise InteractionError("expected exactly one action in 'actions'")
    user = _dict(payload.get("user"), "user")
    user_id = _str(user.get("id"), "user.id")
    user_name = str(user.get("username") or user.get("name") or user_id)
    container = _maybe_dict(payload.get("container"))
    channel = _maybe_dict(payload.get("channel"))
    common: dict[str, Any] = {
        "user_id": user_id,
        "user_name": user_name,
        "channel_id": _opt_str(container.get("channel_id") or channel.get("id")),
        "message_ts": _opt_str(container.get("message_ts")),
        "response_url": _opt_str(payload.get("response_url")),
    }
    return _action(actions[0], common)


def _action(action: dict[str, Any], common: dict[str, Any]) -> Action:
    action_id = action.get("action_id")
    if action_id in ("ack", "show_checklist"):
        value = _json(action.get("value"), f"{action_id} value")
        return Action(kind=action_id, incident_id=_incident(value), **common)
    if action_id == "mute":
        option = _dict(action.get("selected_option"), "mute selected_option") if "selected_option" in action else {}
        value = _json(option.get("value") if option else action.get("value"), "mute value")
        hours = value.get("hours")
        if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= MAX_MUTE_HOURS:
            raise InteractionError(f"mute hours must be an integer from 1 to {MAX_MUTE_HOURS}, got {hours!r}")
        return Action(kind="mute", incident_id=_incident(value), mute_hours=hours, **common)
    if action_id == "tick":
        return _tick(action, common)
    raise InteractionError(f"unknown action_id {action_id!r} (expected ack, show_checklist, mute or tick)")


def _tick(action: dict[str, Any], common: dict[str, Any]) -> Action:
    if action.get("type") == "checkboxes":
        block_id = _str(action.get("block_id"), "tick block_id")
        prefix, _, rest = block_id.partition(":")
        incident_text, _, item_id = rest.partition(":")
        if prefix != "tick" or not incident_text.isdigit() or not item_id:
            raise InteractionError(f"tick block_id {block_id[:80]!r} is not 'tick:<incident>:<item>'")
        selected = action.get("selected_options")
        if not isinstance(selected, list):
            raise InteractionError("tick checkboxes without 'selected_options'")
        ticked = any(_option_item(option) == item_id for option in selected)
        kind: ActionKind = "tick" if ticked else "untick"
        return Action(kind=kind, incident_id=int(incident_text), item_id=item_id, **common)
    value = _json(action.get("value"), "tick value")
    op = value.get("op", "tick")
    if op not in ("tick", "untick"):
        raise InteractionError(f"tick op must be 'tick' or 'untick', got {op!r}")
    return Action(kind=op, incident_id=_incident(value), item_id=_str(value.get("item"), "item"), **common)


def _option_item(option: Any) -> str | None:
    if not isinstance(option, dict):
        return None
    try:
        value = json.loads(option.get("value", ""))
    except (TypeError, ValueError):
        return None
    item = value.get("item") if isinstance(value, dict) else None
    return item if isinstance(item, str) else None


def _payload(form_body: bytes) -> dict[str, Any]:
    if len(form_body) > MAX_BODY_BYTES:
        raise InteractionError(f"body of {len(form_body)} bytes is larger than {MAX_BODY_BYTES}")
    try:
        fields = parse_qs(form_body.decode("utf-8"), strict_parsing=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InteractionError(f"body is not a urlencoded form: {exc}") from exc
    values = fields.get("payload")
    if not values or len(values) != 1:
        raise InteractionError("body has no single 'payload' field (expected Slack's payload=<json>)")
    return _json(values[0], "payload")


def _json(text: Any, what: str) -> dict[str, Any]:
    if not isinstance(text, str):
        raise InteractionError(f"{what} is missing")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InteractionError(f"{what} is not JSON: {exc}") from exc
    return _dict(value, what)


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InteractionError(f"{what} must be a JSON object")
    return value


def _maybe_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InteractionError(f"{what} must be a non-empty string")
    return value


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _incident(value: dict[str, Any]) -> int:
    incident = value.get("incident")
    if not isinstance(incident, int) or isinstance(incident, bool) or incident < 1:
        raise InteractionError(f"incident must be a positive integer, got {incident!r}")
    return incident
