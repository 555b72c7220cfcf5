"""Helpers for the reliability tests: raw sockets, an API on a real store."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from monitor.http.api import Api, ApiServer
from monitor.http.server import Limits
from monitor.incidents.ops import IncidentOps
from monitor.runtime.ingest import Ingestor
from monitor.runtime.metrics import Metrics
from monitor.store import SqlStore, open_store
from monitor.testing import FakeClock, FakeScorer
from monitor.text.classify import KeywordClassifier

TOKEN = "api-token"


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def exchange(url: str, data: bytes, *, timeout: float = 5.0) -> tuple[bytes, float]:
    """Send ``data`` on a new connection and read until the server closes it: (answer, seconds)."""
    started = time.monotonic()
    with socket.create_connection(address(url), timeout=timeout) as sock:
        sock.sendall(data)
        return read_all(sock), time.monotonic() - started


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def make_api(store: SqlStore, clock: FakeClock | None = None, **kwargs: object) -> Api:
    metrics = Metrics()
    return Api(
        store=store,
        ops=IncidentOps(store, {}, {}),
        ingestor=Ingestor(store, FakeScorer(), KeywordClassifier.default(), metrics),
        metrics=metrics,
        clock=clock or FakeClock(),
        token=TOKEN,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqlStore]:
    store = open_store(str(tmp_path / "reliability.db"))
    yield store
    store.close()


@pytest.fixture
def api_server(db: SqlStore) -> Iterator[ApiServer]:
    limits = Limits(header_timeout=0.5, body_timeout=0.5, max_body=10_000, max_connections=8)
    server = ApiServer(make_api(db, max_body=10_000), limits=limits).start()
    yield server
    server.close()
