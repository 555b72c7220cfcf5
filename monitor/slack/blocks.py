"""Block Kit payloads for Slack: the alert, the checklist and thread updates.

Pure functions of an :class:`~monitor.models.Incident` and ``now``: no I/O, no clock, no
slack_sdk. Each ``render_*`` returns ``{"text": fallback, "blocks": [...]}``, ready for
``chat.postMessage`` / ``chat.update`` or an incoming webhook.

Safety: every piece of text that comes from a feed, a complaint or an incident title goes
through :func:`escape` (mrkdwn) or :func:`plain` (plain_text), so it can never produce
``<!channel>``, ``<!here>``, user or group mentions, or links with a disguised label. Links
are built only by :func:`link`, from http(s) URLs that :func:`safe_url` accepts.

Limits: Block Kit's limits are enforced here (see the ``MAX_*`` constants), with visible
truncation ("… N more items") rather than a payload that Slack rejects.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.config.roles import role_name
from monitor.detect.evidence import Summary, author_text
from monitor.detect.severity import SEV_LABEL
from monitor.incidents.kit import KINDS
from monitor.models import Assignments, ChecklistEntry, Evidence, Incident, IncidentStatus, TopItem
from monitor.notify.i18n import ENGLISH, Lang, describe_evidence

Block = dict[str, Any]
Payload = dict[str, Any]

# Block Kit limits (https://api.slack.com/reference/block-kit), kept a little conservative.
MAX_BLOCKS = 50  # blocks per message
MAX_SECTION_TEXT = 3000  # section text, context mrkdwn element
MAX_HEADER_TEXT = 150  # header plain_text
MAX_ACTIONS_ELEMENTS = 10  # elements per actions block (Slack allows 25; we keep 10)
MAX_CONTEXT_ELEMENTS = 10  # elements per context block
MAX_BUTTON_TEXT = 75  # button label (plain_text)
MAX_OPTION_TEXT = 75  # option label in a select or checkboxes
MAX_OPTION_VALUE = 150  # option value
MAX_BUTTON_VALUE = 2000  # button value
MAX_BLOCK_ID = 255
MAX_FALLBACK_TEXT = 3000  # top-level "text" (Slack allows more; notifications show little)
MAX_URL = 2000

TOP_ITEMS_SHOWN = 5
EXCERPT_CHARS = 200
MUTE_CHOICES = (1, 4, 12, 24)

ELLIPSIS = "…"
ZWJ = "\u200d"
SEV_EMOJI = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵"}
STATUS_TEXT = {
    IncidentStatus.OPEN: "🔔 Open, not acknowledged",
    IncidentStatus.ACKNOWLEDGED: "👀 Acknowledged",
    IncidentStatus.STABLE: "🟢 Stable",
    IncidentStatus.RESOLVED: "✅ Resolved",
    IncidentStatus.CLOSED: "☑️ Closed",
}

_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_WHITESPACE = re.compile(r"\s+")
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_SLACK_GROUP = re.compile(r"^S[A-Z0-9]{2,20}$")


# --- escaping ------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Untrusted text made safe for mrkdwn (sections, context, fallback ``text``).

    Escapes ``&``, ``<`` and ``>`` as Slack asks, so no ``<!channel>``, ``<@U…>``,
    ``<!subteam^…>`` or ``<url|label>`` can be formed; inserts a zero-width joiner into bare
    ``@channel``/``@here``/``@everyone``; drops control and bidi-override characters.
    """
    text = _CONTROL.sub("", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@" + ZWJ, text)


def plain(text: str) -> str:
    """Untrusted text for a ``plain_text`` object: escaped like mrkdwn.

    Slack does not parse mentions in plain_text, but its docs treat ``&``, ``<`` and ``>`` as
    control characters in every text object, so they are escaped here too: nothing that
    looks like ``<!channel>`` ever leaves crisismon, whatever field it lands in.
    """
    return escape(text)


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces."""
    return _WHITESPACE.sub(" ", text).strip()


def safe_url(url: str | None) -> str | None:
    """The URL, ready to sit inside ``<…|label>``, if it is a plain http(s) URL; else None."""
    if not url or len(url) > MAX_URL or _CONTROL.search(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password:  # "https://bank.com@evil.example" disguises the host
        return None
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


def link(url: str | None, label: str) -> str:
    """A mrkdwn link with an escaped label, or just the escaped label when the URL is unsafe."""
    target = safe_url(url)
    shown = escape(label)
    return f"<{target}|{shown}>" if target else shown


def mention(role: str, mentions: Mapping[str, str] | None) -> str:
    """``<@U…>`` (or ``<!subteam^S…>``) for a role the roster maps to a Slack id, else the role."""
    slack_id = (mentions or {}).get(role, "")
    if _SLACK_USER.match(slack_id):
        return f"<@{slack_id}>"
    if _SLACK_GROUP.match(slack_id):
        return f"<!subteam^{slack_id}>"
    return escape(role)


def person(actor: str) -> str:
    """Who did something: a mention when ``actor`` is a Slack user id, else the escaped name."""
    return f"<@{actor}>" if _SLACK_USER.match(actor) else escape(actor)


# --- truncation ----------------------------------------------------------------------------


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + ELLIPSIS


def truncate_escaped(raw: str, limit: int) -> str:
    """``escape(raw)`` cut to ``limit`` characters without splitting an ``&amp;`` entity."""
    escaped = escape(raw)
    if len(escaped) <= limit:
        return escaped
    return _PARTIAL_ENTITY.sub("", escaped[: max(0, limit - 1)]) + ELLIPSIS


def fit_lines(lines: Sequence[str], limit: int = MAX_SECTION_TEXT, noun: str = "items") -> str:
    """Lines joined by newlines within ``limit``; what does not fit becomes "… N more <noun>".

    Whole lines are dropped (never cut), so a link or mention is never split. A single line
    longer than the limit is cut with :func:`truncate`.
    """
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for index, line in enumerate(lines):
        more = f"{ELLIPSIS} {len(lines) - index - 1} more {noun}" if index < len(lines) - 1 else ""
        candidate = "\n".join([*kept, line, more] if more else [*kept, line])
        if len(candidate) > limit:
            if not kept:
                return truncate(line, limit)
            return "\n".join([*kept, f"{ELLIPSIS} {len(lines) - index} more {noun}"])
        kept.append(line)
    return "\n".join(kept)  # pragma: no cover - the whole text fitted


# --- block builders ------------------------------------------------------------------------


def header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(text, MAX_HEADER_TEXT), "emoji": True},
    }


def section(text: str, *, block_id: str | None = None, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_TEXT)}}
    if block_id:
        block["block_id"] = block_id[:MAX_BLOCK_ID]
    if accessory:
        block["accessory"] = accessory
    return block


def context(*texts: str) -> Block:
    elements = [{"type": "mrkdwn", "text": truncate(t, MAX_SECTION_TEXT)} for t in texts if t]
    return {"type": "context", "elements": elements[:MAX_CONTEXT_ELEMENTS]}


def button(label: str, action_id: str, value: Mapping[str, Any], *, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": truncate(label, MAX_BUTTON_TEXT), "emoji": True},
        "value": _json(value, MAX_BUTTON_VALUE),
    }
    if style:
        element["style"] = style
    return element


def actions(elements: Sequence[Block], *, block_id: str) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(elements[:MAX_ACTIONS_ELEMENTS])}


def _option(label: str, value: Mapping[str, Any]) -> Block:
    return {
        "text": {"type": "plain_text", "text": truncate(label, MAX_OPTION_TEXT), "emoji": True},
        "value": _json(value, MAX_OPTION_VALUE),
    }


def _json(value: Mapping[str, Any], limit: int) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if len(text) > limit:
        raise ValueError(f"action value {text[:60]!r}… is {len(text)} characters, Slack allows {limit}")
    return text


# --- times ---------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def fmt_time(moment: datetime, lang: Lang = ENGLISH) -> str:
    """``2024-05-01 10:30 UTC``: readable in fallback text and notifications (in the configured zone)."""
    return lang.time(_utc(moment))


def slack_time(moment: datetime, lang: Lang = ENGLISH) -> str:
    """A ``<!date^…>`` token: each reader sees local time; the fallback is :func:`fmt_time`."""
    epoch = int(_utc(moment).timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fmt_time(moment, lang)}>"


# --- the alert -----------------------------------------------------------------------------


def sev_label(severity: str, lang: Lang = ENGLISH) -> str:
    return f"{SEV_EMOJI.get(severity, '⚪')} {lang.severity(severity)}"


def _is_active(incident: Incident) -> bool:
    return incident.status in (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.STABLE)


def _alert_header(incident: Incident, lang: Lang) -> str:
    word = lang.word(incident.status.value)
    prefix = "" if _is_active(incident) else f"{word.upper() if lang.locale == 'en' else word} · "
    return f"{prefix}{sev_label(incident.severity, lang)} · #{incident.id} {plain(one_line(incident.title))}"


def _state_lines(
    incident: Incident, rule_description: str, playbook_title: str, now: datetime, lang: Lang
) -> list[str]:
    status = lang.status(incident.status.value)
    if incident.acknowledged_by:
        status += " " + lang.t("label.by", who=person(incident.acknowledged_by))
    lines = [
        f"*{lang.t('label.status')}:* {status} · *{lang.t('label.opened')}:* {slack_time(incident.opened_at, lang)}"
    ]
    if incident.resolved_at is not None:
        lines[0] += f" · *{lang.t('label.resolved')}:* {slack_time(incident.resolved_at, lang)}"
    rule = f"*{lang.t('label.rule')}:* `{escape(one_line(incident.rule_id))}`"
    if rule_description:
        rule += f" {truncate_escaped(one_line(rule_description), 300)}"
    lines.append(rule)
    if incident.group:
        lines.append(f"*{lang.t('label.group')}:* {truncate_escaped(one_line(incident.group), 300)}")
    if incident.checklist:
        done = sum(1 for e in incident.checklist if e.done_at is not None)
        overdue = sum(1 for e in incident.checklist if _overdue(e, now))
        title = truncate_escaped(one_line(playbook_title), 200)
        progress = lang.t("label.done_count", done=done, total=len(incident.checklist))
        summary = f"*{lang.t('label.playbook')}:* {title} · {progress}"
        if overdue:
            summary += f" · ⚠️ *{lang.t('label.overdue_count', n=overdue)}*"
        lines.append(summary)
    elif playbook_title:
        lines.append(f"*{lang.t('label.playbook')}:* {truncate_escaped(one_line(playbook_title), 200)}")
    return lines


def _owner_line(incident: Incident, mentions: Mapping[str, str] | None, lang: Lang) -> str | None:
    roles = list(dict.fromkeys(e.owner for e in incident.checklist if e.done_at is None))
    if not roles or not _is_active(incident):
        return None
    return f"*{lang.t('label.owners')}:* " + ", ".join(_owner(role, mentions, lang) for role in roles)


def _owner(role: str, mentions: Mapping[str, str] | None, lang: Lang = ENGLISH) -> str:
    """``<@U…> (role)`` when the roster names someone for the role, else just the role
    (its Chinese name with ``locale: zh-CN``)."""
    shown = mention(role, mentions)
    called = escape(role_name(role, lang.locale) if lang.locale == "zh-CN" else role)
    return called if shown == escape(role) else f"{shown} ({called})"


def _evidence_text(evidence: Sequence[Evidence], lang: Lang) -> str:
    heading = f"*{lang.t('heading.evidence')}*"
    if not evidence:
        return f"{heading}\n_{lang.t('heading.no_evidence')}_"
    lines = [f"• {truncate_escaped(describe_evidence(e, lang), 500)}" for e in evidence]
    return fit_lines([heading, *lines], noun="conditions")


def _sentiment(value: float | None, lang: Lang = ENGLISH) -> str:
    return lang.t("story.no_sentiment") if value is None else lang.t("story.sentiment", value=f"{value:.2f}")


def _spread(item: TopItem, lang: Lang = ENGLISH) -> str:
    """``×12 copies via news, weibo`` for a story seen more than once; the author and reach."""
    parts = []
    if item.copies > 1:
        via = lang.t("story.via", sources=escape(", ".join(item.sources))) if item.sources else ""
        parts.append(lang.t("story.copies", n=item.copies, via=via))
    if item.author:
        reach = lang.t("story.followers", n=f"{item.reach:,}") if item.reach is not None else ""
        parts.append(lang.t("story.by", who=truncate_escaped(one_line(item.author), 60), reach=reach))
    if item.lang == "other":
        parts.append(lang.t("story.other_language"))
    return "".join(f" · {p}" for p in parts)


def top_item_text(item: TopItem, lang: Lang = ENGLISH) -> str:
    """One evidence story: linked title, then source · time · sentiment · copies · author, then
    an excerpt."""
    title = one_line(item.title) or one_line(item.text)
    first = f"*{link(item.url, truncate(title, 150))}*"
    meta = (
        f"{escape(one_line(item.source))} · {slack_time(item.published_at, lang)} · {_sentiment(item.sentiment, lang)}"
        f"{_spread(item, lang)}"
    )
    excerpt = one_line(item.text)
    lines = [first, meta]
    if excerpt and excerpt != title:
        lines.append(f"> {truncate_escaped(excerpt, EXCERPT_CHARS)}")
    return "\n".join(lines)


def _top_item_blocks(items: Sequence[TopItem], lang: Lang) -> list[Block]:
    if not items:
        return []
    blocks = [section(f"*{lang.t('heading.stories')}* ({len(items)})")]
    blocks += [section(top_item_text(item, lang)) for item in items[:TOP_ITEMS_SHOWN]]
    if len(items) > TOP_ITEMS_SHOWN:
        blocks.append(context(lang.t("label.more_items", n=len(items) - TOP_ITEMS_SHOWN)))
    return blocks


def _summary_text(summary: Summary, lang: Lang = ENGLISH) -> str:
    """*What is spreading*: volume, sources, rising terms, authors, other languages."""
    t = lang.t
    lines = [f"*{t('heading.spreading')}*", t("spread.volume", items=summary.items, stories=summary.stories)]
    if summary.sources:
        lines.append(f"*{t('spread.sources')}* " + ", ".join(f"{escape(s)} {n}" for s, n in summary.sources))
    if summary.terms:
        terms = ", ".join(f"{escape(w)} ×{lift:.1f} ({n})" for w, lift, n in summary.terms)
        lines.append(f"*{t('spread.terms')}* " + terms)
    if summary.authors:
        shown = [truncate_escaped(_author(a, r, n, lang), 80) for a, r, n in summary.authors]
        lines.append(f"*{t('spread.authors')}* " + ", ".join(shown))
    if summary.other_languages:
        lines.append(f"_{t('spread.other_languages', n=summary.other_languages)}_")
    return fit_lines(lines, noun="lines")


def _author(author: str, reach: int | None, items: int, lang: Lang) -> str:
    if lang.locale == "en":
        return author_text(author, reach, items)
    shown = author + (lang.t("story.followers", n=f"{reach:,}") if reach is not None else "")
    return shown + (f" ×{items}" if items > 1 else "")


def _alert_actions(incident: Incident, lang: Lang) -> Block:
    ref = {"incident": incident.id}
    elements: list[Block] = []
    status = incident.status
    if status == IncidentStatus.OPEN:
        elements.append(button(lang.t("button.ack"), "ack", ref, style="primary"))
    if status == IncidentStatus.ACKNOWLEDGED:
        elements.append(button(lang.t("button.stable"), "stable", ref))
    if _is_active(incident):
        elements.append(button(lang.t("button.resolve"), "resolve", ref))
    if status != IncidentStatus.CLOSED:
        elements.append(button(lang.t("button.close"), "close", ref, style="danger" if _is_active(incident) else None))
    if _is_active(incident):
        elements += [
            button(lang.t("button.status_update"), "status_update", ref),
            button(lang.t("button.assign"), "assign", ref),
        ]
    elements.append(button(lang.t("button.show_checklist"), "show_checklist", ref))
    if _is_active(incident):
        elements.append(
            _select("draft", lang.t("button.draft"), [(lang.t(f"kit.{k}"), {**ref, "kind": k}) for k in KINDS])
        )
        mute = [(lang.t("button.mute_hours", h=h), {**ref, "hours": h}) for h in MUTE_CHOICES]
        elements.append(_select("mute", lang.t("button.mute"), mute))
    return actions(elements, block_id=f"incident:{incident.id}")


def _select(action_id: str, placeholder: str, options: Sequence[tuple[str, Mapping[str, Any]]]) -> Block:
    return {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": {"type": "plain_text", "text": truncate(placeholder, MAX_OPTION_TEXT), "emoji": True},
        "options": [_option(label, value) for label, value in options],
    }


def alert_fallback(incident: Incident, lang: Lang = ENGLISH) -> str:
    """The notification text: severity, title, group and the first piece of evidence."""
    parts = [lang.severity(incident.severity)]
    if not _is_active(incident):
        status = incident.status.value
        parts.insert(0, status.upper() if lang.locale == "en" else lang.word(status))
    text = f"{' '.join(parts)} #{incident.id} {escape(one_line(incident.title))}"
    if incident.group:
        text += f" [{escape(one_line(incident.group))}]"
    if incident.evidence:
        text += f": {escape(describe_evidence(incident.evidence[0], lang))}"
    return truncate(text, MAX_FALLBACK_TEXT)


def render_alert(
    incident: Incident,
    *,
    rule_description: str,
    playbook_title: str,
    now: datetime,
    mentions: Mapping[str, str] | None = None,
    lang: Lang = ENGLISH,
) -> Payload:
    """The alert's top message; re-rendered and ``chat.update``-d when the incident changes.

    Buttons (``actions`` block ``incident:<id>``): ``ack`` (while open), ``show_checklist``,
    and a ``mute`` select (while active); each value is JSON ``{"incident": id}`` (mute adds
    ``"hours"``).
    """
    state = _state_lines(incident, rule_description, playbook_title, now, lang)
    owners = _owner_line(incident, mentions, lang)
    if owners:
        state.append(owners)
    blocks: list[Block] = [
        header(_alert_header(incident, lang)),
        section(fit_lines(state, noun="lines")),
        section(_evidence_text(incident.evidence, lang)),
    ]
    if incident.summary is not None and incident.summary.items:
        blocks.append(section(_summary_text(incident.summary, lang)))
    blocks += _top_item_blocks(incident.top_items, lang)
    blocks += [
        context(lang.t("label.updated", time=slack_time(now, lang), id=incident.id)),
        _alert_actions(incident, lang),
    ]
    return {"text": alert_fallback(incident, lang), "blocks": blocks}


# --- the checklist -------------------------------------------------------------------------


def _overdue(entry: ChecklistEntry, now: datetime) -> bool:
    return entry.done_at is None and _utc(entry.due_at) < _utc(now)


def _item_status(
    entry: ChecklistEntry, now: datetime, mentions: Mapping[str, str] | None, lang: Lang, assigned: str | None = None
) -> str:
    """Owner (``assigned``: the person someone made its owner, with the role), due or done, overdue."""
    called = escape(lang.role(entry.owner))
    owner = f"👤 {escape(assigned)} ({called})" if assigned else f"👤 {_owner(entry.owner, mentions, lang)}"
    if entry.done_at is not None:
        by = (" " + lang.t("label.by", who=person(entry.done_by))) if entry.done_by else ""
        return f"{owner} · {lang.t('item.done', who=by, time=slack_time(entry.done_at, lang))}"
    status = f"{owner} · {lang.t('item.due', time=slack_time(entry.due_at, lang))}"
    return status + (f" · {lang.t('item.overdue')}" if _overdue(entry, now) else "")


def _item_main(entry: ChecklistEntry) -> str:
    box = "☑" if entry.done_at is not None else "☐"
    text = truncate_escaped(one_line(entry.text), 1200)
    return f"{box} ~{text}~" if entry.done_at is not None else f"{box} {text}"


def _tick_accessory(incident_id: int, entry: ChecklistEntry, lang: Lang) -> Block:
    """A one-option ``checkboxes`` element (action ``tick``), or a button when ids are long."""
    ref = {"incident": incident_id, "item": entry.item_id}
    try:
        option = _option(lang.t("button.done"), ref)
    except ValueError:
        op = "untick" if entry.done_at is not None else "tick"
        return button(lang.t("button.undo" if op == "untick" else "button.done"), "tick", {**ref, "op": op})
    element: Block = {"type": "checkboxes", "action_id": "tick", "options": [option]}
    if entry.done_at is not None:
        element["initial_options"] = [option]
    return element


def item_block_id(incident_id: int, item_id: str) -> str:
    """``tick:<incident>:<item>``: parsed back by ``monitor.slack.interactions``."""
    return f"tick:{incident_id}:{item_id}"


def _item_blocks(
    incident: Incident,
    entry: ChecklistEntry,
    now: datetime,
    mentions: Mapping[str, str] | None,
    *,
    compact: bool,
    lang: Lang = ENGLISH,
    assigned: Assignments | None = None,
) -> list[Block]:
    shows_english = lang.locale == "en" or lang.bilingual  # zh-CN alone shows the Chinese side only
    english = f"_{truncate_escaped(one_line(entry.text_en), 1200)}_" if entry.text_en and shows_english else ""
    owner = assigned.owners.get(entry.item_id) if assigned else None
    status = _item_status(entry, now, mentions, lang, owner)
    block_id = item_block_id(incident.id, entry.item_id)
    accessory = _tick_accessory(incident.id, entry, lang)
    if compact:
        text = "\n".join(t for t in (_item_main(entry), english, status) if t)
        return [section(text, block_id=block_id, accessory=accessory)]
    return [section(_item_main(entry), block_id=block_id, accessory=accessory), context(english, status)]


def _phases(entries: Iterable[ChecklistEntry]) -> list[tuple[str, list[ChecklistEntry]]]:
    grouped: dict[str, tuple[str, list[ChecklistEntry]]] = {}
    for entry in entries:
        grouped.setdefault(entry.phase, (entry.phase_title or entry.phase, []))[1].append(entry)
    return list(grouped.values())


def _checklist_units(
    incident: Incident,
    now: datetime,
    mentions: Mapping[str, str] | None,
    *,
    compact: bool,
    lang: Lang = ENGLISH,
    assigned: Assignments | None = None,
) -> list[tuple[bool, list[Block]]]:
    """(is_item, blocks) for each phase title and each item, in order."""
    units: list[tuple[bool, list[Block]]] = []
    for number, (title, entries) in enumerate(_phases(incident.checklist), start=1):
        units.append((False, [section(f"*{number}. {truncate_escaped(one_line(title), 200)}*")]))
        units += [
            (True, _item_blocks(incident, e, now, mentions, compact=compact, lang=lang, assigned=assigned))
            for e in entries
        ]
    return units


def _fit_units(
    units: Sequence[tuple[bool, list[Block]]], room: int, total: int, lang: Lang = ENGLISH
) -> tuple[list[Block], int]:
    """As many units as fit in ``room`` blocks, then "… N more items"; and the items shown."""
    out: list[Block] = []
    shown = 0
    last_was_item = True
    for is_item, blocks in units:
        reserve = 1 if total - shown - int(is_item) > 0 else 0
        if len(out) + len(blocks) + reserve > room:
            if not last_was_item:
                out.pop()  # a phase title with none of its items
            out.append(context(lang.t("label.more_items", n=total - shown)))
            return out, shown
        out += blocks
        shown += int(is_item)
        last_was_item = is_item
    return out, shown


def checklist_fallback(incident: Incident, now: datetime, lang: Lang = ENGLISH) -> str:
    done = sum(1 for e in incident.checklist if e.done_at is not None)
    overdue = sum(1 for e in incident.checklist if _overdue(e, now))
    title = escape(one_line(incident.title))
    text = lang.t("checklist.fallback", id=incident.id, title=title, done=done, total=len(incident.checklist))
    return truncate(text + (f", {lang.t('label.overdue_count', n=overdue)}" if overdue else ""), MAX_FALLBACK_TEXT)


def render_checklist(
    incident: Incident,
    *,
    playbook_title: str,
    now: datetime,
    mentions: Mapping[str, str] | None = None,
    lang: Lang = ENGLISH,
    assignments: Assignments | None = None,
) -> Payload:
    """The checklist message: items by phase, each with a ``tick`` checkbox.

    Each item is a section (block_id ``tick:<incident>:<item>``, checkbox value JSON
    ``{"incident": id, "item": item_id}``) and a context line with the English text, the
    owner (the person assigned to it, if someone was), the due time and an OVERDUE marker;
    the assigned incident commander is named under the header. When the items would exceed
    50 blocks the layout turns compact (one block per item), then the tail is cut with
    "… N more items".
    """
    assigned = assignments or Assignments()
    commander = (
        f" · *{lang.t('label.commander')}:* {escape(one_line(assigned.commander))}" if assigned.commander else ""
    )
    top = [
        header(lang.t("heading.checklist", id=incident.id, title=plain(one_line(incident.title)))),
        context(
            f"*{escape(one_line(playbook_title))}* · {sev_label(incident.severity, lang)} · "
            f"{lang.status(incident.status.value)}{commander} · {lang.t('label.as_of', time=slack_time(now, lang))}"
        ),
    ]
    room = MAX_BLOCKS - len(top)
    fallback = checklist_fallback(incident, now, lang)
    if not incident.checklist:
        return {"text": fallback, "blocks": [*top, section(f"_{lang.t('heading.no_items')}_")]}
    total = len(incident.checklist)
    units = _checklist_units(incident, now, mentions, compact=False, lang=lang, assigned=assigned)
    body, shown = _fit_units(units, room, total, lang)
    if shown < total:
        units = _checklist_units(incident, now, mentions, compact=True, lang=lang, assigned=assigned)
        body, shown = _fit_units(units, room, total, lang)
    return {"text": fallback, "blocks": [*top, *body]}


# --- thread updates ------------------------------------------------------------------------


def render_update(
    incident: Incident,
    text: str,
    *,
    notify: Sequence[str] = (),
    lang: Lang = ENGLISH,
    actions_block: Block | None = None,
) -> Payload:
    """A thread reply: ``text`` (escaped: it may quote feed content) and the current state.

    ``notify`` lists Slack user ids to mention (e.g. the escalation target); anything that is
    not a Slack user id is ignored.
    """
    body = truncate_escaped(text, MAX_SECTION_TEXT - 200)
    people = " ".join(f"<@{uid}>" for uid in notify if _SLACK_USER.match(uid))
    blocks: list[Block] = [section(f"{body}\n{people}" if people else body)]
    state = lang.status(incident.status.value)
    blocks.append(context(f"#{incident.id} · {sev_label(incident.severity, lang)} · {state}"))
    if actions_block is not None:
        blocks.append(actions_block)
    fallback = truncate(
        f"#{incident.id} {SEV_LABEL.get(incident.severity, 'SEV?')}: {escape(one_line(text))}",
        MAX_FALLBACK_TEXT,
    )
    return {"text": fallback, "blocks": blocks}


# --- files (charts) ------------------------------------------------------------------------

MAX_FILE_BYTES = 1024 * 1024  # a chart is ~20-60 kB; the outbox keeps payloads in the store
MAX_FILE_TITLE = 250


def render_file(data: bytes, *, filename: str, title: str, text: str = "") -> Payload:
    """A file upload (a chart PNG) for the outbox: ``{"file": base64, "filename", "title", "text"}``.

    Bot mode uploads it with ``files_upload_v2`` (``text`` becomes the comment posted with
    it); webhook mode posts ``text`` only, with a note that the image was left out. ``text``
    is escaped here (it may quote an incident title); ``title`` is plain text.
    """
    if not data:
        raise ValueError("a file needs content")
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"file of {len(data)} bytes is larger than {MAX_FILE_BYTES}")
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", filename).strip("-.") or "file"
    return {
        "file": base64.b64encode(data).decode("ascii"),
        "filename": name[:100],
        "title": truncate(one_line(title), MAX_FILE_TITLE),
        "text": truncate_escaped(text, MAX_FALLBACK_TEXT) if text else "",
    }


def statement_actions(incident_id: int, kind: str, version: int, lang: Lang = ENGLISH) -> Block:
    """Approve / Return / Edit buttons under a submitted statement (value: incident, kind, version)."""
    ref = {"incident": incident_id, "kind": kind, "version": version}
    elements = [
        button(lang.t("button.approve"), "stmt_approve", ref, style="primary"),
        button(lang.t("button.return"), "stmt_return", ref, style="danger"),
        button(lang.t("button.edit"), "stmt_edit", ref),
    ]
    return actions(elements, block_id=f"statement:{incident_id}:{kind}:{version}")
