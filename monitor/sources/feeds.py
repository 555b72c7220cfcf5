"""Feed sources: RSS/Atom, JSON Feed 1.1, generic JSON with a field mapping, RSSHub.

Parsing is pure: ``parse_feed`` / ``parse_json_feed`` / ``parse_json`` turn a body (and the
HTTP headers it came with) into a ``FetchResult``; ``FeedSource`` adds the fetch. Nothing
here raises for a bad network or a bad feed: the problem becomes an error string in the
result, next to whatever items could be salvaged.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import BrokenExecutor, Executor, ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode
from zoneinfo import ZoneInfo

import feedparser

from monitor.models import FetchResult, Item, stable_id
from monitor.protocols import Source
from monitor.sources.http import ConditionalState, FetchError, FetchPolicy, HttpFetcher
from monitor.sources.mappings import JsonMapping

log = logging.getLogger(__name__)

FeedKind = Literal["auto", "rss", "jsonfeed", "json"]
FEED_KINDS: tuple[FeedKind, ...] = ("auto", "rss", "jsonfeed", "json")
MAX_REPORTED_PROBLEMS = 3

# --------------------------------------------------------------------------- plain text

_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption"}
    | {"footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol"}
    | {"p", "pre", "section", "table", "td", "th", "tr", "ul"}
)
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def collapse(text: str) -> str:
    return " ".join(text.split())


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment, entities decoded, whitespace collapsed."""
    if "<" not in markup and "&" not in markup:
        return collapse(markup)
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return collapse("".join(parser.parts))


def _join_text(title: str, body: str) -> str:
    if not body or body == title:
        return title
    if not title or body.startswith(title):
        return body
    return f"{title} {body}"


def _summarize(problems: Sequence[str]) -> list[str]:
    """At most a few problems, then a count of the rest (one bad feed, not a flood)."""
    if len(problems) <= MAX_REPORTED_PROBLEMS:
        return list(problems)
    shown = list(problems[:MAX_REPORTED_PROBLEMS])
    shown.append(f"... and {len(problems) - MAX_REPORTED_PROBLEMS} more like these")
    return shown


# --------------------------------------------------------------------------- charsets

_MULTIBYTE = frozenset(
    {"utf-8", "gb2312", "gbk", "gb18030", "big5", "big5hkscs", "cp950"}
    | {"euc_jp", "shift_jis", "cp932", "euc_kr", "cp949"}
)
_WIDER = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "big5": ("cp950", "big5hkscs"),
    "euc_kr": ("cp949",),
    "shift_jis": ("cp932",),
    "iso8859-1": ("cp1252", "iso8859-1"),
}
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.IGNORECASE)
_UNICODE_MARKERS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00", b"\x00<", b"<\x00")


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def choose_charset(body: bytes, content_type: str) -> tuple[str | None, str | None]:
    """The charset to decode a non-ASCII XML body with, when feedparser's rules would fail.

    feedparser follows RFC 3023 (the header's charset wins, ``text/xml`` without one means
    US-ASCII) and then falls back to windows-1252 / iso-8859-2, which turns Chinese into
    mojibake. Here, in order: a body that is valid UTF-8 is UTF-8; then the declared
    multi-byte encodings (header or XML declaration, widened: GB2312/GBK to GB18030, Big5
    to CP950); then Chinese recognised in GB18030 or CP950 by its common characters; then
    declared single-byte encodings. The first that decodes the whole body wins.

    Returns ``(charset, note)``. ``charset`` None leaves the choice to feedparser (ASCII
    bodies, BOMs, UTF-16/32, or nothing fits). ``note`` names a problem worth an admin's
    eye: a header and declaration that disagree, or a body whose charset had to be guessed.
    """
    if body.isascii() or body[:2] in _UNICODE_MARKERS or body[:3] in _UNICODE_MARKERS:
        return None, None
    header = _codec(m.group(1)) if (m := _CHARSET_PARAM.search(content_type)) else None
    declared = _codec(d.group(1).decode("ascii")) if (d := _XML_DECL.match(body[:1024])) else None
    if any(c.startswith(("utf_16", "utf-16", "utf_32", "utf-32")) for c in (header, declared) if c):
        return None, None
    chosen = _pick(body, header, declared)
    if chosen is None:
        return None, (
            f"charset: the body is not valid in the declared charset ({header or declared or 'none'}) "
            "nor recognisably UTF-8 or Chinese; its text may be garbled"
        )
    return chosen, _charset_note(header, declared, chosen)


def _pick(body: bytes, header: str | None, declared: str | None) -> str | None:
    if _decodes(body, "utf-8"):
        return "utf-8"
    for name in (c for c in (header, declared) if c in _MULTIBYTE):
        for candidate in _WIDER.get(name, (name,)):
            if _decodes(body, candidate):
                return candidate
    guess = guess_chinese(body)
    if guess is not None:
        return guess
    for name in (c for c in (header, declared) if c and c not in _MULTIBYTE):
        for candidate in _WIDER.get(name, (name,)):
            if _decodes(body, candidate):
                return candidate
    return None


# The most frequent characters of written Chinese, simplified and traditional forms. Real
# Chinese text decoded in the right charset is full of them; the wrong decoding of the
# same bytes gives rare characters, and other languages give almost none.
_COMMON_HANZI = frozenset(
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过"
    "家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所"
    "本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全"
    "工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教"
    "西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性"
    "品质量投诉问题公司产品服务客户价格安全事故召回调查消费者"
    "這來國個說們為時會對後麼過還發學長見經頭動兩樣現將實點種聲話兒與業間機電門東開關軍產處"
    "總師書員華報馬張難數體應車氣當無愛讓認論義術結變聯權傳領運區轉輕專讀觀飛爭組設語歷網臺灣"
    "質題務戶價災調費"
)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def guess_chinese(body: bytes) -> str | None:
    """``gb18030`` or ``cp950`` when the body reads as Chinese text in it, else None."""
    best, best_score = None, 0.15  # share of common characters needed to call it Chinese
    for charset in ("gb18030", "cp950"):
        try:
            text = body.decode(charset)
        except UnicodeDecodeError:
            continue
        hanzi = _CJK.findall(text)
        if len(hanzi) < 8:
            continue
        score = sum(1 for ch in hanzi if ch in _COMMON_HANZI) / len(hanzi)
        if score > best_score:
            best, best_score = charset, score
    return best


def _family(name: str | None) -> str | None:
    wider = _WIDER.get(name or "", ())
    return wider[0] if wider else name


def _charset_note(header: str | None, declared: str | None, chosen: str) -> str | None:
    stated = [c for c in (header, declared) if c]
    if not stated:
        return None if chosen == "utf-8" else f"charset: none declared; the text reads as Chinese in {chosen}"
    if all(_family(c) == _family(chosen) for c in stated):
        return None
    return (
        f"charset: the HTTP header says {header or '(none)'}, the XML declaration says "
        f"{declared or '(none)'}; the body decodes as {chosen}, so it was read as {chosen}"
    )


def _with_charset(content_type: str, charset: str) -> str:
    """A Content-Type that makes feedparser decode with ``charset`` and not complain."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if not (mime.endswith("/xml") or mime.endswith("+xml")) or mime.startswith("text/"):
        mime = "application/xml"
    return f"{mime}; charset={charset}"


# --------------------------------------------------------------------------- RSS / Atom

# These bozo reasons only mean the server's labelling was off; the feed itself parsed.
_LABEL_ONLY = ("NonXMLContentType",)
_CHARSET_BOZO = ("CharacterEncodingOverride", "CharacterEncodingUnknown")


def parse_feed(body: bytes, headers: Mapping[str, str], source: str, now: datetime) -> FetchResult:
    """Parse an RSS/Atom document; salvage what an ill-formed one still gives.

    Well-formed RSS 2.0 / Atom 1.0 goes through ``fastfeed.parse_fast`` (same result, about
    five times faster); everything it declines goes through feedparser (``parse_feed_slow``).
    """
    from monitor.sources.fastfeed import parse_fast  # here: fastfeed imports this module

    fast = parse_fast(body, headers, source, now)
    return fast if fast is not None else parse_feed_slow(body, headers, source, now)


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


# --------------------------------------------------------------------------- dispatch


def looks_like_json(body: bytes, headers: Mapping[str, str]) -> bool:
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "").lower()
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" in content_type or head[:1] in (b"{", b"[")


def parse_body(
    body: bytes,
    headers: Mapping[str, str],
    source: str,
    now: datetime,
    kind: FeedKind = "auto",
    mapping: JsonMapping | None = None,
) -> FetchResult:
    """Parse a fetched body as ``kind``; ``auto`` tells RSS/Atom from JSON by looking."""
    if kind == "rss":
        return parse_feed(body, headers, source, now)
    if kind == "jsonfeed":
        return parse_json_feed(body, headers, source, now)
    if kind == "json" or (kind == "auto" and mapping is not None and looks_like_json(body, headers)):
        if mapping is None:
            return FetchResult(errors=["type json needs a mapping (items_path and field paths)"])
        return parse_json(body, headers, source, now, mapping)
    if looks_like_json(body, headers):
        return _auto_json(body, headers, source, now)
    return parse_feed(body, headers, source, now)


def _auto_json(body: bytes, headers: Mapping[str, str], source: str, now: datetime) -> FetchResult:
    doc, error = _load_json(body, headers)
    if error is not None:
        return FetchResult(errors=[error])
    if isinstance(doc, dict) and str(doc.get("version", "")).startswith(JSONFEED_PREFIX):
        return parse_json_feed(body, headers, source, now)
    return FetchResult(
        errors=[f"JSON that is not a JSON Feed (no version {JSONFEED_PREFIX}1.1): configure type json with a mapping"]
    )


class FeedSource:
    """A polled feed (RSS/Atom, JSON Feed or mapped JSON); implements ``Source``.

    ``fetch`` never raises for network or feed problems: they come back as errors in the
    result. A 304 gives ``FetchResult(not_modified=True)``.

    ``parse_pool``: an optional process pool to parse in. feedparser is pure Python and
    holds the GIL (about 8 ms for a 20-item feed), so with many feeds the threads that
    fetch wait on one core; parsing in processes uses the others. If the pool breaks,
    parsing falls back to the calling thread.

    ``retry_after``: after a fetch that failed with 429/503 and a ``Retry-After`` in
    seconds, that delay (for the scheduler's backoff); else None.
    """

    def __init__(
        self,
        name: str,
        url: str,
        fetcher: HttpFetcher,
        kind: FeedKind = "auto",
        mapping: JsonMapping | None = None,
        policy: FetchPolicy | None = None,
        parse_pool: Executor | None = None,
    ) -> None:
        if kind not in FEED_KINDS:
            raise ValueError(f"kind: found {kind!r}, expected one of {', '.join(FEED_KINDS)}")
        if kind == "json" and mapping is None:
            raise ValueError(f"source {name!r}: type json needs a mapping")
        self.name = name
        self.url = url
        self.fetcher = fetcher
        self.kind: FeedKind = kind
        self.mapping = mapping
        self.policy = policy
        self.parse_pool = parse_pool
        self.retry_after: float | None = None  # seconds the server asked for, after the last fetch

    @classmethod
    def rsshub(
        cls,
        name: str,
        instance: str,
        route: str,
        fetcher: HttpFetcher,
        policy: FetchPolicy | None = None,
        parse_pool: Executor | None = None,
    ) -> FeedSource:
        """An RSSHub route on ``instance``; RSSHub answers RSS (or JSON Feed), read as auto."""
        return cls(name, rsshub_url(instance, route), fetcher, "auto", None, policy, parse_pool)

    def fetch(self, now: datetime) -> FetchResult:
        self.retry_after = None
        try:
            response = self.fetcher.get(self.url, policy=self.policy)
        except FetchError as exc:
            self.retry_after = exc.retry_after
            return FetchResult(errors=[str(exc)])
        if response.not_modified:
            return FetchResult(not_modified=True)
        args = (response.body, dict(response.headers), self.name, now, self.kind, self.mapping)
        try:
            if self.parse_pool is not None:
                try:
                    return self.parse_pool.submit(parse_body, *args).result()
                except BrokenExecutor:
                    log.error("parse pool is broken; parsing in-process", extra={"source": self.name})
            return parse_body(*args)
        except Exception as exc:  # a parser bug must not stop the poll loop
            log.exception("feed parse failed", extra={"source": self.name, "url": self.url})
            return FetchResult(errors=[f"{self.url}: parse failed: {type(exc).__name__}: {exc}"])

    def state(self) -> dict[str, Any]:
        """ETag / Last-Modified per URL, saved (after the poll's items are stored) across restarts."""
        return {"conditional": self.fetcher.state.to_dict()}

    def restore(self, state: Mapping[str, Any]) -> None:
        saved = state.get("conditional")
        self.fetcher.state = ConditionalState.from_dict(saved if isinstance(saved, dict) else {})

    def __repr__(self) -> str:
        return f"FeedSource({self.name!r}, {self.url!r}, kind={self.kind!r})"


# --------------------------------------------------------------------------- RSSHub

_PATH_SAFE = "!$&'()*+,;=:@-._~"


def rsshub_url(instance: str, route: str, format: str | None = None) -> str:
    """The URL of an RSSHub ``route`` on ``instance``, path segments percent-encoded.

    ``rsshub_url("https://rsshub.app", "/weibo/keyword/某品牌")`` gives
    ``https://rsshub.app/weibo/keyword/%E6%9F%90%E5%93%81%E7%89%8C``. Already-encoded
    segments stay as they are. ``format`` (``rss``, ``atom`` or ``json``) is added as
    ``?format=``; a query in the route is kept.
    """
    if not instance.startswith(("http://", "https://")):
        raise ValueError(f"instance: found {instance!r}, expected an http(s) URL such as https://rsshub.app")
    path, _, query = route.strip().partition("?")
    segments = [quote(unquote(seg), safe=_PATH_SAFE) for seg in path.strip("/").split("/")]
    if not any(segments):
        raise ValueError(f"route: found {route!r}, expected a path such as /weibo/keyword/某品牌")
    params = parse_qsl(query, keep_blank_values=True)
    if format is not None:
        if format not in ("rss", "atom", "json"):
            raise ValueError(f"format: found {format!r}, expected rss, atom or json")
        params = [(k, v) for k, v in params if k != "format"] + [("format", format)]
    url = instance.rstrip("/") + "/" + "/".join(segments)
    return url + ("?" + urlencode(params, quote_via=quote) if params else "")


# --------------------------------------------------------------------------- polling


def poll_many(sources: Sequence[Source], now: datetime, max_workers: int = 32) -> dict[str, FetchResult]:
    """Fetch every source once, at most ``max_workers`` at a time; results by source name.

    A source that raises (a bug: sources should not) gives a result with that error.
    """
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
    if not sources:
        return {}
    workers = max(1, min(max_workers, len(sources)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
        futures = [(s.name, pool.submit(_safe_fetch, s, now)) for s in sources]
        return {name: future.result() for name, future in futures}


def _safe_fetch(source: Source, now: datetime) -> FetchResult:
    try:
        return source.fetch(now)
    except Exception as exc:
        log.exception("source raised", extra={"source": source.name})
        return FetchResult(errors=[f"source raised {type(exc).__name__}: {exc}"])
