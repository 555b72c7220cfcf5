"""Inline SVG: sparklines and the incident chart, drawn on the server (no JavaScript, no fonts to ship).

Text in the SVG is escaped; colours are presentation attributes (the console's
Content-Security-Policy allows no inline styles). Times are labelled in the console's zone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from html import escape

VALUE = "#1f4e9c"
BASELINE = "#6b6b6b"
THRESHOLD = "#c62828"
SPAN = "#f4a261"


def _finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def sparkline(values: Sequence[float | None], *, width: int = 120, height: int = 24, label: str = "") -> str:
    """A small line of ``values`` (None/NaN leave gaps); ``label`` is its accessible name."""
    finite = _finite(values)
    title = f"<title>{escape(label)}</title>" if label else ""
    if not finite:
        return (
            f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(label)}">{title}<line x1="0" y1="{height - 1}" x2="{width}" y2="{height - 1}" '
            f'stroke="{BASELINE}" stroke-dasharray="2 2"/></svg>'
        )
    low, high = min(0.0, min(finite)), max(finite)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    paths: list[list[str]] = []
    current: list[str] = []
    for index, value in enumerate(values):
        if value is None or not math.isfinite(value):
            if current:
                paths.append(current)
            current = []
            continue
        x = index * step
        y = height - 2 - (value - low) / span * (height - 4)
        current.append(f"{x:.1f},{y:.1f}")
    if current:
        paths.append(current)
    lines = "".join(
        f'<polyline fill="none" stroke="{VALUE}" stroke-width="1.5" points="{" ".join(p)}"/>' for p in paths
    )
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}">{title}{lines}</svg>'
    )


@dataclass(frozen=True)
class Chart:
    title: str
    times: list[datetime]
    values: list[float]
    baseline: list[float] | None = None
    threshold: float | None = None
    spans: list[tuple[datetime, datetime]] = field(default_factory=list)
    metric: str = "count"


def chart(data: Chart, zone: tzinfo, *, width: int = 720, height: int = 240) -> str:
    """The metric, its baseline, the threshold and the firing spans, with time ticks in ``zone``."""
    left, right, top, bottom = 48, 12, 24, 28
    inner_w, inner_h = width - left - right, height - top - bottom
    title = f'<text x="{left}" y="15" font-size="13" fill="#222">{escape(data.title)}</text>'
    if not data.times:
        return _svg(width, height, data.title, title + f'<text x="{width / 2}" y="{height / 2}">no data</text>')
    start, end = data.times[0], data.times[-1]
    seconds = max((end - start).total_seconds(), 1.0)
    finite = _finite([*data.values, *(data.baseline or []), data.threshold])
    high = max(finite) if finite else 1.0
    high = high * 1.1 or 1.0

    def x(moment: datetime) -> float:
        return left + (moment - start).total_seconds() / seconds * inner_w

    def y(value: float) -> float:
        return top + inner_h - value / high * inner_h

    parts = [title]
    for begin, stop in data.spans:
        a, b = max(x(begin), left), min(x(stop), left + inner_w)
        if b > a:
            parts.append(
                f'<rect x="{a:.1f}" y="{top}" width="{b - a:.1f}" height="{inner_h}" fill="{SPAN}" opacity="0.3"/>'
            )
    parts.append(_axes(left, top, inner_w, inner_h, high, start, end, zone))
    if data.baseline is not None:
        parts.append(_step(data.times, data.baseline, x, y, BASELINE, dashed=True))
    parts.append(_step(data.times, data.values, x, y, VALUE))
    if data.threshold is not None and math.isfinite(data.threshold) and data.threshold <= high:
        ty = y(data.threshold)
        parts.append(
            f'<line x1="{left}" y1="{ty:.1f}" x2="{left + inner_w}" y2="{ty:.1f}" stroke="{THRESHOLD}" '
            'stroke-dasharray="4 3"/>'
        )
    parts.append(_legend(width - right, data))
    return _svg(width, height, data.title, "".join(parts))


def _svg(width: int, height: int, label: str, body: str) -> str:
    return (
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" font-family="sans-serif" font-size="11">{body}</svg>'
    )


def _step(
    times: list[datetime], values: Sequence[float], x: object, y: object, colour: str, dashed: bool = False
) -> str:
    assert callable(x) and callable(y)
    points: list[str] = []
    segments: list[list[str]] = []
    for index, value in enumerate(values):
        if value is None or not math.isfinite(value):
            if points:
                segments.append(points)
            points = []
            continue
        x0 = x(times[index])
        x1 = x(times[index + 1]) if index + 1 < len(times) else x0
        points += [f"{x0:.1f},{y(value):.1f}", f"{x1:.1f},{y(value):.1f}"]
    if points:
        segments.append(points)
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    return "".join(
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.6"{dash} points="{" ".join(s)}"/>' for s in segments
    )


def _axes(left: int, top: int, w: int, h: int, high: float, start: datetime, end: datetime, zone: tzinfo) -> str:
    parts = [f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#999"/>']
    for fraction in (0.0, 0.5, 1.0):
        value = high * fraction
        yy = top + h - fraction * h
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#555">{_num(value)}</text>')
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + w}" y2="{yy:.1f}" stroke="#eee"/>')
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        moment = start + (end - start) * fraction
        xx = left + fraction * w
        label = moment.astimezone(zone).strftime("%m-%d %H:%M")
        anchor = "start" if fraction == 0 else "end" if fraction == 1 else "middle"
        parts.append(f'<text x="{xx:.1f}" y="{top + h + 16}" text-anchor="{anchor}" fill="#555">{label}</text>')
    return "".join(parts)


def _legend(right: int, data: Chart) -> str:
    entries = [(VALUE, data.metric)]
    if data.baseline is not None:
        entries.append((BASELINE, "baseline"))
    if data.threshold is not None:
        entries.append((THRESHOLD, "threshold"))
    if data.spans:
        entries.append((SPAN, "firing"))
    parts, x = [], right
    for colour, name in reversed(entries):
        x -= 8 + 7 * len(name)
        parts.append(f'<rect x="{x}" y="7" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 13}" y="16" fill="#333">{escape(name)}</text>')
        x -= 10
    return "".join(parts)


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.2f}"
