"""The incident decisions, as data: no store, no renderer, no clock.

Two pure parts:

- :data:`LIFECYCLE`, the one table of what people may do to an incident
  (open -> acknowledged -> stable -> resolved -> closed, and ``close --force`` from any
  status but closed), read by :func:`transition` (``monitor.incidents.ops``) and tested from the table.
- :func:`decide`, what a rule's signal does given the incident history the service loaded
  (:class:`History`): open, update, join a related incident, note a re-fire, suggest
  resolution, or nothing. ``monitor.incidents.service`` loads the history, applies the decision
  and announces it (``monitor.incidents.announce``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from monitor.config.rules import Immediate, Rule, leaves
from monitor.detect.severity import rank
from monitor.errors import InvalidOperation
from monitor.models import ACTIVE_STATUSES, Incident, IncidentStatus, Signal, SignalState

NO_GROUP = ""

Action = Literal["acknowledge", "stable", "resolve", "close", "close_forced"]

S = IncidentStatus
# (from status, action) -> new status. A pair missing from the table is refused (see REFUSALS).
LIFECYCLE: dict[tuple[IncidentStatus, Action], IncidentStatus] = {
    (S.OPEN, "acknowledge"): S.ACKNOWLEDGED,
    (S.ACKNOWLEDGED, "stable"): S.STABLE,
    (S.OPEN, "resolve"): S.RESOLVED,
    (S.ACKNOWLEDGED, "resolve"): S.RESOLVED,
    (S.STABLE, "resolve"): S.RESOLVED,
    (S.RESOLVED, "close"): S.CLOSED,
    (S.OPEN, "close_forced"): S.CLOSED,
    (S.ACKNOWLEDGED, "close_forced"): S.CLOSED,
    (S.STABLE, "close_forced"): S.CLOSED,
    (S.RESOLVED, "close_forced"): S.CLOSED,
}

# Why an action is refused, by action (and status where the advice differs); ``{id}``,
# ``{status}`` and ``{who}`` are filled in.
REFUSALS: dict[tuple[Action, IncidentStatus | None], str] = {
    ("acknowledge", None): "incident {id} is {status}{who}; only an open incident can be acknowledged",
    ("stable", None): "incident {id} is {status}; acknowledge it before marking it stable",
    ("resolve", None): "incident {id} is already {status}",
    ("close", S.CLOSED): "incident {id} is already closed",
    ("close", S.OPEN): "incident {id} was never acknowledged; acknowledge and resolve it first, or pass --force",
    ("close", None): "incident {id} is {status}; resolve it first, or pass --force",
    ("close_forced", None): "incident {id} is already closed",
}


class Refusal(InvalidOperation):
    """A refused operation: the English message, and ``key``/``fields`` for saying it in the
    team's language (``Lang.reason``; catalog keys ``refuse.…``, e.g. ``refuse.<action>[.<status>]``
    for the lifecycle)."""

    def __init__(self, message: str, key: str, fields: dict[str, object]) -> None:
        super().__init__(message)
        self.key = key
        self.fields = fields


def transition(incident: Incident, action: Action) -> IncidentStatus:
    """The status ``action`` leads to from the incident's; InvalidOperation saying why not."""
    target = LIFECYCLE.get((incident.status, action))
    if target is not None:
        return target
    specific = (action, incident.status) in REFUSALS
    template = REFUSALS[(action, incident.status)] if specific else REFUSALS[(action, None)]
    who = f" by {incident.acknowledged_by}" if incident.acknowledged_by else ""
    message = template.format(id=incident.id, status=incident.status.value, who=who)
    key = f"refuse.{action}" + (f".{incident.status.value}" if specific else "")
    fields: dict[str, object] = {"id": incident.id, "status": incident.status.value, "by": incident.acknowledged_by}
    raise Refusal(message, key, fields)


def is_active(incident: Incident) -> bool:
    return incident.status in ACTIVE_STATUSES


# -- what a signal does ---------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """What the service loaded for one signal: the (rule, group)'s active incident, the active
    incidents a related rule could join (same group first, then brand-wide), the latest
    incident of (rule, group), and whether a person already ended an incident of this firing
    episode within the rule's realert window."""

    active: Incident | None = None
    related: Sequence[Incident] = ()
    latest: Incident | None = None
    episode_handled: bool = False


@dataclass(frozen=True)
class Decision:
    """``kind``: open | update | attach | fired_again | suggest_resolution | nothing;
    ``incident``: the incident it applies to (None for open and nothing)."""

    kind: Literal["open", "update", "attach", "fired_again", "suggest_resolution", "nothing"]
    incident: Incident | None = None


NOTHING = Decision("nothing")


def decide(signal: Signal, rule: Rule, history: History, now: datetime) -> Decision:
    """What ``signal`` of ``rule`` does to the incidents, from the loaded ``history``."""
    if signal.state == SignalState.RESOLVED and signal.transitioned:
        return Decision("suggest_resolution", history.active) if history.active else NOTHING
    if signal.state != SignalState.FIRING:
        return NOTHING
    if history.active is not None:
        return Decision("update", history.active)
    new_case = new_report_after_resolution(signal, rule, history.latest)
    if history.episode_handled and not new_case:
        return NOTHING  # a person resolved this episode's incident while the rule still fires
    related = related_incident(signal, rule, history.related)
    if related is not None:
        return Decision("attach", related)
    if recently_ended(history.latest, rule.realert, now) and not new_case:
        return Decision("fired_again", history.latest)
    return Decision("open")


def related_incident(signal: Signal, rule: Rule, candidates: Sequence[Incident]) -> Incident | None:
    """The first active incident of the signal's group (else of no group) opened by a related
    rule or running the same playbook."""
    for group in related_groups(signal.group):
        for incident in candidates:
            if incident.group == group and (incident.rule_id in rule.related or incident.playbook == rule.playbook):
                return incident
    return None


def related_groups(group: str) -> list[str]:
    """Where a related incident may be: the same group, then brand-wide (no group)."""
    return [group, NO_GROUP] if group else [group]


def ended_at(incident: Incident | None) -> datetime | None:
    return None if incident is None else incident.resolved_at or incident.closed_at


def recently_ended(latest: Incident | None, realert: timedelta, now: datetime) -> bool:
    ended = ended_at(latest)
    return ended is not None and now - ended < realert


def new_report_after_resolution(signal: Signal, rule: Rule, latest: Incident | None) -> bool:
    """An immediate rule's new report, published after its incident was resolved, is a new
    case (another person hurt): it opens a new incident rather than being swallowed."""
    if not any(isinstance(leaf, Immediate) for leaf in leaves(rule.condition)):
        return False
    ended = ended_at(latest)
    return ended is not None and any(t.published_at > ended for t in signal.top_items)


def handled_cutoff(rule: Rule, now: datetime) -> datetime:
    """How far back the service looks for an ended incident of this episode: the realert window."""
    return now - rule.realert


def raises(signal: Signal, incident: Incident) -> bool:
    """The signal's severity is above the incident's."""
    return rank(signal.severity) > rank(incident.severity)
