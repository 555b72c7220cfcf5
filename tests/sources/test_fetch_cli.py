from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from feedserver import MisbehavingServer, Route

from monitor.cli import fetch as fetch_cli

ROOT = Path(__file__).resolve().parents[2]
FEED = (
    '<?xml version="1.0" encoding="gb2312"?><rss version="2.0"><channel><title>t</title>'
    "<item><title>某品牌 召回</title><link>https://n.example/1</link><guid>g1</guid>"
    "<pubDate>Mon, 06 May 2024 16:30:00 +0800</pubDate>"
    "<description>&lt;p&gt;电池 起火&lt;/p&gt;</description>"
    "</item></channel></rss>"
).encode("gb2312")


def run_cli(*argv: str) -> tuple[int, list[dict[str, Any]]]:
    parser = argparse.ArgumentParser(prog="crisismon")
    fetch_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["fetch", *argv])
    out = io.StringIO()
    code = fetch_cli.run(args, out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_items_and_errors_one_line_each(server: MisbehavingServer) -> None:
    good = server.add("/rss", Route(body=FEED, headers={"Content-Type": "text/xml"}))
    bad = server.add("/down", Route(status=502))
    code, lines = run_cli(good, bad, "--timeout", "1")
    assert code == 0
    assert lines == [
        {
            "source": good,
            "id": "g1",
            "title": "某品牌 召回",
            "text": "某品牌 召回 电池 起火",
            "link": "https://n.example/1",
            "published": "2024-05-06T08:30:00+00:00",
        },
        {"source": bad, "error": f"{bad}: HTTP 502 Bad Gateway", "items": 0},
    ]


def test_partial_feed_reports_items_and_the_problem(server: MisbehavingServer) -> None:
    url = server.add("/half", Route(body=FEED.replace(b"</channel></rss>", b"<item>")))
    _, lines = run_cli(url)
    assert lines[0]["id"] == "g1"
    assert lines[1]["error"].startswith("ill-formed feed") and lines[1]["items"] == 1


def test_empty_feed_says_so(server: MisbehavingServer) -> None:
    url = server.add("/empty", Route(body=b'<rss version="2.0"><channel></channel></rss>'))
    assert run_cli(url)[1] == [{"source": url, "items": 0, "note": "the feed has no entries"}]


def test_max_bytes_and_bad_urls(server: MisbehavingServer) -> None:
    url = server.add("/rss", Route(body=FEED))
    code, lines = run_cli(url, "ftp://127.0.0.1/x", "--max-bytes", "100")
    assert code == 1  # every URL failed
    assert "too large" in lines[0]["error"]
    assert "unsupported URL scheme" in lines[1]["error"]


@pytest.mark.parametrize("argv", [[], ["--timeout", "0", "http://127.0.0.1/"], ["--max-bytes", "x", "u"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        fetch_cli.main(argv)
    assert info.value.code == 2


def test_module_entry_point_never_tracebacks(server: MisbehavingServer) -> None:
    urls = [
        server.add("/ok", Route(body=FEED)),
        server.add("/loop", Route(status=302, headers={"Location": "/loop"})),
        server.add("/junk", Route(body=b"\x00\xff\xfe garbage")),
        "http://[::1",
    ]
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}  # a terminal that cannot print Chinese
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli.fetch", "--timeout", "2", *urls],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[0]["title"] == "某品牌 召回"
    assert {line["source"] for line in lines[1:]} == set(urls[1:])
    assert all("error" in line for line in lines[1:])


def test_exit_1_only_when_every_url_failed(server: MisbehavingServer) -> None:
    good = server.add("/rss", Route(body=FEED))
    bad = server.add("/down", Route(status=503))
    assert run_cli(bad, "--timeout", "1")[0] == 1
    assert run_cli(bad, good, "--timeout", "1")[0] == 0
    empty = server.add("/empty", Route(body=b'<rss version="2.0"><channel></channel></rss>'))
    assert run_cli(empty)[0] == 0  # read, and empty: not a failure
