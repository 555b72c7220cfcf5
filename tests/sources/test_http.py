from __future__ import annotations

import hashlib
import random
import socket
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from feedserver import MisbehavingServer, Route

from monitor.sources.http import (
    Backoff,
    ConditionalState,
    FetchError,
    FetchPolicy,
    HttpFetcher,
    Validators,
    jittered,
    parse_retry_after,
)

FAST = FetchPolicy(connect_timeout=1.0, read_timeout=0.5, deadline=1.0, max_bytes=64_000, max_redirects=3)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:  # one per module: building its SSL context is slow
    with httpx.Client() as c:
        yield c


@pytest.fixture
def fetcher(client: httpx.Client) -> HttpFetcher:
    return HttpFetcher(client, FAST)


def fail(fetcher: HttpFetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetcher.get(url)
    return info.value


# --------------------------------------------------------------------------- good answers


def test_ok_body_and_lowercase_headers(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/feed", Route(body=b"<rss/>", headers={"Content-Type": "application/rss+xml"}))
    response = fetcher.get(url)
    assert response.status == 200
    assert response.body == b"<rss/>"
    assert response.headers["content-type"] == "application/rss+xml"
    assert not response.not_modified
    seen = server.requests_to("/feed")[0]
    assert seen.headers["user-agent"].startswith("crisismon/")
    assert "rss" in seen.headers["accept"]


def test_gzip_is_decoded_and_transfer_headers_dropped(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    body = "<rss><channel><title>某品牌</title></channel></rss>".encode() * 50
    url = server.add("/gz", Route(body=body, gzip=True))
    response = fetcher.get(url)
    assert response.body == body
    assert "content-encoding" not in response.headers
    assert "content-length" not in response.headers


def test_close_delimited_body_without_length(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/close", Route(body=b"x" * 5000, length="none", chunk_size=1000))
    assert fetcher.get(url).body == b"x" * 5000


# --------------------------------------------------------------------------- bad statuses


@pytest.mark.parametrize("status", [400, 403, 404, 410, 500, 502])
def test_error_status_names_status(server: MisbehavingServer, fetcher: HttpFetcher, status: int) -> None:
    url = server.add("/bad", Route(status=status, body=b"nope"))
    error = fail(fetcher, url)
    assert error.status == status
    assert f"HTTP {status}" in error.reason
    assert str(error).startswith(url)


def test_retry_after_is_kept(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/busy", Route(status=503, headers={"Retry-After": "120"}))
    assert fail(fetcher, url).retry_after == 120.0
    url = server.add("/slowdown", Route(status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    assert fail(fetcher, url).retry_after is None


def test_parse_retry_after() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(" 5 ") == 5.0
    assert parse_retry_after("-1") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --------------------------------------------------------------------------- network faults


def test_connection_refused(fetcher: HttpFetcher) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = fail(fetcher, f"http://127.0.0.1:{port}/feed")
    assert "cannot connect" in error.reason


def test_read_timeout_when_headers_never_come(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/stall", Route(body=b"late", stall=3.0))
    error = fail(fetcher, url)
    assert "read timeout" in error.reason


def test_slow_body_hits_the_deadline(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    # every chunk arrives within the read timeout, but the whole body would take 4 s
    url = server.add("/trickle", Route(body=b"y" * 20, chunk_size=1, chunk_delay=0.2))
    error = fail(fetcher, url)
    assert "slow server" in error.reason


def test_truncated_body(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/short", Route(body=b"<rss>" + b"z" * 500, length=5000))
    error = fail(fetcher, url)
    assert "truncated" in error.reason


def test_oversized_declared_length_is_refused_early(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/big", Route(body=b"b" * 100_000))
    error = fail(fetcher, url)
    assert "too large" in error.reason and "Content-Length 100000" in error.reason


def test_oversized_undeclared_body_is_cut(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/bigstream", Route(body=b"b" * 200_000, length="none", chunk_size=8192))
    error = fail(fetcher, url)
    assert "too large" in error.reason and "max_bytes=64000" in error.reason


def test_gzip_bomb_is_cut_after_decompression(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/bomb", Route(body=b"\0" * 5_000_000, gzip=True))
    error = fail(fetcher, url)
    assert "too large" in error.reason


def test_bad_gzip(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/badgz", Route(body=b"not gzip at all", headers={"Content-Encoding": "gzip"}))
    error = fail(fetcher, url)
    assert "Content-Encoding" in error.reason


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/feed", "http://[::1", "not a url"])
def test_unusable_urls(fetcher: HttpFetcher, url: str) -> None:
    error = fail(fetcher, url)
    assert error.url == url


# --------------------------------------------------------------------------- redirects


def test_redirects_are_followed(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    server.add("/a", Route(status=301, headers={"Location": "/b"}))
    server.add("/b", Route(status=302, headers={"Location": server.url("/c")}))
    server.add("/c", Route(body=b"<rss/>"))
    response = fetcher.get(server.url("/a"))
    assert response.body == b"<rss/>"
    assert response.url == server.url("/c")


def test_redirect_loop(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    server.add("/loop1", Route(status=302, headers={"Location": "/loop2"}))
    server.add("/loop2", Route(status=302, headers={"Location": "/loop1"}))
    error = fail(fetcher, server.url("/loop1"))
    assert "redirect loop" in error.reason
    assert len(server.requests_to("/loop1")) == 1


def test_too_many_redirects(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    for i in range(10):
        server.add(f"/hop{i}", Route(status=307, headers={"Location": f"/hop{i + 1}"}))
    error = fail(fetcher, server.url("/hop0"))
    assert "too many redirects" in error.reason
    assert not server.requests_to("/hop5")


def test_redirect_to_other_scheme_is_refused(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    server.add("/away", Route(status=301, headers={"Location": "file:///etc/passwd"}))
    assert "unsupported scheme" in fail(fetcher, server.url("/away")).reason


def test_redirect_without_location_is_an_error(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    server.add("/nowhere", Route(status=302))
    assert fail(fetcher, server.url("/nowhere")).status == 302


# --------------------------------------------------------------------------- conditional GET


def test_etag_then_304(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/etag", Route(body=b"<rss/>", etag='"v1"'))
    assert fetcher.get(url).body == b"<rss/>"
    second = fetcher.get(url)
    assert second.not_modified and second.status == 304 and second.body == b""
    assert server.requests_to("/etag")[1].headers["if-none-match"] == '"v1"'


def test_last_modified_then_304(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    stamp = "Mon, 06 May 2024 08:00:00 GMT"
    url = server.add("/lm", Route(body=b"<rss/>", last_modified=stamp))
    fetcher.get(url)
    assert fetcher.get(url).not_modified
    assert server.requests_to("/lm")[1].headers["if-modified-since"] == stamp


def test_validators_survive_export_and_import(server: MisbehavingServer, client: httpx.Client) -> None:
    url = server.add("/persist", Route(body=b"<rss/>", etag='"abc"'))
    first = HttpFetcher(client, FAST)
    first.get(url)
    exported = first.state.to_dict()
    assert exported == {url: {"etag": '"abc"', "digest": hashlib.sha256(b"<rss/>").hexdigest()}}
    restarted = HttpFetcher(client, FAST, ConditionalState.from_dict(exported))
    assert restarted.get(url).not_modified


def test_same_body_without_validators_counts_as_not_modified(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/static", Route(body=b"<rss>v1</rss>"))
    assert fetcher.get(url).body == b"<rss>v1</rss>"
    again = fetcher.get(url)
    assert again.not_modified and again.status == 200 and again.body == b""
    server.add("/static", Route(body=b"<rss>v2</rss>"))
    assert fetcher.get(url).body == b"<rss>v2</rss>"
    assert fetcher.get(url, conditional=False).body == b"<rss>v2</rss>"


def test_unconditional_get_sends_no_validators(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/uncond", Route(body=b"<rss/>", etag='"v1"'))
    fetcher.get(url)
    assert fetcher.get(url, conditional=False).body == b"<rss/>"
    assert "if-none-match" not in server.requests_to("/uncond")[1].headers


def test_state_forgets_validators_when_server_stops_sending_them() -> None:
    state = ConditionalState()
    state.remember("u", {"etag": '"1"', "last-modified": "x"})
    assert state.get("u") == Validators('"1"', "x")
    state.remember("u", {})
    assert state.get("u") is None
    assert ConditionalState.from_dict({"u": "junk", "v": {"etag": 3}}).to_dict() == {"v": {}}  # type: ignore[dict-item]


def test_mock_transport_sees_conditional_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("if-none-match") == '"x"':
            return httpx.Response(304)
        return httpx.Response(200, headers={"ETag": '"x"'}, content=b"<rss/>")

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        fetcher = HttpFetcher(client, FAST)
        assert fetcher.get("https://feeds.example/rss").body == b"<rss/>"
        assert fetcher.get("https://feeds.example/rss").not_modified
    assert len(seen) == 2


def test_per_call_policy_overrides(server: MisbehavingServer, fetcher: HttpFetcher) -> None:
    url = server.add("/mid", Route(body=b"m" * 10_000))
    assert len(fetcher.get(url).body) == 10_000
    with pytest.raises(FetchError, match="too large"):
        fetcher.get(url, policy=FetchPolicy(max_bytes=1000))


@pytest.mark.parametrize(
    "kwargs",
    [{"connect_timeout": 0}, {"read_timeout": -1}, {"max_bytes": 0}, {"max_redirects": -1}],
)
def test_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="FetchPolicy"):
        FetchPolicy(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- backoff


def test_backoff_grows_and_caps() -> None:
    backoff = Backoff(factor=2, max_delay=timedelta(minutes=30), jitter=0)
    rng = random.Random(1)
    interval = timedelta(minutes=5)
    delays = [backoff.delay(n, interval, rng) for n in range(6)]
    assert delays[:3] == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20)]
    assert delays[3:] == [timedelta(minutes=30)] * 3
    assert backoff.delay(10_000, interval, rng) == timedelta(minutes=30)


def test_backoff_never_shortens_a_long_interval() -> None:
    backoff = Backoff(max_delay=timedelta(minutes=10), jitter=0)
    assert backoff.delay(3, timedelta(hours=1), random.Random(0)) == timedelta(hours=1)


def test_backoff_jitter_stays_in_bounds_and_is_reproducible() -> None:
    backoff = Backoff(jitter=0.2)
    interval = timedelta(seconds=100)
    delays = [backoff.delay(1, interval, random.Random(seed)) for seed in range(200)]
    assert all(timedelta(seconds=160) <= d <= timedelta(seconds=240) for d in delays)
    assert len(set(delays)) > 100
    assert backoff.delay(1, interval, random.Random(7)) == backoff.delay(1, interval, random.Random(7))


def test_backoff_respects_retry_after() -> None:
    backoff = Backoff(jitter=0)
    delay = backoff.delay(1, timedelta(seconds=60), random.Random(0), retry_after=600)
    assert delay == timedelta(seconds=600)


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Backoff(factor=0.5)
    with pytest.raises(ValueError):
        Backoff(jitter=1.5)


def test_interval_jitter() -> None:
    rng = random.Random(3)
    values = [jittered(timedelta(minutes=10), rng, 0.1) for _ in range(100)]
    assert all(timedelta(minutes=9) <= v <= timedelta(minutes=11) for v in values)
    assert jittered(timedelta(minutes=10), rng, 0) == timedelta(minutes=10)
