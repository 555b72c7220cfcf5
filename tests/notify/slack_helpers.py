"""Small helpers shared by the Slack notifier tests."""

from __future__ import annotations

from typing import Any

from monitor.models import Message

CHANNEL = "C0CRISIS01"


class Ticker:
    """A monotonic clock that only moves when told to, or when someone sleeps on it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def message(payload: dict[str, Any], message_id: int = 1, kind: str = "alert", **fields: Any) -> Message:
    return Message(id=message_id, destination="slack", kind=kind, payload=payload, incident_id=42, **fields)  # type: ignore[arg-type]


def text(value: str) -> dict[str, Any]:
    return {"text": value, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": value}}]}
