"""RSS/Atom through feedparser (the reference the fast path in ``fastfeed`` must match)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from monitor.models import FetchResult, Item, stable_id
from monitor.sources.charset import _with_charset, choose_charset
from monitor.sources.feedtext import _join_text, _summarize, collapse, html_to_text

log = logging.getLogger(__name__)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- RSS / Atom

# These bozo reasons only mean the server's labelling was off; the feed itself parsed.
_LABEL_ONLY = ("NonXMLContentType",)
_CHARSET_BOZO = ("CharacterEncodingOverride", "CharacterEncodingUnknown")


def parse_feed_slow(body: bytes, headers: Mapping[str, str], source: str, now: datetime) -> FetchResult:
    """``parse_feed`` with feedparser alone (the reference the fast path must match)."""
    if not body.strip():
        return FetchResult(errors=["empty body: the server sent no feed"])
    hdrs = {k.lower(): v for k, v in headers.items()}
    charset, note = choose_charset(body, hdrs.get("content-type", ""))
    if charset is not None:
        hdrs["content-type"] = _with_charset(hdrs.get("content-type", ""), charset)
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),  # a stream: never let feedparser treat bytes as a path or URL
            response_headers=hdrs,
            sanitize_html=False,  # we keep plain text only and never render HTML
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser is lenient; this is a last line of defence
        log.warning("feedparser crashed", extra={"source": source, "error": repr(exc)})
        return FetchResult(errors=[f"feed parser failed: {type(exc).__name__}: {exc}"])
    errors = [note] if note else []
    items, problems = _entries_to_items(parsed.entries, source, now)
    errors.extend(_bozo_errors(parsed, len(items), charset_noted=note is not None))
    errors.extend(_summarize(problems))
    return FetchResult(items=items, errors=errors)


def _bozo_errors(parsed: Any, kept: int, *, charset_noted: bool) -> list[str]:
    version = parsed.get("version") or ""
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not version and not parsed.entries:
        detail = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
        return [f"not an RSS/Atom feed: no feed element found{detail}"]
    if exc is None or (type(exc).__name__ in _LABEL_ONLY and version):
        return []
    if charset_noted and type(exc).__name__ in _CHARSET_BOZO:
        return []  # already said, in our words
    return [f"ill-formed feed ({type(exc).__name__}: {exc}); kept {kept} entries"]


def _entries_to_items(entries: Iterable[Any], source: str, now: datetime) -> tuple[list[Item], list[str]]:
    items: list[Item] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        item = _entry_item(entry, source, now)
        if item is None:
            problems.append(f"entry {index + 1} has no title, text or link; skipped")
        else:
            items.append(item)
    return items, problems


def _detail_text(entry: Any, key: str) -> str:
    value = entry.get(key) or ""
    detail = entry.get(f"{key}_detail") or {}
    if "html" in str(detail.get("type", "")):
        return html_to_text(value)
    return collapse(value)


def _entry_body(entry: Any) -> str:
    contents = entry.get("content") or []
    texts = []
    for content in contents:
        value = content.get("value") or ""
        texts.append(html_to_text(value) if "html" in str(content.get("type", "")) else collapse(value))
    body = " ".join(t for t in texts if t)
    return body or _detail_text(entry, "summary")


def _entry_item(entry: Any, source: str, now: datetime) -> Item | None:
    title = _detail_text(entry, "title")
    link = (entry.get("link") or "").strip() or None
    text = _join_text(title, _entry_body(entry))
    if not text and not link:
        return None
    guid = str(entry.get("id") or "").strip()
    return Item(
        source=source,
        id=guid or stable_id(link, title),
        text=text,
        published_at=_entry_time(entry) or now,
        title=title,
        url=link,
        kind="post",
    )


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed is None:
            continue
        try:
            year, month, day, hour, minute, second = (int(v) for v in parsed[:6])
            return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
        except (TypeError, ValueError, OverflowError):
            continue
    return None
