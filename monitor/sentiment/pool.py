"""Scoring off the caller's thread: a process pool with bounded work in flight.

Each worker process loads its own ``SentimentScorer`` once (about a second with the table
cache, some 200 MB). A worker exits by itself when the process that started it dies, even
by ``kill -9`` (it checks its parent twice a second), so no scorer is left orphaned.
``submit`` cuts the texts into chunks and returns at once with a
future; it waits only when ``max_pending`` chunks are already queued, which bounds the
memory held by queued work. The daemon's polling thread submits and moves on.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from monitor.sentiment.scorer import SentimentScorer

_worker: SentimentScorer | None = None
PARENT_CHECK = 0.5  # seconds between a worker's checks that its parent is alive


def _watch_parent(parent: int) -> None:
    """Exit as soon as the parent is gone (the worker has been handed to init)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK)
    os._exit(0)


def _init(model_path: str | None, use_emoticons: bool, parent: int | None = None) -> None:
    global _worker
    if parent is not None:  # first: the scorer takes a while to load
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    _worker = SentimentScorer(model_path, use_emoticons)


def _score_chunk(texts: list[str]) -> list[float | None]:
    assert _worker is not None, "worker not initialised"
    return _worker.score(texts)


class ScoringPool:
    """``score(texts)`` like ``SentimentScorer``, computed in ``workers`` processes."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        workers: int = 1,
        use_emoticons: bool = True,
        chunk_size: int = 256,
        max_pending: int = 64,
    ) -> None:
        if workers < 1 or chunk_size < 1 or max_pending < 1:
            raise ValueError("workers, chunk_size and max_pending must be at least 1")
        path = str(model_path) if model_path is not None else None
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(path, use_emoticons, os.getpid()),
        )
        self._chunk_size = chunk_size
        self._slots = threading.BoundedSemaphore(max_pending)

    def submit(self, texts: Sequence[str]) -> Future[list[float | None]]:
        """Starts scoring ``texts``; the future gives one score (or None) per text."""
        chunks = [list(texts[i : i + self._chunk_size]) for i in range(0, len(texts), self._chunk_size)]
        result: Future[list[float | None]] = Future()
        if not chunks:
            result.set_result([])
            return result
        parts: list[Future[list[float | None]]] = []
        for chunk in chunks:
            self._slots.acquire()
            part = self._pool.submit(_score_chunk, chunk)
            part.add_done_callback(lambda _: self._slots.release())
            parts.append(part)
        _gather(parts, result)
        return result

    def score(self, texts: Sequence[str]) -> list[float | None]:
        """Scores ``texts`` and waits for the result (for callers that have their own thread)."""
        return self.submit(texts).result()

    def close(self) -> None:
        """Stops the workers; queued work is cancelled."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ScoringPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _gather(parts: list[Future[list[float | None]]], result: Future[list[float | None]]) -> None:
    """Completes ``result`` with the concatenated parts, or the first error, once all are done."""
    remaining = [len(parts)]
    lock = threading.Lock()

    def done(_: Future[list[float | None]]) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0]:
                return
        if any(p.cancelled() for p in parts):
            result.cancel()
            return
        errors = [e for p in parts if (e := p.exception()) is not None]
        if errors:
            result.set_exception(errors[0])
        else:
            result.set_result([score for p in parts for score in p.result()])

    for part in parts:
        part.add_done_callback(done)
