"""A local HTTP server that replays the scenario as a CRM API, a news RSS feed and an
RSSHub-style Weibo feed, showing only what has "happened" by the simulated clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

from monitor.clock import Clock
from monitor.demo.scenario import Event

WEIBO_ROUTE = "/weibo/keyword/暖居"


class ScenarioServer:
    def __init__(self, events: Sequence[Event], clock: Clock) -> None:
        self.events = list(events)
        self.clock = clock
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="demo-server", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ScenarioServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def visible(self, channel: str) -> list[Event]:
        now = self.clock.now()
        return [e for e in self.events if e.channel == channel and e.at <= now]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                path = unquote(url.path)
                if path == "/api/complaints":
                    since = parse_qs(url.query).get("since", [None])[0]
                    self._send(200, "application/json", complaints_json(server.visible("complaints"), since))
                elif path == "/news/rss.xml":
                    self._send(200, "application/rss+xml; charset=utf-8", rss(server.visible("news"), "暖居行业新闻"))
                elif path == WEIBO_ROUTE:
                    self._send(
                        200,
                        "application/rss+xml; charset=utf-8",
                        rss(server.visible("social"), "微博关键词：暖居"),
                    )
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def complaints_json(events: Sequence[Event], since: str | None) -> bytes:
    cutoff = datetime.fromisoformat(since) if since else None
    records = [
        {
            "id": e.id,
            "time": e.at.isoformat(),
            "category": e.category,
            "text": e.text,
            "product": e.product,
            "region": e.region,
        }
        for e in events
        if cutoff is None or e.at >= cutoff
    ]
    return json.dumps({"complaints": records, "next": None}, ensure_ascii=False).encode("utf-8")


def rss(events: Sequence[Event], title: str) -> bytes:
    """An RSS 2.0 document of the newest 200 events, newest first, as real feeds do."""
    items = []
    for e in sorted(events, key=lambda ev: ev.at, reverse=True)[:200]:
        items.append(
            "<item>"
            f"<title>{escape(e.title or e.text[:30])}</title>"
            f"<description>{escape(e.text)}</description>"
            f"<link>https://example.com/demo/{e.id}</link>"
            f'<guid isPermaLink="false">{e.id}</guid>'
            f"<pubDate>{format_datetime(e.at)}</pubDate>"
            "</item>"
        )
    doc = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<rss version="2.0"><channel><title>{escape(title)}</title><link>https://example.com/</link>'
        f"<description>{escape(title)}</description>{''.join(items)}</channel></rss>"
    )
    return doc.encode("utf-8")
