"""Plain-text renderings of incident messages, for the console and logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.detect.evidence import Summary
from monitor.models import Assignments, Incident, TopItem
from monitor.notify.i18n import ENGLISH, Lang, describe_evidence


def render_alert(
    incident: Incident, *, rule_description: str, playbook_title: str, now: datetime, lang: Lang = ENGLISH
) -> dict[str, Any]:
    _time, t = lang.time, lang.t
    lines = [
        f"=== {t('console.alert')} #{incident.id} [{lang.severity(incident.severity)}] {incident.title} ===",
        f"{t('console.status')}: {lang.word(incident.status.value)}   {t('console.opened')}: "
        f"{_time(incident.opened_at)}   {t('console.rule')}: {incident.rule_id}",
        f"{t('console.why')}: {rule_description}",
    ]
    if incident.group:
        lines.append(f"{t('console.group')}: {incident.group}")
    lines += [f"  - {describe_evidence(e, lang)}" for e in incident.evidence]
    if incident.summary is not None and incident.summary.items:
        lines += [f"  {line}" for line in _summary_lines(incident.summary, lang)]
    if incident.top_items:
        lines.append(f"{t('console.stories')}:")
        for item in incident.top_items:
            score = "" if item.sentiment is None else f" ({item.sentiment:.2f})"
            text = (item.title or item.text).replace("\n", " ")[:80]
            link = f" {item.url}" if item.url else ""
            lines.append(f"  - [{item.source} {_time(item.published_at)}]{score}{_story_meta(item, lang)} {text}{link}")
    lines.append(f"{t('console.playbook')}: {playbook_title} ({incident.playbook})")
    return {"text": "\n".join(lines)}


def render_checklist(
    incident: Incident,
    *,
    playbook_title: str,
    now: datetime,
    lang: Lang = ENGLISH,
    assignments: Assignments | None = None,
) -> dict[str, Any]:
    _time, t = lang.time, lang.t
    assigned = assignments or Assignments()
    lines = [f"--- {t('console.checklist', id=incident.id)}: {playbook_title} ---"]
    if assigned.commander:
        lines.append(f"{t('console.commander')}: {assigned.commander}")
    phase = None
    for entry in incident.checklist:
        if entry.phase != phase:
            phase = entry.phase
            lines.append(f"[{entry.phase_title}]")
        mark = "x" if entry.done_at else " "
        overdue = f" {t('console.overdue')}" if entry.done_at is None and entry.due_at < now else ""
        lines.append(f"  [{mark}] {entry.item_id}: {_item_text(entry.text, entry.text_en, lang)}")
        owner = lang.role(entry.owner)
        person = assigned.owners.get(entry.item_id)
        owner = f"{person} ({owner})" if person else owner
        lines.append(f"        {t('console.owner')}: {owner}   {t('console.due')}: {_time(entry.due_at)}{overdue}")
    return {"text": "\n".join(lines)}


def render_update(incident: Incident, text: str, lang: Lang = ENGLISH) -> dict[str, Any]:
    status = lang.word(incident.status.value)
    return {
        "text": f"--- {lang.t('console.incident')} #{incident.id} [{lang.severity(incident.severity)}] {status}: {text}"
    }


def _summary_lines(summary: Summary, lang: Lang) -> list[str]:
    """What is spreading, in the locale (English: :meth:`Summary.lines` as it always was)."""
    if lang.locale == "en":
        return summary.lines()
    t = lang.t
    out = [t("spread.volume", items=summary.items, stories=summary.stories)]
    if summary.sources:
        out.append(t("spread.sources") + ", ".join(f"{s} {n}" for s, n in summary.sources))
    if summary.terms:
        out.append(t("spread.terms") + ", ".join(f"{w} ×{lift:.1f} ({n})" for w, lift, n in summary.terms))
    if summary.authors:
        shown = [a + (t("story.followers", n=f"{r:,}") if r is not None else "") for a, r, _ in summary.authors]
        out.append(t("spread.authors") + ", ".join(shown))
    if summary.other_languages:
        out.append(t("spread.other_languages", n=summary.other_languages))
    return out


def _story_meta(item: TopItem, lang: Lang) -> str:
    """`` ×3 via news, weibo by 老李`` (in the locale)."""
    if lang.locale == "en":
        copies = f" ×{item.copies} via {', '.join(item.sources)}" if item.copies > 1 else ""
        return copies + (f" by {item.author}" if item.author else "")
    via = lang.t("story.via", sources=", ".join(item.sources)) if item.sources else ""
    copies = " " + lang.t("story.copies", n=item.copies, via=via) if item.copies > 1 else ""
    return copies + (" " + lang.t("story.by", who=item.author, reach="") if item.author else "")


def _item_text(text: str, text_en: str, lang: Lang) -> str:
    """Both sides in English (the console's habit), the locale's side (or both when bilingual) in Chinese."""
    return lang.pick(text, text_en) if lang.locale == "zh-CN" else f"{text} / {text_en}"
