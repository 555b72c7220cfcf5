"""Where the shipped rules and playbooks live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def default_dir(name: str) -> Path:
    """``rules`` or ``playbooks``: the copy bundled in the wheel, else the checkout's."""
    bundled = _PACKAGE / "bundled" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent / name
