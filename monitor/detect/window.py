"""Aggregates of scored observations over time windows (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

HOUR = 3600.0
SCALE = 10**9
"""Sentiments are summed as integers of ``1 / SCALE`` (``units``): sums of whole hours kept
in the store (``monitor.detect.hits``) then add up to exactly what summing the items gives."""
SUMMABLE = frozenset({"count", "negative_count", "negative_share", "mean_sentiment"})
"""Metrics whose totals add up across hours; ``stories`` and ``negative_stories`` count
distinct stories (a story spanning two hours counts once) and are read from the hits."""


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
    sentiment_units: int = 0  # the sum of each scored item's ``units(sentiment) * count``
    stories: int = 0
    negative_stories: int = 0

    @property
    def sentiment_sum(self) -> float:
        return self.sentiment_units / SCALE

    def plus(self, other: Aggregate) -> Aggregate:
        """The summable totals of both (``stories`` are not summable: 0)."""
        return Aggregate(
            self.count + other.count,
            self.negative + other.negative,
            self.scored + other.scored,
            self.sentiment_units + other.sentiment_units,
        )

    def minus(self, other: Aggregate) -> Aggregate:
        """The summable totals of this less ``other`` (a part of it)."""
        return Aggregate(
            self.count - other.count,
            self.negative - other.negative,
            self.scored - other.scored,
            self.sentiment_units - other.sentiment_units,
        )

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
            return self.sentiment_units / (self.scored * SCALE) if self.scored else 0.5
        raise ValueError(f"unknown metric {name!r}")


def aggregate(observations: Sequence[Observation], start: datetime, end: datetime, cut: float) -> Aggregate:
    """Totals over the half-open window ``(start, end]``; negative means sentiment < cut."""
    count = negative = scored = lone = lone_negative = total = 0
    stories: set[int] = set()
    negative_stories: set[int] = set()
    for obs in observations:
        if start < obs.at <= end:
            count += obs.count
            negative_item = obs.sentiment is not None and obs.sentiment < cut
            if obs.sentiment is not None:
                scored += obs.count
                total += units(obs.sentiment) * obs.count
                negative += obs.count if negative_item else 0
            if obs.story is None:  # its own story (a complaint count: that many voices)
                lone += obs.count
                lone_negative += obs.count if negative_item else 0
            else:
                stories.add(obs.story)
                if negative_item:
                    negative_stories.add(obs.story)
    return Aggregate(count, negative, scored, total, lone + len(stories), lone_negative + len(negative_stories))


def units(sentiment: float) -> int:
    return round(sentiment * SCALE)


def hour_of(at: float) -> float:
    """The hour ``(H - 1 h, H]`` a time (epoch seconds) falls in, as ``H``."""
    return -(-at // HOUR) * HOUR


class Hourly:
    """A condition's totals as sums of whole hours (ending at each key, epoch seconds) and of
    the hits in ``(start, hour_of(start)]`` and ``(end, hour_of(end)]`` of every window asked
    for (``edges``, keyed by each span's ends in epoch seconds), kept at ingest or summed by the
    database (``monitor.detect.evaluator`` reads them so). Only for ``SUMMABLE`` metrics."""

    def __init__(
        self, edges: Mapping[tuple[float, float], Aggregate], hours: Mapping[float, Aggregate], cut: float
    ) -> None:
        self.edges = edges
        self.hours = hours
        self.cut = cut

    def aggregate(self, start: datetime, end: datetime, cut: float) -> Aggregate:
        """``(start, end]`` as the hours ending in ``(hour_of(start), hour_of(end)]``, plus the
        hits in ``(start, hour_of(start)]``, minus those in ``(end, hour_of(end)]``: the hour a
        window ends in is read as its sum (kept at ingest, the current hour too) less what is
        dated after the window, not as its hits."""
        if cut != self.cut:
            raise ValueError(f"hours summed with negative below {self.cut}, asked for {cut}")
        low, high = hour_of(start.timestamp()), hour_of(end.timestamp())
        total = self._edge(start.timestamp(), low)
        for hour, part in self.hours.items():
            if low < hour <= high:
                total = total.plus(part)
        return total.minus(self._edge(end.timestamp(), high))

    def _edge(self, start: float, end: float) -> Aggregate:
        if start >= end:
            return Aggregate()
        found = self.edges.get((start, end))
        if found is None:
            raise KeyError(f"the edge ({start}, {end}] was not summed")
        return found


class Counted:
    """A condition's totals over each window asked for, counted by the database from the stored
    hits (``monitor.detect.hits.HitBook.totals_between``): distinct stories without reading
    the hits. Any metric but ``mean_sentiment`` (``sentiment_units`` is not counted)."""

    def __init__(self, count: Callable[[datetime, datetime], Aggregate], cut: float) -> None:
        self.count = count
        self.cut = cut

    def aggregate(self, start: datetime, end: datetime, cut: float) -> Aggregate:
        if cut != self.cut:
            raise ValueError(f"counted with negative below {self.cut}, asked for {cut}")
        return self.count(start, end)


def window_metric(
    observations: Sequence[Observation], metric: str, end: datetime, window: timedelta, cut: float
) -> float:
    return aggregate(observations, end - window, end, cut).metric(metric)


def is_rate(metric: str) -> bool:
    """Count metrics scale with window length; shares and means do not."""
    return metric in ("count", "negative_count", "stories", "negative_stories")
