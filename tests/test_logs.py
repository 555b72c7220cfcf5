"""--log-format json: one object per line with time, level, logger, message and named fields."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from monitor.runtime.logs import JsonFormatter

from .conftest import ROOT


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("monitor.runtime.ingest", logging.WARNING, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_a_json_line_has_the_fields_and_what_the_message_names() -> None:
    line = JsonFormatter().format(record("source %s: %d new item(s)", "微博", 3))
    data = json.loads(line)
    assert data["level"] == "warning" and data["logger"] == "monitor.runtime.ingest"
    assert data["message"] == "source 微博: 3 new item(s)" and data["source"] == "微博"
    assert data["time"].endswith("+00:00")
    assert json.loads(JsonFormatter().format(record("incident %d opened: %s [%s]", 7, "t", "high")))["incident"] == 7
    assert json.loads(JsonFormatter().format(record("x %s", 1, rule="r1")))["rule"] == "r1"  # extra={...}


def test_the_daemon_logs_json_lines(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "database: x.db\nscoring: {workers: 0}\nsources:\n"
        + "".join(
            f"  - {{name: {n}, type: rss, url: 'http://127.0.0.1:9/{n}'}}\n" for n in ("news", "weibo", "complaints")
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "daemon.py"), "--log-format", "json", "run", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line.get("source") == "news" and line["level"] == "warning" for line in lines), lines
