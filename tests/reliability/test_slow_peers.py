"""Every outbound request has a total deadline, whatever the peer does (issue 13, point 2).

Local servers that trickle their headers, accept and never answer, or send a header that
never ends. The sources built from the config (guarded clients from monitor.sources.outbound)
give up at the deadline (1 s here: ``timeout: 500ms`` gives twice that), the failure counts
toward "down", and the daemon starts, serves and stops without waiting on them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from monitor.app import build_engine, build_sources
from monitor.config.loading import Definitions
from monitor.config.rules import RuleSet
from monitor.config.settings import AppConfig
from monitor.runtime.health import source_status
from monitor.sources.complaints import ComplaintsApiSource
from monitor.sources.feeds import FeedSource
from monitor.sources.http import FetchPolicy, HttpFetcher
from monitor.sources.outbound import AddressPolicy, Outbound
from monitor.store import SqlStore
from monitor.testing import FakeClock, FakeScorer

from ..conftest import ROOT
from .peers import BadPeer, endless_header, never_answer, trickle_body, trickle_headers

SLOW = [trickle_headers, never_answer, endless_header, trickle_body]


def config_for(url: str, kind: str = "rss") -> AppConfig:
    source = {"type": kind, "name": "slow", "url": url, "timeout": "1s", "interval": "1m"}
    return AppConfig.model_validate({"sources": [source]})


def one_second_source(
    kind: str, url: str, outbound: Outbound, seconds: float = 1.0
) -> FeedSource | ComplaintsApiSource:
    """What build_sources makes, with a 1 s deadline and a 5 s read timeout (that never trips)."""
    client = outbound.client(AddressPolicy("127.0.0.1"), total=seconds, timeout=httpx.Timeout(5.0))
    if kind == "complaints_api":
        return ComplaintsApiSource("slow", url, client)
    fetcher = HttpFetcher(client, FetchPolicy(read_timeout=5.0, deadline=seconds))
    return FeedSource("slow", url, fetcher, kind="rss")


@pytest.mark.parametrize("behaviour", SLOW, ids=lambda b: b.__name__)
@pytest.mark.parametrize("kind", ["rss", "complaints_api"])
def test_a_poll_ends_at_the_deadline_whatever_the_server_does(behaviour: object, kind: str) -> None:
    outbound = Outbound()
    with BadPeer(behaviour) as peer:  # type: ignore[arg-type]
        source = one_second_source(kind, peer.url("/feed"), outbound)
        started = time.monotonic()
        result = source.fetch(FakeClock().now())
        elapsed = time.monotonic() - started
    outbound.close()
    assert result.errors and not result.items, result
    assert elapsed < 1.5, (elapsed, result.errors)  # the 1 s deadline, plus slack for a loaded machine


def test_the_fetch_error_names_the_deadline() -> None:
    """Through the config: ``timeout: 1s`` gives the whole fetch 2 s."""
    with BadPeer(trickle_headers) as peer:
        source = build_sources(config_for(peer.url("/feed")).sources)["slow"]
        result = source.fetch(FakeClock().now())
    assert "no complete answer within the deadline of 2s" in result.errors[0]


def test_a_poll_that_hits_the_deadline_counts_toward_down(store: SqlStore) -> None:
    clock = FakeClock()
    with BadPeer(trickle_headers) as peer:
        config = config_for(peer.url("/feed"))
        sources = {"slow": one_second_source("rss", peer.url("/feed"), Outbound(), seconds=0.3)}
        engine = build_engine(
            config, Definitions(RuleSet([]), {}), store, clock, scorer=FakeScorer(), sources=sources, notifiers={}
        ).engine
        for _ in range(3):
            engine.poll("slow", force=True)
            clock.advance(minutes=1)
    health = store.source_health_of("slow")
    status = source_status("slow", health, store.source_data("slow"), None, clock.now())
    assert status.state == "down" and "deadline of 0.3s" in status.reason


def test_abort_ends_a_request_in_flight_at_once() -> None:
    outbound = Outbound()
    with BadPeer(trickle_headers) as peer:
        client = outbound.client(_open_policy(), total=60)

        outcome: list[BaseException] = []

        def get() -> None:
            try:
                client.get(peer.url("/feed"))
            except httpx.HTTPError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=get)
        thread.start()
        time.sleep(0.3)
        started = time.monotonic()
        outbound.abort()
        thread.join(5)
    assert outcome and time.monotonic() - started < 0.5


def _open_policy() -> AddressPolicy:
    return AddressPolicy.open()


@pytest.mark.slow
def test_the_daemon_serves_at_once_and_stops_within_seconds_while_a_source_trickles(tmp_path: Path) -> None:
    """Start-up does not wait on the trickling source; SIGTERM ends everything within 10 s."""
    with BadPeer(trickle_headers) as peer:
        port = _free_port()
        (tmp_path / "rules").mkdir()
        config = {
            "database": str(tmp_path / "d.db"),
            "rules_dir": str(tmp_path / "rules"),
            "sources": [{"type": "rss", "name": "slow", "url": peer.url("/feed"), "timeout": "30s"}],
            "scoring": {"workers": 0},
            "notify": {"console": True},
            "http": {"listen": f"127.0.0.1:{port}"},
        }
        path = tmp_path / "crisismon.yaml"
        path.write_text(json.dumps(config), encoding="utf-8")
        env = {**os.environ, "CRISISMON_API_TOKEN": "t", "PYTHONUNBUFFERED": "1"}
        env.pop("CRISISMON_DB", None)
        log = tmp_path / "daemon.log"
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "daemon.py"), "run", "--config", str(path)],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            ready = _wait_ready(f"http://127.0.0.1:{port}/readyz", 30, proc)
            assert ready, log.read_text(errors="replace")
            deadline = time.monotonic() + 10
            while peer.connections == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert peer.connections >= 1  # the first poll is stuck on the peer
            intake = httpx.post(
                f"http://127.0.0.1:{port}/v1/complaints",
                json={"id": "c1", "time": "2026-11-20T08:00:00+08:00", "text": "电暖器冒烟"},
                headers={"Authorization": "Bearer t"},
                timeout=5,
            )
            assert intake.status_code == 200, intake.text
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=12)
            stopped_in = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text(errors="replace")
    assert code == 0 and stopped_in < 10, (stopped_in, text[-2000:])
    print(f"stopped {stopped_in:.2f}s after SIGTERM")
    assert "Traceback" not in text, text[-3000:]


def _wait_ready(url: str, seconds: float, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
