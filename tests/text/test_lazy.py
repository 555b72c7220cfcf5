"""Loaders run once per process, however many threads ask at the same time (``monitor.text.lazy``)."""

from __future__ import annotations

import threading
import time

from monitor.sentiment.exact import exact_sentiment
from monitor.text.lazy import once


def test_threads_asking_during_the_first_load_wait_for_it_instead_of_loading_again() -> None:
    loads: list[int] = []

    @once
    def dictionary() -> dict[str, int]:
        loads.append(1)
        time.sleep(0.2)  # a 70 MB dictionary takes a while
        return {"起火": 9}

    start = threading.Barrier(8)
    got: list[dict[str, int]] = []

    def ask() -> None:
        start.wait()
        got.append(dictionary())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(loads) == 1
    assert len(got) == 8 and all(g is got[0] for g in got)


def test_the_exact_scorer_is_built_under_its_lock_without_deadlocking() -> None:
    done: list[float] = []
    thread = threading.Thread(target=lambda: done.append(exact_sentiment("质量太差了，一用就坏")), daemon=True)
    thread.start()
    thread.join(120)
    assert done and 0.0 <= done[0] <= 1.0
