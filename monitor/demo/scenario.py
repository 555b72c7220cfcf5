"""The demo's replayed crisis: texts from scenario.yaml placed on a simulated timeline."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

SCENARIO_FILE = Path(__file__).resolve().parent / "scenario.yaml"
CALM = timedelta(days=3)
SURGE_START = timedelta(minutes=20)
SURGE_LENGTH = timedelta(hours=3)


@dataclass(frozen=True, slots=True)
class Event:
    """One complaint record, post or article at its simulated time."""

    channel: str  # complaints | social | news
    at: datetime
    id: str
    text: str
    title: str = ""
    category: str | None = None
    product: str | None = None
    region: str | None = None


def build_timeline(start: datetime, *, seed: int = 7, path: Path = SCENARIO_FILE) -> list[Event]:
    """Calm history over the 3 days before ``start``, then a surge from ``start + 20m``.

    The surge's rate grows linearly, so early buckets are quiet and later ones loud.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rng = random.Random(seed)
    events: list[Event] = []
    for channel, entries in data["calm"].items():
        for index, entry in enumerate(entries):
            at = start - CALM + timedelta(seconds=rng.uniform(0, CALM.total_seconds() - 60))
            events.append(_event(channel, f"calm-{channel}-{index}", at, entry))
    for channel, entries in data["surge"].items():
        for index, entry in enumerate(entries):
            fraction = rng.random() ** 0.5  # density grows linearly through the surge
            at = start + SURGE_START + SURGE_LENGTH * fraction
            events.append(_event(channel, f"surge-{channel}-{index}", at, entry))
    events.sort(key=lambda e: e.at)
    return events


def _event(channel: str, event_id: str, at: datetime, entry: dict[str, Any]) -> Event:
    return Event(
        channel=channel,
        at=at,
        id=event_id,
        text=entry["text"],
        title=entry.get("title", ""),
        category=entry.get("category"),
        product=entry.get("product"),
        region=entry.get("region"),
    )
