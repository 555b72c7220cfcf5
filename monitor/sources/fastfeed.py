"""A fast path for well-formed RSS 2.0 and Atom 1.0 feeds, equivalent to feedparser's.

feedparser is pure Python (about 8 ms for a 20-item feed, holding the GIL). For the
common, well-formed case ``parse_fast`` reads the same document with the C-accelerated
``xml.etree.ElementTree`` (the same expat that feedparser's strict parser uses) and
rebuilds, for each item, exactly the entry fields that ``feeds.parse_feed`` reads
(title and its type, link, id, content, summary and its type, the parsed dates), applying
feedparser's own transformations to each value. The items and errors are then made by the
same helpers in ``feeds``, so the result is the one feedparser's path gives.

Whatever it is not sure about, it declines (returns None) and feedparser parses the body:
XML errors, a DOCTYPE or entity declarations, an encoding feedparser would not decode
cleanly, a ``Content-Location`` header or ``xml:base`` (relative links), RSS 1.0/RDF and
other roots, any element in an item it does not model (other namespaces, Media RSS,
``atom:link`` in RSS items, ``dc:title``...), repeated fields, attributes that change a
field's meaning (``type`` other than text/html, ``mode``, ``src``, ``url``), markup inside
a field (Atom ``xhtml``), and prefix declarations that could remap known namespaces.
To keep it equivalent, the feedparser internals it borrows (encoding detection, date
parsing, URI fixing, the cp1252 table, the HTML sniffing of RSS titles) are feedparser's
own functions; tests/sources/test_fastfeed.py compares both paths on a corpus.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin
from feedparser.util import FeedParserDict

from monitor.models import FetchResult
from monitor.sources import rssatom
from monitor.sources.charset import _with_charset, choose_charset
from monitor.sources.feedtext import _summarize

ATOM = "http://www.w3.org/2005/Atom"
_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_DC = "http://purl.org/dc/elements/1.1/"
_XML = "http://www.w3.org/XML/1998/namespace"
_XML_LANG = f"{{{_XML}}}lang"

_KNOWN_NAMESPACES: dict[str, str] = _FeedParserMixin.namespaces
_CANONICAL_PREFIXES = frozenset(p for p in _KNOWN_NAMESPACES.values() if p)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_TYPES = frozenset({"text/plain", "text/html"})

_DOCTYPE = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# feedparser sets its version to RSS 1.0 / 0.90 when these namespaces are declared first
_RSS1_NAMESPACE = re.compile(
    rb"[\"']\s*http://(?:purl\.org/rss/1\.0/|my\.netscape\.com/rdf/simple/0\.9/)\s*[\"']", re.I
)
_PREFIX_DECL = re.compile(rb"xmlns:([^\s=/>]+)\s*=\s*([\"'])(.*?)\2", re.S)
_LINK_REF = re.compile("&([A-Za-z0-9_]+);")

# RSS item children: (namespace, lower-case local name) -> role. Roles "-" are elements
# whose feedparser handling never touches the fields we read; they may carry attributes.
_RSS_CHILDREN: dict[tuple[str, str], str] = {
    ("", "title"): "title",
    ("", "link"): "link",
    ("", "description"): "summary",
    ("", "guid"): "id",
    ("", "pubdate"): "published",
    (_CONTENT, "encoded"): "content",
    (_DC, "date"): "updated",
    ("", "author"): "-",
    ("", "category"): "-",
    ("", "comments"): "-",
    ("", "enclosure"): "-",
    ("", "source"): "-",
    (_DC, "creator"): "-",
    (_DC, "subject"): "-",
}
_ATOM_CHILDREN: dict[str, str] = {
    "id": "id",
    "title": "title",
    "link": "link",
    "summary": "summary",
    "content": "content",
    "published": "published",
    "updated": "updated",
    "author": "person",
    "contributor": "person",
    "category": "-",
    "rights": "-",
}
_ATOM_TABLE = {(ATOM, local): role for local, role in _ATOM_CHILDREN.items()}
_PERSON_CHILDREN = frozenset({"name", "email", "uri"})
_UNIQUE_ROLES = frozenset({"title", "link", "summary", "id", "published", "updated", "content"})


class _Decline(Exception):
    """The document is outside what the fast path reproduces exactly."""


def parse_fast(body: bytes, headers: Mapping[str, str], source: str, now: datetime) -> FetchResult | None:
    """``feeds.parse_feed``'s result for a well-formed RSS 2.0 / Atom 1.0 body, or None.

    None means "not handled here": parse with feedparser.
    """
    try:
        return _parse(body, headers, source, now)
    except _Decline:
        return None


def _parse(body: bytes, headers: Mapping[str, str], source: str, now: datetime) -> FetchResult:
    if not body.strip():
        raise _Decline
    hdrs = {k.lower(): v for k, v in headers.items()}
    if "content-location" in hdrs:
        raise _Decline  # feedparser resolves relative links against it
    # the same charset choice and the same decoding as feeds.parse_feed + feedparser.parse
    charset, note = choose_charset(body, hdrs.get("content-type", ""))
    if charset is not None:
        hdrs["content-type"] = _with_charset(hdrs.get("content-type", ""), charset)
    result = FeedParserDict(bozo=False, entries=[], feed=FeedParserDict(), headers={})
    result["headers"].update(hdrs)
    data = convert_to_utf8(result["headers"], body, result)
    if not result.get("encoding"):
        raise _Decline  # feedparser would use its loose parser
    exc = result.get("bozo_exception")
    if exc is not None and type(exc).__name__ not in rssatom._LABEL_ONLY:
        raise _Decline  # a charset feedparser had to override or guess: rare, leave it there
    if _DOCTYPE.search(data):
        raise _Decline
    _check_prefixes(data)
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, ValueError):
        raise _Decline from None
    version, elements = _entry_elements(root, data)
    _check_tree(root, len(elements))
    entries = [_rss_entry(e) if version == "rss" else _atom_entry(e) for e in elements]

    items, problems = rssatom._entries_to_items(entries, source, now)
    parsed = FeedParserDict(
        bozo=result.get("bozo", False),
        bozo_exception=result.get("bozo_exception"),
        version=version,
        entries=entries,
    )
    errors = [note] if note else []
    errors.extend(rssatom._bozo_errors(parsed, len(items), charset_noted=note is not None))
    errors.extend(_summarize(problems))
    return FetchResult(items=items, errors=errors)


# --------------------------------------------------------------------------- structure


def _split(tag: Any) -> tuple[str, str]:
    if not isinstance(tag, str):
        raise _Decline
    if tag[:1] == "{":
        ns, _, local = tag[1:].partition("}")
        return ns, local.lower()
    return "", tag.lower()


def _entry_elements(root: ET.Element, data: bytes) -> tuple[str, list[ET.Element]]:
    """("rss" | "atom10", the item/entry elements) for the two shapes handled."""
    ns, local = _split(root.tag)
    if (ns, local) == ("", "rss"):
        channels = list(root)
        if len(channels) != 1 or _split(channels[0].tag) != ("", "channel"):
            raise _Decline
        return "rss", [e for e in channels[0] if _split(e.tag) == ("", "item")]
    if ns == ATOM and local == "feed":
        if _RSS1_NAMESPACE.search(data):
            raise _Decline  # feedparser's version would not be atom10
        return "atom10", [e for e in root if _split(e.tag) == (ATOM, "entry")]
    raise _Decline


def _check_tree(root: ET.Element, entries: int) -> None:
    """No other item/entry anywhere, and no xml:base (or ``base``) anywhere."""
    seen = 0
    for element in root.iter():
        if _split(element.tag)[1] in ("item", "entry"):
            seen += 1
        for name in element.attrib:
            if name == "base" or name.endswith("}base"):
                raise _Decline
    if seen != entries:
        raise _Decline


def _check_prefixes(data: bytes) -> None:
    """feedparser maps a declared prefix to a known namespace's prefix by name: decline
    a document that declares a well-known prefix (``dc``, ``content``...) for another URI."""
    if b"xmlns:" not in data:
        return
    for match in _PREFIX_DECL.finditer(data):
        prefix = match.group(1).decode("utf-8", "replace")
        if prefix in _CANONICAL_PREFIXES:
            uri = match.group(3).decode("utf-8", "replace").lower()
            if "backend.userland.com/rss" in uri:
                uri = "http://backend.userland.com/rss"
            if _KNOWN_NAMESPACES.get(uri) != prefix:
                raise _Decline


def _attrs(element: ET.Element) -> dict[str, str]:
    """Attributes as feedparser sees them (names lower-cased); xml:lang dropped.

    Namespaced attributes are declined: feedparser also files them under their local
    name, so ``x:type`` could change a field's type.
    """
    out: dict[str, str] = {}
    for name, value in element.attrib.items():
        if name == _XML_LANG:
            continue
        if name[:1] == "{":
            raise _Decline
        key = name.lower()
        out[key] = value.lower() if key in ("rel", "type") else value
    return out


def _text(element: ET.Element) -> str:
    """The text of a field that must hold no markup (feedparser would rebuild it)."""
    if len(element):
        raise _Decline
    return element.text or ""


# --------------------------------------------------------------------------- values


def _finish(output: str) -> str:
    """What feedparser's ``pop`` does last to every value (strict parser, utf-8)."""
    if output.isascii():
        return output
    try:
        output = output.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return output.translate(_cp1252)
    return output.translate(_cp1252)


def _date(element: ET.Element) -> Any:
    if _attrs(element):
        raise _Decline
    return _parse_date(_finish(_text(element).strip()))


def _content_type(attrs: Mapping[str, str], default: str, allowed: frozenset[str]) -> str:
    ctype = _FeedParserMixin.map_content_type(attrs.get("type", default))
    if ctype not in _TEXT_TYPES or set(attrs) - allowed:
        raise _Decline  # xhtml, base64 modes, src, and any attribute we do not model
    return str(ctype)


def _roles(
    element: ET.Element, table: Mapping[tuple[str, str], str], unique: frozenset[str]
) -> list[tuple[str, ET.Element]]:
    if _attrs(element):
        raise _Decline  # rdf:about, lastmod, href on an item: feedparser reads them
    roles = []
    seen: set[str] = set()
    for child in element:
        role = table.get(_split(child.tag))
        if role is None:
            raise _Decline
        if role in unique:
            if role in seen:
                raise _Decline
            seen.add(role)
        roles.append((role, child))
    return roles


def _entry(
    title: tuple[str, str] | None,
    link: str | None,
    guid: tuple[str, bool] | None,
    summary: tuple[str, str] | None,
    content: tuple[str, str] | None,
    dates: Mapping[str, Any],
) -> dict[str, Any]:
    """The entry feedparser would build, for the keys rssatom.py reads.

    A plain dict: for these keys ``FeedParserDict.get`` answers the same (its one special
    case, ``updated_parsed`` falling back to ``published_parsed``, is only reached after
    ``published_parsed`` was found unusable, so it gives nothing new).
    """
    entry: dict[str, Any] = {}
    if title is not None:
        entry["title"] = title[0]
        entry["title_detail"] = {"type": title[1]}
    if guid is not None:
        entry["id"] = guid[0]
    if link is not None:
        entry["link"] = link
    elif guid is not None and guid[1]:
        entry["link"] = guid[0]  # a permalink guid stands in for a missing link
    if content is not None:
        entry["content"] = [{"type": content[1], "value": content[0]}]
    if summary is not None:
        entry["summary"] = summary[0]
        entry["summary_detail"] = {"type": summary[1]}
    elif content is not None and content[1] in _TEXT_TYPES:
        entry["summary"] = content[0]  # copied without a detail
    entry.update(dates)
    return entry


def _rss_entry(item: ET.Element) -> dict[str, Any]:
    title = link = guid = summary = content = None
    dates: dict[str, Any] = {}
    for role, child in _roles(item, _RSS_CHILDREN, _UNIQUE_ROLES):
        if role == "-":
            if len(child):
                raise _Decline
            continue
        attrs = _attrs(child)
        if role == "id":
            if set(attrs) - {"ispermalink"}:
                raise _Decline
            is_link = attrs.get("ispermalink", "true") == "true"
            value = _text(child).strip()
            if is_link and value:
                value = _urljoin("", value)
            guid = (_finish(value), is_link)
            continue
        if attrs:
            raise _Decline  # a type, href, mode... on an RSS field changes its handling
        if role == "published":
            dates["published_parsed"] = _date(child)
        elif role == "updated":
            dates["updated_parsed"] = _date(child)
        elif role == "title":
            value = _text(child).strip()
            ctype = "text/html" if _FeedParserMixin.looks_like_html(value) else "text/plain"
            title = (_finish(value), ctype)
        elif role == "link":
            value = _text(child).strip()
            if value:
                value = _urljoin("", value)
            value = _finish(value).replace("&amp;", "&")
            link = _LINK_REF.sub(r"&\g<1>", value)
        elif role == "summary":
            summary = (_finish(_text(child).strip()), "text/html")
        elif role == "content":
            content = (_finish(_text(child).strip()), "text/html")
    return _entry(title, link, guid, summary, content, dates)


def _atom_entry(entry: ET.Element) -> dict[str, Any]:
    title = link = guid = summary = content = None
    dates: dict[str, Any] = {}
    for role, child in _roles(entry, _ATOM_TABLE, _UNIQUE_ROLES - {"link"}):
        if role == "-":
            if len(child):
                raise _Decline
            continue
        if role == "person":
            _check_person(child)
            continue
        attrs = _attrs(child)
        if role == "link":
            if "href" not in attrs or "url" in attrs or "uri" in attrs or len(child):
                raise _Decline  # feedparser would read the link's text or another attribute
            rel = attrs.get("rel", "alternate")
            ctype = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html")
            if rel == "alternate" and _FeedParserMixin.map_content_type(ctype) in _HTML_TYPES:
                link = _urljoin("", attrs["href"])  # the last alternate link wins
        elif role == "id":
            if attrs:
                raise _Decline
            value = _text(child).strip()
            guid = (_finish(_urljoin("", value) if value else value), True)
        elif role in ("published", "updated"):
            dates[f"{role}_parsed"] = _date(child)
        elif role == "title":
            ctype = _content_type(attrs, "text", frozenset({"type"}))
            title = (_finish(_text(child).strip()), ctype)
        elif role == "summary":
            ctype = _content_type(attrs, "text", frozenset({"type"}))
            summary = (_finish(_text(child).strip()), ctype)
        elif role == "content":
            ctype = _content_type(attrs, "text/plain", frozenset({"type"}))
            content = (_finish(_text(child).strip()), ctype)
    return _entry(title, link, guid, summary, content, dates)


def _check_person(person: ET.Element) -> None:
    if _attrs(person):
        raise _Decline
    for child in person:
        ns, local = _split(child.tag)
        if ns != ATOM or local not in _PERSON_CHILDREN or len(child) or _attrs(child):
            raise _Decline
