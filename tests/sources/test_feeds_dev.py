"""Every file of the shared feeds-dev corpus, served with its simulated headers, is handled
by ``crisismon fetch``: one line or more per file, exit 0, never a traceback."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from feedserver import MisbehavingServer, Route

from monitor.cli import fetch as fetch_cli

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "data" / "feeds-dev"
FILES = sorted(p for p in CORPUS.rglob("*.xml")) if CORPUS.is_dir() else []
HEADER_LINE = re.compile(r"^\s*Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.MULTILINE)

pytestmark = pytest.mark.skipif(not FILES, reason=f"{CORPUS} is absent")


def simulated_headers(data: bytes) -> dict[str, str]:
    """The ``Header:`` comment lines of a feedparser test file (which may be UTF-16/32)."""
    text = data.decode("latin-1")
    for encoding in ("utf-32", "utf-16", "utf-16-le", "utf-16-be"):
        if b"\x00" in data[:8]:
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    return {name: value for name, value in HEADER_LINE.findall(text)}


def serve_corpus(server: MisbehavingServer) -> list[str]:
    urls = []
    for path in FILES:
        data = path.read_bytes()
        route = "/" + path.relative_to(CORPUS).as_posix()
        urls.append(server.add(route, Route(body=data, headers=simulated_headers(data))))
    return urls


def test_simulated_headers_are_found() -> None:
    sample = CORPUS / "encoding" / "http_text_xml_bogus_param.xml"
    if sample.exists():
        assert simulated_headers(sample.read_bytes()) == {"Content-type": "text/xml; charset:iso-8859-1"}
    assert sum(1 for p in FILES if simulated_headers(p.read_bytes())) >= 20


def test_every_corpus_file_is_handled(server: MisbehavingServer) -> None:
    urls = serve_corpus(server)
    out = io.StringIO()
    code = fetch_cli.main(["--timeout", "5", *urls], out)
    assert code == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {line["source"] for line in lines} == set(urls)
    for line in lines:
        assert set(line) & {"id", "error", "note", "not_modified"}, line
        assert "Traceback" not in line.get("error", "")
        assert not line.get("error", "").startswith(tuple(f"{u}:" for u in urls)), line  # no fetch failed


def test_corpus_through_the_command_line(server: MisbehavingServer) -> None:
    urls = serve_corpus(server)
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli.fetch", "--timeout", "5", *urls],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert {json.loads(line)["source"] for line in proc.stdout.splitlines()} == set(urls)
