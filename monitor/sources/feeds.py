"""Feed sources: RSS/Atom, JSON Feed 1.1, generic JSON with a field mapping, RSSHub.

This module fetches, dispatches and polls; each parsing job has its own module:
``feedtext`` (markup to text), ``charset`` (which charset), ``rssatom`` (feedparser),
``fastfeed`` (the fast RSS/Atom path), ``jsonfeeds`` (JSON Feed, mapped JSON, times).
The names below are re-exported from here, where callers have always found them.

Parsing is pure: ``parse_feed`` / ``parse_json_feed`` / ``parse_json`` turn a body (and the
HTTP headers it came with) into a ``FetchResult``; ``FeedSource`` adds the fetch. Nothing
here raises for a bad network or a bad feed: the problem becomes an error string in the
result, next to whatever items could be salvaged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import BrokenExecutor, Executor, ThreadPoolExecutor
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode

from monitor.models import FetchResult
from monitor.protocols import Source
from monitor.sources.charset import choose_charset
from monitor.sources.fastfeed import parse_fast
from monitor.sources.feedtext import html_to_text
from monitor.sources.http import ConditionalState, FetchError, FetchPolicy, HttpFetcher
from monitor.sources.jsonfeeds import JSONFEED_PREFIX, _load_json, get_path, parse_json, parse_json_feed, parse_time
from monitor.sources.mappings import JsonMapping
from monitor.sources.rssatom import parse_feed_slow

__all__ = [
    "FEED_KINDS",
    "FeedKind",
    "FeedSource",
    "JsonMapping",
    "choose_charset",
    "get_path",
    "html_to_text",
    "looks_like_json",
    "parse_body",
    "parse_feed",
    "parse_feed_slow",
    "parse_json",
    "parse_json_feed",
    "parse_time",
    "poll_many",
    "rsshub_url",
]

log = logging.getLogger(__name__)

FeedKind = Literal["auto", "rss", "jsonfeed", "json"]
FEED_KINDS: tuple[FeedKind, ...] = ("auto", "rss", "jsonfeed", "json")


def parse_feed(body: bytes, headers: Mapping[str, str], source: str, now: datetime) -> FetchResult:
    """Parse an RSS/Atom document; salvage what an ill-formed one still gives.

    Well-formed RSS 2.0 / Atom 1.0 goes through ``fastfeed.parse_fast`` (same result, about
    five times faster); everything it declines goes through feedparser (``parse_feed_slow``).
    """
    fast = parse_fast(body, headers, source, now)
    return fast if fast is not None else parse_feed_slow(body, headers, source, now)


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
