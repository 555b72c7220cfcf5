from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx
import pytest

from monitor.sources.complaints import ComplaintsApiSource, parse_record

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class CrmServer:
    """A CRM endpoint answering from a script: (status, body) per request, paged by `next`."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers)))
                status, body = server.answers.pop(0) if server.answers else (200, b"[]")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/complaints"
        Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, status: int, body: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.answers.append((status, raw))


@pytest.fixture
def crm() -> Iterator[CrmServer]:
    server = CrmServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def record(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"C-{i}",
        "time": "2026-11-20T08:15:00+08:00",
        "category": "product_quality",
        "text": "暖气片漏水",
        "product": "暖居 X3 电暖器",
        "region": "杭州",
        **extra,
    }


def test_pages_are_followed_and_records_become_complaint_items(crm: CrmServer) -> None:
    crm.answer(200, {"complaints": [record(1)], "next": crm.url + "?page=2"})
    crm.answer(200, {"complaints": [record(2)], "next": None})
    with httpx.Client() as client:
        source = ComplaintsApiSource("crm", crm.url, client, token="s3cret")
        result = source.fetch(NOW)
    assert [i.id for i in result.items] == ["C-1", "C-2"]
    item = result.items[0]
    assert item.kind == "complaint" and item.category == "product_quality"
    assert item.published_at == datetime(2026, 11, 20, 0, 15, tzinfo=UTC)
    assert dict(item.attrs) == {"product": "暖居 X3 电暖器", "region": "杭州"}
    assert crm.requests[0][1]["Authorization"] == "Bearer s3cret"
    assert result.errors == []


def test_the_next_poll_asks_only_for_records_since_the_newest_seen(crm: CrmServer) -> None:
    crm.answer(200, [record(1)])
    crm.answer(200, [])
    with httpx.Client() as client:
        source = ComplaintsApiSource("crm", crm.url, client)
        source.fetch(NOW)
        source.fetch(NOW)
    assert "since=2026-11-20T00%3A15%3A00%2B00%3A00" in crm.requests[1][0]


def test_bad_records_are_reported_and_good_ones_kept(crm: CrmServer) -> None:
    crm.answer(200, [record(1), {"id": "C-2", "text": "缺时间"}, record(3, time="昨天"), "junk"])
    with httpx.Client() as client:
        result = ComplaintsApiSource("crm", crm.url, client).fetch(NOW)
    assert [i.id for i in result.items] == ["C-1"]
    assert result.errors == [
        "record 1: id 'C-2': missing field(s) time",
        "record 2: id 'C-3': time '昨天' is not ISO 8601 (e.g. 2026-11-20T08:15:00+08:00)",
        "record 3: expected an object, found str",
    ]


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [(500, b"oops", "HTTP 500"), (200, b"{not json", "invalid JSON"), (200, b'{"x": 1}', "found dict")],
)
def test_http_and_format_errors_are_reported_not_raised(crm: CrmServer, status: int, body: bytes, reason: str) -> None:
    crm.answer(status, body)
    with httpx.Client() as client:
        result = ComplaintsApiSource("crm", crm.url, client).fetch(NOW)
    assert result.items == [] and len(result.errors) == 1 and reason in result.errors[0]


def test_unreachable_endpoint_is_an_error_not_an_exception() -> None:
    with httpx.Client(timeout=2) as client:
        result = ComplaintsApiSource("crm", "http://127.0.0.1:9/none", client).fetch(NOW)
    assert result.items == [] and "ConnectError" in result.errors[0]


def test_record_without_category_is_left_to_the_classifier() -> None:
    item, problem = parse_record("crm", record(1, category=None))
    assert problem is None and item is not None and item.category is None
