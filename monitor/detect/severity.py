"""Severity levels: names admins write, and the SEV labels incident tools use."""

from __future__ import annotations

from typing import Literal

SeverityName = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[SeverityName, ...] = ("low", "medium", "high", "critical")
SEV_LABEL = {"critical": "SEV1", "high": "SEV2", "medium": "SEV3", "low": "SEV4"}


def rank(severity: str) -> int:
    """0 for low .. 3 for critical."""
    return SEVERITIES.index(severity)


def at_least(severity: str, floor: str) -> bool:
    return rank(severity) >= rank(floor)


def label(severity: str) -> str:
    return f"{SEV_LABEL[severity]} ({severity})"
