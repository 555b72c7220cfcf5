"""Where the shipped rules and playbooks live, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

import monitor

_PACKAGE = Path(monitor.__file__).resolve().parent  # the package's folder, wherever this module sits


def default_dir(name: str) -> Path:
    """``rules`` or ``playbooks``: the current folder's when it has one (what an admin edits),
    else the copy bundled in the wheel, else the checkout's."""
    here = Path.cwd() / name
    if here.is_dir():
        return here
    bundled = _PACKAGE / "bundled" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent / name
