"""No orphans (issue 13, point 6): kill -9 the daemon, and its scoring worker (and
multiprocessing's resource tracker) are gone within a few seconds."""

from __future__ import annotations

import contextlib
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

from ..conftest import ROOT
from .test_slow_peers import _free_port


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is missing


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_kill_9_leaves_no_scoring_worker_alive(tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / "rules").mkdir()
    config = {
        "database": str(tmp_path / "d.db"),
        "rules_dir": str(tmp_path / "rules"),
        "scoring": {"workers": 1},
        "http": {"listen": f"127.0.0.1:{port}"},
    }
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")
    env = {**os.environ, "CRISISMON_API_TOKEN": "t"}
    env.pop("CRISISMON_DB", None)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "daemon.py"), "run", "--config", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the API is up
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        record = {"id": "c1", "time": "2026-11-20T08:00:00+08:00", "text": "电暖器冒烟"}
        threading.Thread(  # scoring it starts the worker; the answer is not awaited
            target=lambda: _quietly(f"http://127.0.0.1:{port}/v1/complaints", record), daemon=True
        ).start()
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:  # the worker and the resource tracker
            workers = children(proc.pid)
            time.sleep(0.1)
        assert workers, "no scoring worker started"
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed = time.monotonic()
        while time.monotonic() - killed < 5 and any(alive(pid) for pid in workers):
            time.sleep(0.1)
        left = [pid for pid in workers if alive(pid)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"still alive 5 s after kill -9: {left}"


def _quietly(url: str, record: object) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(url, json=record, headers={"Authorization": "Bearer t"}, timeout=30)
