"""Durations as admins write them: ``30s``, ``5m``, ``1h``, ``7d``, ``1w``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d{1,30})([smhdw])")
MAX_SECONDS = 36500 * 86400  # 100 years: more is a typo, and timedelta overflows near 2.7 million years


def parse_duration(text: str) -> timedelta:
    """Parse ``1h30m``-style text; raise ValueError saying what is accepted."""
    cleaned = text.strip().replace(" ", "")
    if cleaned == "0":
        return timedelta(0)
    pos, seconds = 0, 0
    for match in _PART.finditer(cleaned):
        if match.start() != pos:
            break
        seconds += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(cleaned) or not cleaned:
        raise ValueError("a duration like 30s, 5m, 1h, 7d or 1h30m")
    if seconds > MAX_SECONDS:
        raise ValueError("a duration of at most 100 years (36500d)")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"a duration with a unit such as {int(value)}s or {int(value)}m")
    return value


DURATION_PATTERN = r"^(0|(\d+[smhdw])+)$"

Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["30s", "5m", "1h", "7d"]}),
]
