"""JSON Feed 1.1 and generic JSON with a field mapping; times in the formats feeds use."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from monitor.models import FetchResult, Item, stable_id
from monitor.sources.charset import _CHARSET_PARAM, _codec, _decodes
from monitor.sources.feedtext import _join_text, _summarize, collapse, html_to_text
from monitor.sources.mappings import JsonMapping

log = logging.getLogger(__name__)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- JSON

JSONFEED_PREFIX = "https://jsonfeed.org/version/"


def _load_json(body: bytes, headers: Mapping[str, str]) -> tuple[Any, str | None]:
    try:
        return json.loads(body), None
    except UnicodeDecodeError:
        pass
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    charset = _codec(m.group(1)) if (m := _CHARSET_PARAM.search(content_type)) else None
    for candidate in (charset, "gb18030"):
        if candidate and _decodes(body, candidate):
            try:
                return json.loads(body.decode(candidate)), None
            except ValueError as exc:
                return None, f"invalid JSON: {exc}"
    return None, "invalid JSON: the body is not UTF-8 and no charset decodes it"


def parse_json_feed(body: bytes, headers: Mapping[str, str], source: str, now: datetime) -> FetchResult:
    """Parse a JSON Feed (1.0 or 1.1; also RSSHub's ``format=json`` output)."""
    doc, error = _load_json(body, headers)
    if error is not None:
        return FetchResult(errors=[error])
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        return FetchResult(errors=['not a JSON Feed: expected an object with an "items" list'])
    items: list[Item] = []
    problems: list[str] = []
    for index, raw in enumerate(doc["items"]):
        if not isinstance(raw, dict):
            problems.append(f"item {index + 1} is not an object; skipped")
            continue
        item = _jsonfeed_item(raw, source, now, problems)
        if item is None:
            problems.append(f"item {index + 1} has no title, text or url; skipped")
        else:
            items.append(item)
    return FetchResult(items=items, errors=_summarize(problems))


def _jsonfeed_item(raw: Mapping[str, Any], source: str, now: datetime, problems: list[str]) -> Item | None:
    title = collapse(_as_text(raw.get("title")))
    url = _as_text(raw.get("url") or raw.get("external_url")).strip() or None
    body = collapse(_as_text(raw.get("content_text")))
    body = body or html_to_text(_as_text(raw.get("content_html")))
    body = body or collapse(_as_text(raw.get("summary")))
    text = _join_text(title, body)
    if not text and not url:
        return None
    stamp = raw.get("date_published") or raw.get("date_modified")
    published = parse_time(stamp, "iso8601", UTC) if stamp else None
    if stamp and published is None:
        problems.append(f"cannot read date {stamp!r} (expected RFC 3339); used the fetch time")
    raw_id = raw.get("id")
    item_id = _as_text(raw_id).strip() if not isinstance(raw_id, bool) else ""
    return Item(
        source=source,
        id=item_id or stable_id(url, title),
        text=text,
        published_at=published or now,
        title=title,
        url=url,
    )


def _as_text(value: Any) -> str:
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value)


_TIME_FORMATS = (
    "%a %b %d %H:%M:%S %z %Y",  # Weibo: Sat May 04 12:00:00 +0800 2024
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
)


def parse_time(value: Any, fmt: str, tz: Any) -> datetime | None:
    """A timestamp as aware UTC, or None when ``value`` cannot be read with ``fmt``.

    ``fmt`` is one of ``PUBLISHED_FORMATS`` or a ``strptime`` pattern; ``tz`` applies to
    times without an offset.
    """
    parsed = _parse_time_raw(value, fmt)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _parse_time_raw(value: Any, fmt: str) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if fmt in ("epoch", "epoch_ms") or (fmt == "auto" and _is_number(value)):
        return _from_epoch(value, millis=fmt == "epoch_ms")
    if not isinstance(value, str):
        return None
    text = value.strip()
    if fmt == "iso8601":
        return _from_iso(text)
    if fmt == "rfc2822":
        return _from_rfc2822(text)
    if fmt != "auto":
        return _from_pattern(text, (fmt,))
    return _from_iso(text) or _from_rfc2822(text) or _from_pattern(text, _TIME_FORMATS)


def _is_number(value: Any) -> bool:
    if isinstance(value, int | float):
        return True
    return isinstance(value, str) and bool(re.fullmatch(r"\d{9,13}(\.\d+)?", value.strip()))


def _from_epoch(value: Any, *, millis: bool) -> datetime | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if millis or seconds > 1e11:  # 1e11 s is the year 5138: such a number is milliseconds
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _from_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _from_rfc2822(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _from_pattern(text: str, patterns: Iterable[str]) -> datetime | None:
    for pattern in patterns:
        try:
            return datetime.strptime(text, pattern)  # noqa: DTZ007 - the caller applies the source zone
        except ValueError:
            continue
    return None


def get_path(doc: Any, path: str) -> Any:
    """The value at a dotted path (``data.items``, ``pics.0.url``), or None."""
    current = doc
    for part in (p for p in path.split(".") if p):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def parse_json(
    body: bytes, headers: Mapping[str, str], source: str, now: datetime, mapping: JsonMapping
) -> FetchResult:
    """Parse a generic JSON API response with ``mapping``."""
    doc, error = _load_json(body, headers)
    if error is not None:
        return FetchResult(errors=[error])
    raw_items = get_path(doc, mapping.items_path)
    if not isinstance(raw_items, list):
        where = repr(mapping.items_path) if mapping.items_path else "the top level"
        return FetchResult(errors=[f"items_path: no list at {where} in the JSON response"])
    tz = ZoneInfo(mapping.timezone)
    items: list[Item] = []
    problems: list[str] = []
    for index, raw in enumerate(raw_items):
        item = _mapped_item(raw, mapping, tz, source, now, problems)
        if item is None:
            problems.append(f"item {index + 1}: no title, text or url at the mapped paths; skipped")
        else:
            items.append(item)
    return FetchResult(items=items, errors=_summarize(problems))


def _field(raw: Any, path: str | None, html: bool) -> str:
    if not path:
        return ""
    parts = [_as_text(get_path(raw, p.strip())) for p in path.split("+")]
    joined = " ".join(p for p in parts if p)
    return html_to_text(joined) if html else collapse(joined)


def _mapped_item(raw: Any, m: JsonMapping, tz: Any, source: str, now: datetime, problems: list[str]) -> Item | None:
    title = _field(raw, m.title, m.html)
    text = _join_text(title, _field(raw, m.text, m.html))
    url = _field(raw, m.url, False) or None
    if url is None and m.url_template:
        url = _fill_template(m.url_template, raw)
    if not text and not url:
        return None
    stamp = get_path(raw, m.published) if m.published else None
    published = parse_time(stamp, m.published_format, tz) if stamp not in (None, "") else None
    if stamp not in (None, "") and published is None:
        problems.append(f"cannot read time {stamp!r} as {m.published_format}; used the fetch time")
    raw_id = _field(raw, m.id, False)
    attrs = {name: v for name, path in m.attrs.items() if (v := _field(raw, path, False))}
    category = _field(raw, m.category, False) or None
    return Item(
        source=source,
        id=raw_id or stable_id(url, title or text),
        text=text,
        published_at=published or now,
        title=title,
        url=url,
        category=category,
        attrs=attrs,
    )


def _fill_template(template: str, raw: Any) -> str | None:
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        found = _as_text(get_path(raw, match.group(1)))
        missing = missing or not found
        return quote(found, safe="")

    url = _PLACEHOLDER.sub(value, template)
    return None if missing else url
