"""Complaint records polled from an HTTP JSON endpoint (a CRM export or intake API).

The endpoint answers ``GET url?since=ISO8601`` with either a list of records or
``{"complaints": [...], "next": "url-of-next-page-or-null"}``. A record::

    {"id": "C-1001", "time": "2026-11-20T08:15:00+08:00", "category": "product_quality",
     "text": "...", "product": "暖居 X3 电暖器", "region": "杭州"}

``id``, ``time`` and ``text`` are required; ``category`` is one of the complaint categories
(or absent: the keyword classifier decides); ``product``, ``region`` and any other string
fields become grouping attributes. A bad record is reported and skipped; the rest are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from monitor.models import FetchResult, Item

MAX_PAGES = 50
ATTR_FIELDS = ("product", "region", "brand", "channel", "store")


class ComplaintsApiSource:
    def __init__(self, name: str, url: str, client: httpx.Client, *, token: str | None = None) -> None:
        self.name = name
        self.url = url
        self.client = client
        self.token = token
        self.cursor: datetime | None = None

    def fetch(self, now: datetime) -> FetchResult:
        items: list[Item] = []
        errors: list[str] = []
        url: str | None = self.url
        params = {"since": self.cursor.isoformat()} if self.cursor else {}
        for _ in range(MAX_PAGES):
            if url is None:
                break
            try:
                body = self._get(url, params)
            except (httpx.HTTPError, ValueError) as exc:
                errors.append(f"{url}: {_reason(exc)}")
                return FetchResult(items=items, errors=errors)
            records, url, problem = _page(body)
            params = {}
            if problem:
                errors.append(f"{self.url}: {problem}")
            for index, record in enumerate(records):
                item, problem = parse_record(self.name, record)
                if problem:
                    errors.append(f"record {index}: {problem}")
                elif item is not None:
                    items.append(item)
        if items:
            self.cursor = max(i.published_at for i in items)
        return FetchResult(items=items, errors=errors)

    def _get(self, url: str, params: Mapping[str, str]) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.client.get(url, params=params, headers=headers)
        response.raise_for_status()
        return response.json()


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, ValueError):
        return f"invalid JSON ({exc})"
    return f"{type(exc).__name__}: {exc}"


def _page(body: Any) -> tuple[list[Any], str | None, str | None]:
    """(records, next page URL, problem with the page)."""
    if isinstance(body, list):
        return body, None, None
    if isinstance(body, dict) and isinstance(body.get("complaints"), list):
        nxt = body.get("next")
        return body["complaints"], nxt if isinstance(nxt, str) and nxt else None, None
    found = type(body).__name__
    return [], None, f"expected a list or an object with a 'complaints' list, found {found}"


def parse_record(source: str, record: Any) -> tuple[Item | None, str | None]:
    """An Item, or the reason the record is unusable."""
    if not isinstance(record, dict):
        return None, f"expected an object, found {type(record).__name__}"
    missing = [f for f in ("id", "time", "text") if record.get(f) in (None, "")]
    if missing:
        return None, f"id {record.get('id')!r}: missing field(s) {', '.join(missing)}"
    try:
        published = _parse_time(record["time"])
    except ValueError:
        return (
            None,
            f"id {record['id']!r}: time {record['time']!r} is not ISO 8601 (e.g. 2026-11-20T08:15:00+08:00)",
        )
    category = record.get("category")
    attrs = {k: str(record[k]) for k in ATTR_FIELDS if isinstance(record.get(k), str | int) and record.get(k) != ""}
    return Item(
        source=source,
        id=str(record["id"]),
        text=str(record["text"]),
        published_at=published,
        kind="complaint",
        category=str(category) if category else None,
        attrs=attrs,
    ), None


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(value)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
