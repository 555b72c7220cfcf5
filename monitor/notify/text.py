"""Plain-text renderings of incident messages, for the console and logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.models import Incident
from monitor.severity import label


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


def render_alert(incident: Incident, *, rule_description: str, playbook_title: str, now: datetime) -> dict[str, Any]:
    lines = [
        f"=== CRISIS ALERT #{incident.id} [{label(incident.severity)}] {incident.title} ===",
        f"status: {incident.status.value}   opened: {_time(incident.opened_at)}   rule: {incident.rule_id}",
        f"why: {rule_description}",
    ]
    if incident.group:
        lines.append(f"group: {incident.group}")
    lines += [f"  - {e.describe()}" for e in incident.evidence]
    if incident.summary is not None and incident.summary.items:
        lines += [f"  {line}" for line in incident.summary.lines()]
    if incident.top_items:
        lines.append("matched stories, most negative first:")
        for item in incident.top_items:
            score = "" if item.sentiment is None else f" ({item.sentiment:.2f})"
            text = (item.title or item.text).replace("\n", " ")[:80]
            link = f" {item.url}" if item.url else ""
            copies = f" ×{item.copies} via {', '.join(item.sources)}" if item.copies > 1 else ""
            author = f" by {item.author}" if item.author else ""
            lines.append(f"  - [{item.source} {_time(item.published_at)}]{score}{copies}{author} {text}{link}")
    lines.append(f"playbook: {playbook_title} ({incident.playbook})")
    return {"text": "\n".join(lines)}


def render_checklist(incident: Incident, *, playbook_title: str, now: datetime) -> dict[str, Any]:
    lines = [f"--- checklist for incident #{incident.id}: {playbook_title} ---"]
    phase = None
    for entry in incident.checklist:
        if entry.phase != phase:
            phase = entry.phase
            lines.append(f"[{entry.phase_title}]")
        mark = "x" if entry.done_at else " "
        overdue = " OVERDUE" if entry.done_at is None and entry.due_at < now else ""
        lines.append(f"  [{mark}] {entry.item_id}: {entry.text} / {entry.text_en}")
        lines.append(f"        owner: {entry.owner}   due: {_time(entry.due_at)}{overdue}")
    return {"text": "\n".join(lines)}


def render_update(incident: Incident, text: str) -> dict[str, Any]:
    return {"text": f"--- incident #{incident.id} [{label(incident.severity)}] {incident.status.value}: {text}"}
