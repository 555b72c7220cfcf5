"""Statements: draft -> submit -> approve (every required role) or return -> resubmit.

A statement is one text of the communication kit (:mod:`monitor.incidents.kit`) for one incident,
named by its kind (``holding``, ``first_statement``…). Its whole history lives in the
incident's timeline, so the review shows it and nothing else stores it:

=======================  =================================================================
timeline kind            detail
=======================  =================================================================
``statement_submitted``  ``kind``, ``version`` (1, 2…), ``text``, ``approvers`` (roles)
``statement_approval``   ``kind``, ``version``, ``role``: one role's approval
``statement_returned``   ``kind``, ``version``, ``role``, ``comment``
``statement_approved``   ``kind``, ``version``, ``text``: every required role approved
=======================  =================================================================

The roles that must approve are ``communication.approvers`` (default crisis lead, legal,
spokesperson). A person approves for each required role they hold that has not approved the
version yet; anyone holding a required role may return it with a comment; a new submission
starts a new version with no approvals. crisismon never publishes a statement: the approved
text is recorded and announced in the thread, and people publish it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from monitor.config.playbooks import Playbook
from monitor.config.roles import DEFAULT_APPROVERS, role_name
from monitor.config.roster import Roster
from monitor.errors import InvalidOperation
from monitor.incidents.announce import Announcer
from monitor.incidents.core import Refusal
from monitor.incidents.kit import KINDS
from monitor.incidents.ops import OpsStore
from monitor.models import ACTIVE_STATUSES, Incident, TimelineEntry
from monitor.notify.i18n import ENGLISH, Lang
from monitor.notify.render import Renderer

State = Literal["submitted", "returned", "approved"]
MAX_STATEMENT_CHARS = 2900
MAX_COMMENT_CHARS = 1000


@dataclass(slots=True)
class Statement:
    """The current state of one kind of statement for one incident, folded from the timeline."""

    kind: str
    version: int
    text: str
    drafter: str
    state: State
    approvers: tuple[str, ...]
    approvals: dict[str, str] = field(default_factory=dict)  # role -> who
    history: list[TimelineEntry] = field(default_factory=list)

    def missing(self) -> list[str]:
        return [r for r in self.approvers if r not in self.approvals]


def fold(timeline: Sequence[TimelineEntry]) -> dict[str, Statement]:
    """Every statement of an incident, by kind, from its timeline."""
    found: dict[str, Statement] = {}
    for entry in timeline:
        if not entry.kind.startswith("statement_"):
            continue
        kind = str(entry.detail.get("kind"))
        if entry.kind == "statement_submitted":
            approvers = tuple(str(r) for r in entry.detail.get("approvers") or DEFAULT_APPROVERS)
            text, version = str(entry.detail.get("text")), int(entry.detail.get("version") or 1)
            history = found[kind].history if kind in found else []
            found[kind] = Statement(kind, version, text, entry.actor, "submitted", approvers, history=history)
        statement = found.get(kind)
        if statement is None:
            continue
        statement.history.append(entry)
        if entry.kind == "statement_approval":
            statement.approvals[str(entry.detail.get("role"))] = entry.actor
        elif entry.kind == "statement_returned":
            statement.state = "returned"
        elif entry.kind == "statement_approved":
            statement.state = "approved"
    return found


class Statements:
    """Submit, approve and return statements; each step recorded and posted to the thread."""

    def __init__(
        self,
        store: OpsStore,
        renderers: Mapping[str, Renderer],
        playbooks: Mapping[str, Playbook],
        roster: Callable[[], Roster],
        *,
        approvers: Sequence[str] = DEFAULT_APPROVERS,
        lang: Lang = ENGLISH,
    ) -> None:
        self.store = store
        self.renderers = renderers
        self.playbooks = playbooks
        self.announce = Announcer(store, renderers, playbooks)
        self.roster = roster
        self.approvers = tuple(approvers)
        self.lang = lang

    def current(self, incident_id: int) -> dict[str, Statement]:
        return fold(self.store.timeline(incident_id))

    def submit(self, incident_id: int, kind: str, text: str, by: str, now: datetime) -> Statement:
        """Submit (or resubmit) a draft for approval: a new version, no approvals yet."""
        incident = self._active(incident_id)
        if kind not in KINDS:
            raise InvalidOperation(f"no statement kind {kind!r}; the kinds are {', '.join(KINDS)}")
        _check_text(text, MAX_STATEMENT_CHARS, "a statement")
        previous = self.current(incident_id).get(kind)
        if previous is not None and previous.state == "approved":
            message = f"the {kind} statement is already approved (version {previous.version})"
            raise Refusal(message, "refuse.stmt_approved", {"kind": kind, "version": previous.version})
        version = previous.version + 1 if previous else 1
        detail = {"kind": kind, "version": version, "text": text, "approvers": list(self.approvers)}
        roles = ", ".join(role_name(r, self.lang.locale) for r in self.approvers)
        heading = self.lang.t("stmt.submitted", who=by, kind=self._kind(kind), version=version, roles=roles)
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "statement_submitted", detail)
            self._post(incident, f"{heading}\n{_quote(text)}", now, kind=kind, version=version)
        return self.current(incident_id)[kind]

    def approve(self, incident_id: int, kind: str, version: int, by: str, now: datetime) -> Statement:
        """``by`` approves for each required role they hold; the last approval approves the text."""
        incident = self.store.incident(incident_id)
        statement = self._pending(incident_id, kind, version)
        roles = [r for r in self._roles_of(by, statement) if r not in statement.approvals]
        if not roles:
            message = f"{by} has already approved version {version} of the {kind} statement"
            raise Refusal(message, "refuse.stmt_again", {"who": by, "kind": kind, "version": version})
        with self.store.transaction():
            for role in roles:
                self.store.add_timeline(
                    incident_id, now, by, "statement_approval", {"kind": kind, "version": version, "role": role}
                )
                statement.approvals[role] = by
            shown = "、".join(role_name(r, self.lang.locale) for r in roles)
            lines = [self.lang.t("stmt.approved_by", who=by, role=shown, kind=self._kind(kind))]
            if not statement.missing():
                detail = {"kind": kind, "version": version, "text": statement.text}
                self.store.add_timeline(incident_id, now, by, "statement_approved", detail)
                lines.append(self.lang.t("stmt.approved", kind=self._kind(kind), version=version))
            self.announce.update(incident, "\n".join(lines), now, edit_top=False)
        return self.current(incident_id)[kind]

    def return_(self, incident_id: int, kind: str, version: int, comment: str, by: str, now: datetime) -> Statement:
        """Send the draft back to its drafter with what must change."""
        incident = self.store.incident(incident_id)
        statement = self._pending(incident_id, kind, version)
        roles = self._roles_of(by, statement)
        _check_text(comment, MAX_COMMENT_CHARS, "a comment")
        detail = {"kind": kind, "version": version, "role": roles[0], "comment": comment}
        role = role_name(roles[0], self.lang.locale)
        text = self.lang.t("stmt.returned", who=by, role=role, kind=self._kind(kind), comment=comment)
        with self.store.transaction():
            self.store.add_timeline(incident_id, now, by, "statement_returned", detail)
            self.announce.update(incident, text, now, edit_top=False)
        return self.current(incident_id)[kind]

    def _kind(self, kind: str) -> str:
        return self.lang.t(f"kit.{kind}")

    def _active(self, incident_id: int) -> Incident:
        incident = self.store.incident(incident_id)
        if incident.status not in ACTIVE_STATUSES:
            message = f"incident {incident_id} is {incident.status.value}; no new statements"
            raise Refusal(message, "refuse.stmt_inactive", {"id": incident_id, "status": incident.status.value})
        return incident

    def _pending(self, incident_id: int, kind: str, version: int) -> Statement:
        statement = self.current(incident_id).get(kind)
        if statement is None:
            message = f"incident {incident_id} has no {kind} statement submitted"
            raise Refusal(message, "refuse.stmt_none", {"id": incident_id, "kind": kind})
        if statement.version != version:
            message = (
                f"version {version} of the {kind} statement was replaced by version {statement.version}; "
                "review the latest one"
            )
            fields: dict[str, object] = {"kind": kind, "version": version, "latest": statement.version}
            raise Refusal(message, "refuse.stmt_replaced", fields)
        if statement.state != "submitted":
            message = f"version {version} of the {kind} statement is {statement.state}, not awaiting approval"
            state = {"kind": kind, "version": version, "state": statement.state}
            raise Refusal(message, "refuse.stmt_state", state)
        return statement

    def _roles_of(self, by: str, statement: Statement) -> list[str]:
        held = self.roster().roles_of(by)
        roles = [r for r in statement.approvers if r in held]
        if not roles:
            names = ", ".join(role_name(r, self.lang.locale) for r in statement.approvers)
            mine = ", ".join(role_name(r, self.lang.locale) for r in held) or "—"
            raise InvalidOperation(self.lang.t("err.not_approver", roles=names, mine=mine))
        return roles

    def _post(self, incident: Incident, text: str, now: datetime, *, kind: str, version: int) -> None:
        """The submitted text in the thread, with Approve / Return buttons where the destination has them."""
        for destination, renderer in self.renderers.items():
            alert_id = self.store.first_message(incident.id, destination, "alert")
            if alert_id is None:
                continue
            statement = getattr(renderer, "statement", None)
            payload = (
                statement(incident, text, kind=kind, version=version) if statement else renderer.update(incident, text)
            )
            self.store.enqueue(destination, "update", payload, now=now, incident_id=incident.id, thread_of=alert_id)


def _check_text(text: str, limit: int, what: str) -> None:
    if not text.strip():
        raise InvalidOperation(f"{what} needs some text")
    if len(text) > limit:
        raise InvalidOperation(f"{what} has at most {limit} characters, found {len(text)}")


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def review_lines(timeline: Sequence[TimelineEntry]) -> list[str]:
    """The review's *Statements* section: each statement's state, approved text and history."""
    statements = fold(timeline)
    if not statements:
        return ["_No statements were drafted._"]
    lines: list[str] = []
    for kind, statement in statements.items():
        lines += ["", f"### {kind} — {statement.state}, version {statement.version}", ""]
        if statement.state == "approved":
            lines += ["Approved text:", "", *[f"> {line}" for line in statement.text.splitlines()], ""]
        for entry in statement.history:
            what = entry.kind.removeprefix("statement_")
            extra = entry.detail.get("role") or ""
            comment = entry.detail.get("comment")
            note = f": {comment}" if comment else ""
            at = entry.at.strftime("%Y-%m-%d %H:%M UTC")
            lines.append(f"- {at} {entry.actor} {what} v{entry.detail.get('version')} {extra}{note}".rstrip())
    return lines
