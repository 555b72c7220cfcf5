"""Aggregates of scored observations over time windows (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Observation:
    """One scored item reduced to what detection needs."""

    at: datetime
    count: int
    sentiment: float | None
    story: int | None = None  # items of one story count once in the ``stories`` metrics


@dataclass(frozen=True, slots=True)
class Aggregate:
    count: int = 0
    negative: int = 0
    scored: int = 0
    sentiment_sum: float = 0.0
    stories: int = 0
    negative_stories: int = 0

    def metric(self, name: str) -> float:
        if name == "count":
            return float(self.count)
        if name == "negative_count":
            return float(self.negative)
        if name == "negative_share":
            return self.negative / self.scored if self.scored else 0.0
        if name == "stories":
            return float(self.stories)
        if name == "negative_stories":
            return float(self.negative_stories)
        if name == "mean_sentiment":
            return self.sentiment_sum / self.scored if self.scored else 0.5
        raise ValueError(f"unknown metric {name!r}")


def aggregate(observations: Sequence[Observation], start: datetime, end: datetime, cut: float) -> Aggregate:
    """Totals over the half-open window ``(start, end]``; negative means sentiment < cut."""
    count = negative = scored = lone = lone_negative = 0
    total = 0.0
    stories: set[int] = set()
    negative_stories: set[int] = set()
    for obs in observations:
        if start < obs.at <= end:
            count += obs.count
            negative_item = obs.sentiment is not None and obs.sentiment < cut
            if obs.sentiment is not None:
                scored += obs.count
                total += obs.sentiment * obs.count
                negative += obs.count if negative_item else 0
            if obs.story is None:  # its own story (a complaint count: that many voices)
                lone += obs.count
                lone_negative += obs.count if negative_item else 0
            else:
                stories.add(obs.story)
                if negative_item:
                    negative_stories.add(obs.story)
    return Aggregate(count, negative, scored, total, lone + len(stories), lone_negative + len(negative_stories))


def window_metric(
    observations: Sequence[Observation], metric: str, end: datetime, window: timedelta, cut: float
) -> float:
    return aggregate(observations, end - window, end, cut).metric(metric)


def is_rate(metric: str) -> bool:
    """Count metrics scale with window length; shares and means do not."""
    return metric in ("count", "negative_count", "stories", "negative_stories")
