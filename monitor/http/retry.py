"""Retry arithmetic shared by the sources and the outbox: one backoff, one Retry-After parser."""

from __future__ import annotations

import math
from datetime import datetime
from email.utils import parsedate_to_datetime

MAX_EXPONENT = 64  # beyond this the cap has long been reached; keeps the power finite


def exponential(base: float, exponent: int, cap: float, factor: float = 2.0) -> float:
    """``base * factor**exponent`` seconds, at most ``cap`` (never below ``base`` when ``cap`` is)."""
    raw = base * factor ** min(max(exponent, 0), MAX_EXPONENT)
    return min(raw, max(cap, base))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header; None when absent or unreadable.

    A number of seconds (``120``, ``1.5``) is read as is; an HTTP-date (``Wed, 21 Oct 2026
    07:28:00 GMT``) only when ``now`` is given (the layers that do not read the clock pass
    none, and their own backoff applies). Negative or absurd values give None or 0.
    """
    if not value:
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    try:
        seconds = float(text)
    except ValueError:
        if now is None:
            return None
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, (when - now).total_seconds())
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds
