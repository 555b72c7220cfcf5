"""Slack as a full client of crisismon: buttons, modals and the ``/crisis`` slash command.

The HTTP API (:mod:`monitor.http.api`) checks each request's signature and refuses replays, then
hands the decoded payload here: :meth:`SlackApp.interaction` for ``block_actions`` and
``view_submission`` (``POST /slack/interactions``), :meth:`SlackApp.command` for the slash
command (``POST /slack/commands``). Each returns the JSON body of the HTTP answer.

Who: the Slack user is mapped to a roster person by ``people[].slack``; what they do is
recorded under the roster name (王芳, not ``wangfang (slack:U0123LEAD)``). A user the roster
does not know acts under ``name (slack:ID)``, or is refused with an ephemeral message when
the roster sets ``slack_only_known: true``.

Buttons on the alert (``action_id``): ``ack``, ``stable``, ``resolve``, ``close`` (opens a
confirmation modal unless the incident is resolved, like the CLI's ``--force``),
``status_update`` and ``assign`` (open modals, :mod:`monitor.slack.modals`),
``show_checklist``, ``mute`` (select), ``draft`` (select of the kit's statements, opens the
draft modal), and on a submitted statement ``stmt_approve``, ``stmt_return`` (modal for the
comment), ``stmt_edit``. Checklist ticks are the ``tick`` checkboxes.

Refusals and bad input (an unknown incident, a stale view, an item that no longer exists,
text over the limits or with mention syntax) change nothing and are answered with a clear
message: ``response_action: errors`` in a modal, an ephemeral message (``chat.postEphemeral``)
for buttons, the ephemeral reply of the slash command.

Silences: ``/crisis silence …`` goes through the small :class:`Silences` protocol, so this
module does not depend on how silences are stored; :class:`monitor.testing.FakeSilences` is
the test double, and the daemon passes an adapter over :mod:`monitor.incidents.silences`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from monitor.clock import Clock
from monitor.config.playbooks import Playbook
from monitor.config.roster import Roster
from monitor.errors import InvalidOperation, NotFound
from monitor.incidents import silences
from monitor.incidents.kit import KINDS, Facts, draft_text
from monitor.incidents.ops import IncidentOps
from monitor.incidents.silences import SilenceStore
from monitor.incidents.statements import Statements
from monitor.models import Incident, IncidentStatus
from monitor.notify.i18n import Lang
from monitor.slack import modals
from monitor.slack.interactions import InteractionError, action_from_payload

log = logging.getLogger(__name__)

LEGACY_ACTIONS = frozenset({"ack", "show_checklist", "mute", "tick"})
MENTION_SYNTAX = re.compile(r"<[@!#][^>]*>|<!?(?:channel|here|everyone)\b|@(?:channel|here|everyone)\b", re.I)
MAX_MUTE_HOURS = 72
NO_FACTS = Facts()
STATUS_BOUND = frozenset({"status_update", "assign", "close_confirm"})


class Silences(Protocol):
    """What ``/crisis silence`` needs from the silences of :mod:`monitor.incidents.silences`.

    Each method returns one line a person can read; a bad request raises ``ValueError``
    (or :class:`~monitor.errors.InvalidOperation`) whose message says what to write instead.
    """

    def create(self, text: str, author: str, now: datetime) -> str:
        """Create a silence from ``text`` (matchers, duration, comment); describe it."""
        ...

    def expire(self, silence_id: str, author: str, now: datetime) -> str:
        """End a silence now; describe it."""
        ...

    def active(self, now: datetime) -> list[str]:
        """The silences in force, one line each."""
        ...


class StoreSilences:
    """:class:`Silences` over :mod:`monitor.incidents.silences` and one store: the daemon's ``/crisis silence``."""

    def __init__(self, store: SilenceStore) -> None:
        self.store = store

    def create(self, text: str, author: str, now: datetime) -> str:
        return silences.describe(silences.create_from_text(self.store, text, author, now), now)

    def expire(self, silence_id: str, author: str, now: datetime) -> str:
        key = silence_id.removeprefix("#")
        if not key.isdigit():
            raise InvalidOperation(
                f"silences are expired by number, e.g. /crisis silence expire 3; found {silence_id!r}"
            )
        return silences.describe(silences.expire(self.store, int(key), now, by=author), now)

    def active(self, now: datetime) -> list[str]:
        return [silences.describe(s, now) for s in silences.list_silences(self.store, now)]


class Refused(Exception):
    """An action that changes nothing; the message is shown to the person (ephemeral)."""


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    name: str  # the roster name, or "name (slack:ID)" for someone the roster does not know


class SlackApp:
    def __init__(
        self,
        *,
        ops: IncidentOps,
        statements: Statements,
        playbooks: Mapping[str, Playbook],
        roster: Callable[[], Roster],
        clock: Clock,
        lang: Lang,
        facts: Facts = NO_FACTS,
        client: Any = None,
        silences: Silences | None = None,
    ) -> None:
        self.ops = ops
        self.statements = statements
        self.playbooks = playbooks
        self.roster = roster
        self.clock = clock
        self.lang = lang
        self.facts = facts
        self.client = client  # a slack_sdk WebClient: views.open and chat.postEphemeral
        self.silences = silences

    # --- entry points ----------------------------------------------------------------------

    def interaction(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The answer to a ``block_actions`` or ``view_submission`` payload."""
        kind = payload.get("type")
        if kind == "view_submission":
            return self._submission(payload)
        if kind != "block_actions":
            raise InteractionError(f"unsupported interaction type {kind!r} (expected block_actions or view_submission)")
        channel = _channel(payload)
        user_id = _user_id(payload)
        try:
            caller = self._caller(payload)
            done = self._action(payload, caller, channel)
        except Refused as exc:
            return self._ephemeral(channel, user_id, str(exc))
        except (InvalidOperation, NotFound) as exc:
            return self._ephemeral(channel, user_id, self.lang.t("err.refused", reason=self.lang.reason(exc)))
        return self._ephemeral(channel, user_id, done) if done else {}

    def command(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The ephemeral reply to ``/crisis <subcommand> …``."""
        payload = {"user": {"id": form.get("user_id", ""), "username": form.get("user_name", "")}}
        try:
            caller = self._caller(payload)
            text = self._command(form.get("text", "").strip(), caller)
        except Refused as exc:
            text = str(exc)
        except (InvalidOperation, NotFound, ValueError) as exc:
            text = self.lang.t("err.refused", reason=self.lang.reason(exc))
        return {"response_type": "ephemeral", "text": text}

    # --- who ------------------------------------------------------------------------------

    def _caller(self, payload: Mapping[str, Any]) -> Caller:
        user = payload.get("user")
        user = user if isinstance(user, Mapping) else {}
        user_id = str(user.get("id") or "")
        if not user_id:
            raise Refused(self.lang.t("err.bad_request", reason="no Slack user"))
        roster = self.roster()
        person = roster.by_slack(user_id)
        if person is not None:
            return Caller(user_id, person.name)
        if roster.slack_only_known:
            raise Refused(self.lang.t("err.unknown_user", user=user_id))
        name = str(user.get("username") or user.get("name") or user_id)
        return Caller(user_id, f"{name} (slack:{user_id})")

    # --- buttons -----------------------------------------------------------------------------

    def _action(self, payload: Mapping[str, Any], caller: Caller, channel: str | None) -> str | None:
        actions = payload.get("actions")
        if not isinstance(actions, list) or len(actions) != 1 or not isinstance(actions[0], Mapping):
            raise InteractionError("expected exactly one action in 'actions'")
        action = actions[0]
        action_id = str(action.get("action_id"))
        now = self.clock.now()
        if action_id in LEGACY_ACTIONS:
            return self._legacy(payload, caller, now)
        value = _action_value(action)
        incident = self._incident(value.get("incident"))
        trigger = str(payload.get("trigger_id") or "")
        if action_id == "stable":
            self.ops.mark_stable(incident.id, caller.name, now)
        elif action_id == "resolve":
            self.ops.resolve(incident.id, caller.name, now)
        elif action_id == "close":
            if incident.status == IncidentStatus.RESOLVED:
                self.ops.close(incident.id, caller.name, now)
            else:
                self._open(trigger, modals.close_confirm(incident, self.lang, channel))
        elif action_id == "status_update":
            self._open(trigger, modals.status_update(incident, self.lang, channel))
        elif action_id == "assign":
            self._open(trigger, modals.assign(incident, self.lang, channel))
        elif action_id in ("draft", "stmt_edit"):
            self._open_draft(incident, str(value.get("kind")), trigger, channel)
        elif action_id == "stmt_approve":
            self.statements.approve(incident.id, _kind(value), _int(value.get("version")), caller.name, now)
        elif action_id == "stmt_return":
            view = modals.return_statement(incident, _kind(value), _int(value.get("version")), self.lang, channel)
            self._open(trigger, view)
        else:
            raise InteractionError(f"unknown action_id {action_id[:40]!r}")
        return None

    def _legacy(self, payload: Mapping[str, Any], caller: Caller, now: datetime) -> str | None:
        action = action_from_payload(payload)
        if action.kind == "ack":
            self.ops.acknowledge(action.incident_id, caller.name, now)
        elif action.kind == "show_checklist":
            self.ops.show_checklist(action.incident_id, caller.name, now)
        elif action.kind == "mute":
            self.ops.mute(action.incident_id, min(action.mute_hours or 4, MAX_MUTE_HOURS), caller.name, now)
        else:
            item = action.item_id or ""
            self.ops.tick(action.incident_id, item, caller.name, now, done=action.kind == "tick")
        return None

    def _open_draft(self, incident: Incident, kind: str, trigger: str, channel: str | None) -> None:
        if kind not in KINDS:
            raise Refused(self.lang.t("err.bad_request", reason=f"no statement kind {kind[:40]!r}"))
        current = self.statements.current(incident.id).get(kind)
        if current is not None:
            text, version = current.text, current.version
        else:
            playbook = self.playbooks.get(incident.playbook)
            if playbook is None or playbook.kit is None:
                raise Refused(self.lang.t("err.bad_request", reason=f"playbook {incident.playbook!r} has no kit"))
            text, version = draft_text(playbook.kit, kind, incident, self.facts, self.lang), 0
        self._open(trigger, modals.draft(incident, kind, version, text, self.lang, channel))

    def _open(self, trigger: str, view: dict[str, Any]) -> None:
        if self.client is None or not trigger:
            raise Refused(
                self.lang.t("err.bad_request", reason="no Slack client to open a modal (set SLACK_BOT_TOKEN)")
            )
        try:
            self.client.views_open(trigger_id=trigger, view=view)
        except Exception as exc:  # slack_sdk's errors (this module does not import slack_sdk)
            log.warning("views.open failed: %s", exc)
            raise Refused(self.lang.t("err.modal", reason=_slack_error(exc))) from None

    # --- modal submissions -------------------------------------------------------------------

    def _submission(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        view = payload.get("view")
        view = view if isinstance(view, Mapping) else {}
        callback = str(view.get("callback_id") or "")
        meta = _metadata(view.get("private_metadata"))
        values = modals.submitted_values(view)
        channel = str(meta.get("channel") or "") or None
        try:
            caller = self._caller(payload)
            self._submit(callback, meta, values, caller)
        except Refused as exc:
            return self._refuse_view(view, channel, _user_id(payload), str(exc))
        except (InvalidOperation, NotFound) as exc:
            return self._refuse_view(
                view, channel, _user_id(payload), self.lang.t("err.refused", reason=self.lang.reason(exc))
            )
        return {"response_action": "clear"}

    def _submit(self, callback: str, meta: Mapping[str, Any], values: Mapping[str, str], caller: Caller) -> None:
        incident = self._incident(meta.get("incident"))
        # what these do depends on the status the person saw; statements check their version instead
        if callback in STATUS_BOUND and incident.status.value != meta.get("status"):
            raise Refused(self.lang.t("err.stale", id=incident.id, status=self.lang.word(incident.status.value)))
        now = self.clock.now()
        if callback == "status_update":
            self.ops.status_update(
                incident.id, self._text(values.get("text"), modals.MAX_STATUS_TEXT), caller.name, now
            )
        elif callback == "close_confirm":
            self.ops.close(incident.id, caller.name, now, force=True)
        elif callback == "assign":
            self._assign(incident, values, caller, now)
        elif callback == "draft":
            self._draft(incident, meta, values, caller, now)
        elif callback == "stmt_return":
            comment = self._text(values.get("comment"), modals.MAX_COMMENT)
            self.statements.return_(incident.id, _kind(meta), _int(meta.get("version")), comment, caller.name, now)
        else:
            raise Refused(self.lang.t("err.bad_request", reason=f"unknown modal {callback[:40]!r}"))

    def _draft(
        self, incident: Incident, meta: Mapping[str, Any], values: Mapping[str, str], caller: Caller, now: datetime
    ) -> None:
        kind = _kind(meta)
        text = self._text(values.get("text"), modals.MAX_STATEMENT_TEXT)
        current = self.statements.current(incident.id).get(kind)
        if (current.version if current else 0) != _int(meta.get("version"), allow_zero=True):
            shown = self.lang.t(f"kit.{kind}")
            raise Refused(self.lang.t("err.stale", id=incident.id, status=shown))
        self.statements.submit(incident.id, kind, text, caller.name, now)

    def _assign(self, incident: Incident, values: Mapping[str, str], caller: Caller, now: datetime) -> None:
        commander = values.get("commander")
        item, owner = values.get("item"), values.get("owner")
        if item is not None and item not in {e.item_id for e in incident.checklist}:
            raise Refused(self.lang.t("err.no_item", id=incident.id, item=item[:60]))
        names = {uid: self._roster_name(uid) for uid in (commander, owner) if uid}
        if commander:
            self.ops.assign_commander(incident.id, names[commander], caller.name, now)
        if item and owner:
            self.ops.assign_owner(incident.id, item, names[owner], caller.name, now)

    def _roster_name(self, user_id: str) -> str:
        person = self.roster().by_slack(user_id)
        if person is None:
            raise Refused(self.lang.t("err.not_in_roster", user=user_id[:20]))
        return person.name

    def _text(self, value: str | None, limit: int) -> str:
        """Checked text from a modal: present, within ``limit``, with no mention syntax."""
        text = (value or "").strip()
        if not text:
            raise Refused(self.lang.t("err.empty"))
        if len(text) > limit:
            raise Refused(self.lang.t("err.too_long", n=len(text), limit=limit))
        found = MENTION_SYNTAX.search(text)
        if found:
            raise Refused(self.lang.t("err.mention", found=_defused(found.group(0))))
        return text

    def _refuse_view(self, view: Mapping[str, Any], channel: str | None, user_id: str, message: str) -> dict[str, Any]:
        """The message under the modal's first input (Slack shows errors only there), else in its place."""
        self._post_ephemeral(channel, user_id, message)
        field = modals.first_input(view)
        if field is None:
            return {
                "response_action": "update",
                "view": modals.notice(self.lang.t("modal.refused"), message, self.lang),
            }
        return {"response_action": "errors", "errors": {field: message}}

    # --- the slash command -------------------------------------------------------------------

    def _command(self, text: str, caller: Caller) -> str:
        verb, _, rest = text.partition(" ")
        verb, rest, now = verb.lower(), rest.strip(), self.clock.now()
        if verb == "list":
            return self._list()
        if verb == "silence":
            return self._silence(rest, caller, now)
        if verb not in ("show", "ack", "resolve", "note"):
            return self.lang.t("cmd.usage")
        number, _, note = rest.partition(" ")
        incident = self._incident(number)
        if verb == "show":
            return self._show(incident)
        if verb == "ack":
            updated = self.ops.acknowledge(incident.id, caller.name, now)
        elif verb == "resolve":
            updated = self.ops.resolve(incident.id, caller.name, now)
        else:
            updated = self.ops.note(incident.id, self._text(note, modals.MAX_STATUS_TEXT), caller.name, now)
        return self.lang.t("ok.done", what=self._line(updated))

    def _list(self) -> str:
        active = self.ops.store.incidents(active_only=True)
        if not active:
            return self.lang.t("cmd.none_active")
        return "\n".join([self.lang.t("cmd.active", n=len(active)), *(f"• {self._line(i)}" for i in active)])

    def _line(self, incident: Incident) -> str:
        from monitor.slack.blocks import escape, one_line

        opened = self.lang.t("cmd.opened_at", time=self.lang.time(incident.opened_at))
        title = escape(one_line(incident.title))[:200]
        return f"#{incident.id} {title} · {self.lang.word(incident.status.value)} · {incident.severity} · {opened}"

    def _show(self, incident: Incident) -> str:
        from monitor.slack.blocks import escape

        lines = [self._line(incident)]
        done = sum(1 for e in incident.checklist if e.done_at is not None)
        lines.append(self.lang.t("cmd.checklist", done=done, total=len(incident.checklist)))
        assigned = self.ops.assignments(incident.id)
        if assigned.commander:
            lines.append(f"{self.lang.t('label.commander')}: {escape(assigned.commander)}")
        items = {e.item_id: self.lang.pick(e.text, e.text_en) for e in incident.checklist}
        for item_id, name in assigned.owners.items():
            lines.append(f"• {escape(items.get(item_id, item_id))[:120]} — {escape(name)}")
        statements = self.statements.current(incident.id)
        if statements:
            shown = ", ".join(
                f"{self.lang.t(f'kit.{k}')} v{s.version} {self.lang.t(f'stmt.state.{s.state}')}"
                for k, s in statements.items()
            )
            lines.append(self.lang.t("cmd.statements", items=shown))
        return "\n".join(lines)

    def _silence(self, rest: str, caller: Caller, now: datetime) -> str:
        from monitor.slack.blocks import escape

        if self.silences is None:
            return self.lang.t("err.silences_off")
        if rest in ("", "list"):
            active = self.silences.active(now)
            if not active:
                return self.lang.t("cmd.no_silences")
            return "\n".join([self.lang.t("cmd.silences"), *(f"• {escape(s)}" for s in active)])
        head, _, tail = rest.partition(" ")
        if head == "expire":
            return self.lang.t("cmd.expired", what=escape(self.silences.expire(tail.strip(), caller.name, now)))
        found = MENTION_SYNTAX.search(rest)
        if found:
            raise Refused(self.lang.t("err.mention", found=_defused(found.group(0))))
        return self.lang.t("cmd.silenced", what=escape(self.silences.create(rest, caller.name, now)))

    # --- helpers -------------------------------------------------------------------------------

    def _incident(self, value: Any) -> Incident:
        text = str(value).lstrip("#") if value is not None else ""
        if not text.isdigit() or len(text) > 18:
            raise Refused(self.lang.t("err.no_incident", id=str(value)[:20]))
        try:
            return self.ops.store.incident(int(text))
        except NotFound:
            raise Refused(self.lang.t("err.no_incident", id=text)) from None

    def _ephemeral(self, channel: str | None, user_id: str, text: str) -> dict[str, Any]:
        self._post_ephemeral(channel, user_id, text)
        return {"response_type": "ephemeral", "replace_original": False, "text": text}

    def _post_ephemeral(self, channel: str | None, user_id: str, text: str) -> None:
        if self.client is None or not channel or not user_id:
            return
        try:
            self.client.chat_postEphemeral(channel=channel, user=user_id, text=text)
        except Exception as exc:  # a lost notice must not become an error for Slack
            log.warning("could not post an ephemeral message to %s: %s", channel, exc)


def _channel(payload: Mapping[str, Any]) -> str | None:
    for key in ("container", "channel"):
        part = payload.get(key)
        if isinstance(part, Mapping):
            value = part.get("channel_id") or part.get("id")
            if isinstance(value, str) and value:
                return value
    return None


def _user_id(payload: Mapping[str, Any]) -> str:
    user = payload.get("user")
    return str(user.get("id") or "") if isinstance(user, Mapping) else ""


def _action_value(action: Mapping[str, Any]) -> dict[str, Any]:
    option = action.get("selected_option")
    raw = option.get("value") if isinstance(option, Mapping) else action.get("value")
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InteractionError(f"action {str(action.get('action_id'))[:40]!r} has no JSON object value")
    return value


def _metadata(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {}


def _kind(value: Mapping[str, Any]) -> str:
    kind = str(value.get("kind"))
    if kind not in KINDS:
        raise Refused(f"no statement kind {kind[:40]!r}")
    return kind


def _int(value: Any, *, allow_zero: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < (0 if allow_zero else 1):
        raise Refused(f"not a version number: {str(value)[:20]!r}")
    return value


def _defused(text: str) -> str:
    """Mention syntax quoted back without forming a mention."""
    from monitor.slack.blocks import escape

    return "`" + escape(text[:40]) + "`"


def build_slack_app(
    *,
    ops: IncidentOps,
    playbooks: Mapping[str, Playbook],
    roster: Callable[[], Roster],
    clock: Clock,
    lang: Lang,
    facts: Facts = NO_FACTS,
    approvers: Sequence[str] | None = None,
    client: Any = None,
    silences: Silences | None = None,
) -> SlackApp:
    """A :class:`SlackApp` with its :class:`~monitor.incidents.statements.Statements` over the same store."""
    from monitor.config.roles import DEFAULT_APPROVERS

    statements = Statements(
        ops.store, ops.renderers, playbooks, roster, approvers=approvers or DEFAULT_APPROVERS, lang=lang
    )
    return SlackApp(
        ops=ops,
        statements=statements,
        playbooks=playbooks,
        roster=roster,
        clock=clock,
        lang=lang,
        facts=facts,
        client=client,
        silences=silences,
    )


def _slack_error(exc: Exception) -> str:
    """Slack's error code when the exception carries an answer (``expired_trigger_id``…), else its type."""
    response = getattr(exc, "response", None)
    code = response.get("error") if response is not None and hasattr(response, "get") else None
    return str(code) if code else type(exc).__name__
