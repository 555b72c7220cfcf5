"""A local HTTP server that replays the scenario as a CRM API, a news RSS feed and an
RSSHub-style Weibo feed, showing only what has "happened" by the simulated clock."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

from monitor.clock import Clock
from monitor.demo.scenario import Event
from monitor.http.server import HttpServer, Reply, Request

WEIBO_ROUTE = "/weibo/keyword/暖居"


class ScenarioServer:
    def __init__(self, events: Sequence[Event], clock: Clock) -> None:
        self.events = list(events)
        self.clock = clock
        self._server = HttpServer(self._serve, "127.0.0.1", 0, name="demo-server")

    @property
    def base_url(self) -> str:
        return self._server.url

    def __enter__(self) -> ScenarioServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()

    def visible(self, channel: str) -> list[Event]:
        now = self.clock.now()
        return [e for e in self.events if e.channel == channel and e.at <= now]

    def _serve(self, request: Request) -> Reply:
        if request.method != "GET":
            return Reply(405, b"GET only")
        url = urlsplit(request.path)
        path = unquote(url.path)
        rss_type = "application/rss+xml; charset=utf-8"
        if path == "/api/complaints":
            since = parse_qs(url.query).get("since", [None])[0]
            return Reply(200, complaints_json(self.visible("complaints"), since), "application/json")
        if path == "/news/rss.xml":
            return Reply(200, rss(self.visible("news"), "暖居行业新闻"), rss_type)
        if path == WEIBO_ROUTE:
            return Reply(200, rss(self.visible("social"), "微博关键词：暖居"), rss_type)
        return Reply(404, b"not found")


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
