"""The daemon caps glibc's malloc arenas (``monitor.runtime.memory``), unless told otherwise."""

from __future__ import annotations

import ctypes.util
import platform

import pytest

from monitor.runtime.memory import limit_malloc_arenas

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc" and bool(ctypes.util.find_library("c"))


@pytest.mark.skipif(not GLIBC, reason="malloc arenas are glibc's")
def test_arenas_are_capped_on_glibc_unless_malloc_arena_max_is_set() -> None:
    assert limit_malloc_arenas(2, env={}) is True
    assert limit_malloc_arenas(2, env={"MALLOC_ARENA_MAX": "8"}) is False  # the operator's setting wins
