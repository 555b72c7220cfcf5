"""Fewer malloc arenas for the daemon's threads, so that its memory stays flat.

glibc gives each thread that allocates at the same time as another an arena of its own (up
to 8 per core). The daemon's scheduler threads, intake server and database drivers
allocate large buffers from many threads, and memory freed in one arena is not reused by
another: the same run of ``bench/volume.py`` (PostgreSQL, 10,000-item surge, empty store)
peaked at 175–241 MB RSS from one run to the next with glibc's default, and at 169–170 MB
in four runs out of four with two arenas. Setting ``MALLOC_ARENA_MAX`` in the environment
wins over this.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Mapping

log = logging.getLogger(__name__)

ARENAS = 2
M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas(arenas: int = ARENAS, env: Mapping[str, str] | None = None) -> bool:
    """Cap glibc's malloc arenas for threads started from now on; False where this is not
    glibc or ``MALLOC_ARENA_MAX`` is set already (glibc read it at start)."""
    if "MALLOC_ARENA_MAX" in (os.environ if env is None else env):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_ARENA_MAX, arenas))
    if done:
        log.debug("malloc arenas capped at %d", arenas)
    return done
