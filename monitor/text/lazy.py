"""Tables and models loaded on first use, once per process.

``functools.lru_cache`` on a loader lets every thread that asks before the first load ends
run the load itself: at the start of a surge the intake and the feed polls each built
jieba's dictionary (about 70 MB), and the daemon's peak RSS in ``bench/volume.py`` was about
240 MB instead of about 175 MB in about half the runs. ``once`` makes the others wait.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def once(load: Callable[[], T]) -> Callable[[], T]:
    """``load()``'s result, computed by the first caller; callers meanwhile wait for it."""
    lock = threading.Lock()
    kept: list[T] = []

    @functools.wraps(load)
    def get() -> T:
        if not kept:
            with lock:
                if not kept:
                    kept.append(load())
        return kept[0]

    return get
