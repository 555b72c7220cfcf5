from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from feedserver import MisbehavingServer, Route

from monitor.models import FetchResult
from monitor.sources.feeds import FeedSource, JsonMapping, poll_many
from monitor.sources.http import FetchPolicy, HttpFetcher

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICY = FetchPolicy(connect_timeout=1.0, read_timeout=0.5, deadline=1.0, max_bytes=100_000)
FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    "<item><title>某品牌 召回</title><link>https://n.example/1</link><guid>g1</guid></item>"
    "</channel></rss>"
).encode()


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


@pytest.fixture
def fetcher(client: httpx.Client) -> HttpFetcher:
    return HttpFetcher(client, POLICY)


def test_fetch_parse_then_not_modified(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/rss", Route(body=FEED, etag='"1"', headers={"Content-Type": "application/rss+xml"}))
    source = FeedSource("news", url, fetcher)
    first = source.fetch(NOW)
    assert [i.id for i in first.items] == ["g1"] and first.errors == []
    assert first.items[0].source == "news"
    assert source.fetch(NOW) == FetchResult(not_modified=True)


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (Route(status=500), "HTTP 500"),
        (Route(body=FEED, stall=2.0), "read timeout"),
        (Route(body=FEED + b" " * 200_000), "too large"),
        (Route(body=FEED, length=len(FEED) + 100), "truncated"),
        (Route(body=b"<html>maintenance</html>", headers={"Content-Type": "text/html"}), "not an RSS/Atom"),
    ],
)
def test_failures_become_errors(server: MisbehavingServer, fetcher: HttpFetcher, route: Route, reason: str) -> None:
    url = server.add("/bad", route)
    result = FeedSource("news", url, fetcher).fetch(NOW)
    assert result.items == [] and not result.not_modified
    assert len(result.errors) == 1 and reason in result.errors[0]


def test_retry_after_is_exposed(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/busy", Route(status=429, headers={"Retry-After": "90"}))
    source = FeedSource("n", url, fetcher)
    assert "HTTP 429" in source.fetch(NOW).errors[0]
    assert source.retry_after == 90.0
    server.add("/busy", Route(body=FEED))
    source.fetch(NOW)
    assert source.retry_after is None


def test_per_source_policy(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/rss", Route(body=FEED))
    small = FetchPolicy(max_bytes=100)
    assert "too large" in FeedSource("n", url, fetcher, policy=small).fetch(NOW).errors[0]


def test_json_source(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    body = json.dumps({"list": [{"id": 7, "content": "投诉内容"}]}).encode()
    url = server.add("/api", Route(body=body, headers={"Content-Type": "application/json"}))
    mapping = JsonMapping(items_path="list", text="content")
    (item,) = FeedSource("api", url, fetcher, "json", mapping).fetch(NOW).items
    assert item.id == "7" and item.text == "投诉内容" and item.published_at == NOW


def test_rsshub_source_encodes_route(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    server.add("/weibo/keyword/%E6%9F%90%E5%93%81%E7%89%8C", Route(body=FEED))
    source = FeedSource.rsshub("weibo", server.base + "/", "/weibo/keyword/某品牌", fetcher)
    assert len(source.fetch(NOW).items) == 1


def test_source_rejects_bad_config(fetcher: HttpFetcher) -> None:
    with pytest.raises(ValueError, match="kind"):
        FeedSource("x", "http://127.0.0.1/", fetcher, "atom")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mapping"):
        FeedSource("x", "http://127.0.0.1/", fetcher, "json")


# --------------------------------------------------------------------------- poll_many


class CountingSource:
    """Records how many fetches run at once."""

    active = 0
    peak = 0
    lock = threading.Lock()

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail

    def fetch(self, now: datetime) -> FetchResult:
        with CountingSource.lock:
            CountingSource.active += 1
            CountingSource.peak = max(CountingSource.peak, CountingSource.active)
        time.sleep(0.02)
        with CountingSource.lock:
            CountingSource.active -= 1
        if self.fail:
            raise RuntimeError("boom")
        return FetchResult(errors=[self.name])


def test_poll_many_is_bounded_and_keeps_order() -> None:
    CountingSource.peak = 0
    sources = [CountingSource(f"s{i}") for i in range(20)]
    results = poll_many(sources, NOW, max_workers=3)
    assert list(results) == [f"s{i}" for i in range(20)]
    assert all(r.errors == [name] for name, r in results.items())
    assert 1 < CountingSource.peak <= 3


def test_poll_many_turns_exceptions_into_errors() -> None:
    results = poll_many([CountingSource("ok"), CountingSource("bad", fail=True)], NOW)
    assert results["bad"].errors == ["source raised RuntimeError: boom"]
    assert results["ok"].errors == ["ok"]


def test_poll_many_edge_cases() -> None:
    assert poll_many([], NOW) == {}
    with pytest.raises(ValueError, match="repeated: a"):
        poll_many([CountingSource("a"), CountingSource("a")], NOW)


def test_poll_many_over_misbehaving_server(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    server.add("/ok", Route(body=FEED))
    server.add("/500", Route(status=500))
    server.add("/stall", Route(body=FEED, stall=2.0))
    sources = [FeedSource(p, server.url(p), fetcher) for p in ("/ok", "/500", "/stall")]
    started = time.perf_counter()
    results = poll_many(sources, NOW, max_workers=3)
    assert time.perf_counter() - started < 1.5
    assert len(results["/ok"].items) == 1
    assert "HTTP 500" in results["/500"].errors[0]
    assert "read timeout" in results["/stall"].errors[0]


# --------------------------------------------------------------------------- parse pool


class BrokenPool(ThreadPoolExecutor):
    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        raise BrokenExecutor("worker died")


def test_parse_pool_and_its_fallback(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/rss", Route(body=FEED))
    other = server.add("/rss2", Route(body=FEED))
    with ThreadPoolExecutor(1) as pool:
        assert len(FeedSource("n", url, fetcher, parse_pool=pool).fetch(NOW).items) == 1
    with BrokenPool(1) as broken:
        assert len(FeedSource("m", other, fetcher, parse_pool=broken).fetch(NOW).items) == 1


def test_parse_in_a_real_process(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/rss", Route(body=FEED))
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = FeedSource("n", url, fetcher, parse_pool=pool).fetch(NOW)
    assert [i.title for i in result.items] == ["某品牌 召回"]


def test_conditional_get_validators_survive_a_restart_through_the_state_hook() -> None:
    from datetime import UTC, datetime

    import httpx

    from monitor.sources.feeds import FeedSource
    from monitor.sources.http import HttpFetcher

    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><guid>1</guid><title>x</title></item></channel></rss>"
    )
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, content=body, headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"})

    now = datetime(2026, 11, 20, tzinfo=UTC)
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        first = FeedSource("news", "http://feeds.test/rss", HttpFetcher(client))
        assert len(first.fetch(now).items) == 1
        saved = first.state()
        again = FeedSource("news", "http://feeds.test/rss", HttpFetcher(client))  # after a restart
        again.restore(saved)
        assert again.fetch(now).not_modified
    assert seen == [None, '"v1"']
