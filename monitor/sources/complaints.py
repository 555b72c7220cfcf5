"""Complaint records, or per-category counts, polled from a CRM or intake endpoint over HTTP.

The endpoint answers ``GET url?since=ISO8601`` with either a list of records or
``{"complaints": [...], "next": "url-of-next-page-or-null"}``. A record::

    {"id": "C-1001", "time": "2026-11-20T08:15:00+08:00", "category": "product_quality",
     "text": "...", "product": "暖居 X3 电暖器", "region": "杭州"}

``id``, ``time`` and ``text`` are required; ``category`` is one of the complaint categories
(or absent: the keyword classifier decides); ``product``, ``region`` and any other string
fields become grouping attributes. A bad record is reported and skipped; the rest are kept.

Other CRMs are described by a :class:`ComplaintsMapping` (dotted paths, like the generic
JSON feed's mapping). In ``counts`` mode each record is an aggregate,
``{"category": "...", "count": 17, "start": ISO, "end": ISO}``, and becomes an item of
kind ``count`` stamped at ``end``.

The cursor (the newest record time, or the newest count's ``end``) advances only when the
engine says the poll's items are stored (:meth:`ComplaintsApiSource.stored`), and is kept
in the store through :meth:`~ComplaintsApiSource.state` / :meth:`~ComplaintsApiSource.restore`,
so a restart neither refetches everything nor skips what was never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import httpx

from monitor.models import FetchResult, Item, stable_id
from monitor.sources.http import parse_retry_after
from monitor.sources.jsonfeeds import get_path, parse_time
from monitor.sources.mappings import ComplaintsMapping

MAX_PAGES = 50
ATTR_FIELDS = ("product", "region", "brand", "channel", "store")
ISO_EXAMPLE = "e.g. 2026-11-20T08:15:00+08:00"

Mode = Literal["records", "counts"]


# The documented default format: ISO 8601 times, fields named as in the module docstring.
DEFAULT_MAPPING = ComplaintsMapping(time_format="iso8601")


class ComplaintsApiSource:
    """Polls a complaints endpoint; implements ``Source`` (and the stateful-source hooks)."""

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.Client,
        *,
        token: str | None = None,
        mode: Mode = "records",
        mapping: ComplaintsMapping | None = None,
        since_param: str = "since",
    ) -> None:
        if mode not in ("records", "counts"):
            raise ValueError(f"mode: found {mode!r}, expected records or counts")
        self.name = name
        self.url = url
        self.client = client
        self.token = token
        self.mode: Mode = mode
        self.mapping = mapping or DEFAULT_MAPPING
        self.since_param = since_param
        self.cursor: datetime | None = None
        self.retry_after: float | None = None  # seconds a 429/503 asked for, after the last fetch
        self._pending: datetime | None = None

    # -- Source --------------------------------------------------------------------------

    def fetch(self, now: datetime) -> FetchResult:
        self.retry_after = None
        self._pending = None
        items: list[Item] = []
        errors: list[str] = []
        url: str | None = self.url
        params = {self.since_param: self.cursor.isoformat()} if self.cursor else {}
        for _ in range(MAX_PAGES):
            if url is None:
                break
            try:
                body = self._get(url, params)
            except (httpx.HTTPError, ValueError) as exc:
                self.retry_after = _retry_after(exc)
                errors.append(f"{url}: {_reason(exc)}")
                return FetchResult(items=items, errors=errors)  # the cursor stays: refetch, dedup by id
            records, next_url, problem = self._page(body)
            url = urljoin(url, next_url) if next_url else None
            params = {}
            if problem:
                errors.append(f"{self.url}: {problem}")
            for index, record in enumerate(records):
                item, problem = self.parse(record)
                if problem:
                    errors.append(f"record {index}: {problem}")
                elif item is not None:
                    items.append(item)
        else:
            if url is not None:
                errors.append(f"{self.url}: stopped after {MAX_PAGES} pages; the rest comes at the next poll")
        if items:
            self._pending = max(i.published_at for i in items)
        return FetchResult(items=items, errors=errors)

    def parse(self, record: Any) -> tuple[Item | None, str | None]:
        if self.mode == "counts":
            return parse_count(self.name, record, self.mapping)
        return parse_mapped(self.name, record, self.mapping)

    # -- stateful-source hooks (called by the engine) ------------------------------------

    def stored(self, now: datetime) -> None:
        """The last fetch's items are in the store: move the cursor past them."""
        if self._pending is not None and (self.cursor is None or self._pending > self.cursor):
            self.cursor = self._pending
        self._pending = None

    def state(self) -> dict[str, Any]:
        return {"cursor": self.cursor.isoformat()} if self.cursor else {}

    def restore(self, state: Mapping[str, Any]) -> None:
        value = state.get("cursor")
        if isinstance(value, str):
            try:
                self.cursor = _aware(datetime.fromisoformat(value))
            except ValueError:
                self.cursor = None

    # -- HTTP ----------------------------------------------------------------------------

    def _get(self, url: str, params: Mapping[str, str]) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        # params=None, not {}: httpx replaces the URL's own query (a next page's ?page=2) with params
        response = self.client.get(url, params=params or None, headers=headers)
        response.raise_for_status()
        return response.json()

    def _page(self, body: Any) -> tuple[list[Any], str | None, str | None]:
        """(records, next page URL, problem with the page)."""
        m = self.mapping
        if m.items_path:
            records = get_path(body, m.items_path)
            if not isinstance(records, list):
                return [], None, f"items_path: no list at {m.items_path!r} in the response"
        elif isinstance(body, list):
            return body, None, None
        elif isinstance(body, dict) and isinstance(body.get("complaints"), list):
            records = body["complaints"]
        elif isinstance(body, dict) and isinstance(body.get("counts"), list):
            records = body["counts"]
        else:
            found = type(body).__name__
            return [], None, f"expected a list or an object with a 'complaints' list, found {found}"
        nxt = get_path(body, m.next) if m.next and isinstance(body, dict) else None
        return records, nxt if isinstance(nxt, str) and nxt else None, None

    def __repr__(self) -> str:
        return f"ComplaintsApiSource({self.name!r}, {self.url!r}, mode={self.mode!r})"


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, ValueError):
        return f"invalid JSON ({exc})"
    return f"{type(exc).__name__}: {exc}"


def _retry_after(exc: Exception) -> float | None:
    if isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in (429, 503):
        return parse_retry_after(exc.response.headers.get("retry-after"))
    return None


# -- records ---------------------------------------------------------------------------------


def parse_record(source: str, record: Any) -> tuple[Item | None, str | None]:
    """An Item from a record in the default format, or the reason the record is unusable."""
    return parse_mapped(source, record, DEFAULT_MAPPING)


def parse_mapped(source: str, record: Any, m: ComplaintsMapping) -> tuple[Item | None, str | None]:
    """An Item from a record read through ``m``, or the reason the record is unusable."""
    if not isinstance(record, dict):
        return None, f"expected an object, found {type(record).__name__}"
    raw_id = get_path(record, m.id) if m.id else None
    paths = {"id": m.id, "time": m.time, "text": m.text}
    missing = [name for name, path in paths.items() if path and get_path(record, path) in (None, "")]
    if missing:
        return None, f"id {raw_id!r}: missing field(s) {', '.join(missing)}"
    stamp = get_path(record, m.time)
    published, problem = _time(stamp, m, "time")
    if published is None:
        return None, f"id {raw_id!r}: {problem}"
    text = str(get_path(record, m.text))
    category = get_path(record, m.category) if m.category else None
    return Item(
        source=source,
        id=str(raw_id) if raw_id not in (None, "") else stable_id(published.isoformat(), text),
        text=text,
        published_at=published,
        kind="complaint",
        category=str(category) if category else None,
        attrs=_attrs(record, m),
    ), None


def _attrs(record: Any, m: ComplaintsMapping) -> dict[str, str]:
    attrs = {}
    for name, path in m.attrs.items():
        value = get_path(record, path)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            attrs[name] = str(value)
    return attrs


def _time(value: Any, m: ComplaintsMapping, what: str) -> tuple[datetime | None, str | None]:
    if m.time_format == "iso8601":
        parsed = _iso(value)
        expected = f"ISO 8601 ({ISO_EXAMPLE})"
    else:
        parsed = parse_time(value, m.time_format, ZoneInfo(m.timezone)) if value not in (None, "") else None
        expected = f"readable as {m.time_format}"
    if parsed is None:
        return None, f"{what} {value!r} is not {expected}"
    return parsed, None


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _aware(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


# -- counts ----------------------------------------------------------------------------------


def parse_count(source: str, record: Any, m: ComplaintsMapping) -> tuple[Item | None, str | None]:
    """A ``count`` Item from ``{"category", "count", "start", "end"}``, or the reason it is unusable.

    The id is stable from (category, start, end, attributes): polling the same interval
    again never counts it twice (a revised count for an interval already seen is ignored).
    """
    if not isinstance(record, dict):
        return None, f"expected an object, found {type(record).__name__}"
    category = get_path(record, m.category) if m.category else None
    paths = {"category": m.category, "count": m.count, "start": m.start, "end": m.end}
    missing = [name for name, path in paths.items() if not path or get_path(record, path) in (None, "")]
    label = f"count {category!r}"
    if missing:
        return None, f"{label}: missing field(s) {', '.join(missing)}"
    count = _whole(get_path(record, m.count))
    if count is None:
        return None, f"{label}: count {get_path(record, m.count)!r} is not a whole number >= 0"
    start, problem = _time(get_path(record, m.start), m, "start")
    end, problem_end = _time(get_path(record, m.end), m, "end")
    if start is None or end is None:
        return None, f"{label}: {problem or problem_end}"
    if end <= start:
        return None, f"{label}: end {end.isoformat()} is not after start {start.isoformat()}"
    attrs = _attrs(record, m)
    key = [f"{k}={v}" for k, v in sorted(attrs.items())]
    return Item(
        source=source,
        id=stable_id(str(category), start.isoformat(), end.isoformat(), *key),
        text="",
        published_at=end,
        kind="count",
        category=str(category),
        count=count,
        attrs=attrs,
    ), None


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
