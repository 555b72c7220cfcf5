"""Outbound address policy and redirects (issue 13, point 8), with local servers only.

A source may reach its own configured host (here 127.0.0.1, so local test feeds keep
working); a redirect to another host is refused unless ``allow_cross_host_redirects``; an
address that is loopback, link-local or private is refused for any other host unless
``allow_addresses`` names it. The link-local metadata address is refused before any
connection is tried.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpcore
import pytest

from monitor.app import build_sources
from monitor.config.settings import AppConfig
from monitor.errors import ConfigError
from monitor.http.server import HttpServer, Reply, Request
from monitor.sources.outbound import AddressPolicy, is_special
from monitor.testing import FakeClock

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>a</title><guid>1</guid><pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate></item>"
    b"</channel></rss>"
)


def feed(request: Request) -> Reply:
    return Reply(200, RSS, "application/rss+xml")


@pytest.fixture
def other_host() -> Iterator[HttpServer]:
    """A feed on 127.0.0.2: loopback too, but another host than the sources' 127.0.0.1."""
    with HttpServer(feed, "127.0.0.2") as server:
        yield server


def redirecting_to(target: str) -> HttpServer:
    return HttpServer(lambda r: Reply(302, b"", headers={"Location": target}), "127.0.0.1").start()


def fetch(url: str, **extra: object) -> tuple[int, list[str]]:
    config = AppConfig.model_validate({"sources": [{"type": "rss", "name": "s", "url": url, **extra}]})
    result = build_sources(config.sources)["s"].fetch(FakeClock().now())
    return len(result.items), result.errors


def test_a_source_on_its_own_loopback_host_works() -> None:
    with HttpServer(feed) as server:
        assert fetch(server.url + "/feed") == (1, [])


def test_a_redirect_to_another_host_is_refused_by_default(other_host: HttpServer) -> None:
    origin = redirecting_to(other_host.url + "/feed")
    try:
        items, errors = fetch(origin.url + "/feed")
    finally:
        origin.close()
    assert items == 0 and "redirect to another host (127.0.0.2) refused" in errors[0]


def test_a_cross_host_redirect_to_a_loopback_address_is_still_refused(other_host: HttpServer) -> None:
    origin = redirecting_to(other_host.url + "/feed")
    try:
        items, errors = fetch(origin.url + "/feed", allow_cross_host_redirects=True)
    finally:
        origin.close()
    assert items == 0 and "127.0.0.2 resolves to 127.0.0.2, a loopback, link-local or private address" in errors[0]


@pytest.mark.parametrize("allowed", ["127.0.0.2", "127.0.0.0/8"])
def test_the_allow_list_lets_it_through(other_host: HttpServer, allowed: str) -> None:
    origin = redirecting_to(other_host.url + "/feed")
    try:
        assert fetch(origin.url + "/feed", allow_cross_host_redirects=True, allow_addresses=[allowed]) == (1, [])
    finally:
        origin.close()


def test_a_redirect_to_the_cloud_metadata_address_never_connects() -> None:
    origin = redirecting_to("http://169.254.169.254/latest/meta-data/")
    try:
        items, errors = fetch(origin.url + "/feed", allow_cross_host_redirects=True)
    finally:
        origin.close()
    assert items == 0 and "169.254.169.254" in errors[0] and "link-local" in errors[0]


def test_a_redirect_to_a_subdomain_is_followed_but_not_to_a_parent() -> None:
    from monitor.sources.http import _same_site

    assert _same_site("example.com", "feeds.example.com")
    assert _same_site("example.com", "EXAMPLE.com.")
    assert not _same_site("feeds.example.com", "example.com")
    assert not _same_site("example.com", "badexample.com")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "224.0.0.1",
    ],
)
def test_special_addresses_are_refused_for_a_public_source(address: str) -> None:
    policy = AddressPolicy("feeds.example.com")
    ip = ipaddress.ip_address(address)
    assert is_special(ip)
    with pytest.raises(httpcore.ConnectError, match="loopback, link-local or private"):
        policy.check("evil.example.net", [ip])


def test_public_addresses_pass_and_mixed_answers_keep_only_the_public_ones() -> None:
    policy = AddressPolicy("feeds.example.com")
    public, private = ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.1")
    assert policy.check("cdn.example.net", [public]) == [public]
    assert policy.check("cdn.example.net", [private, public]) == [public]


def test_a_public_home_that_later_resolves_to_a_private_address_is_refused() -> None:
    """DNS rebinding: the first answer decides whether the configured host is an intranet one."""
    policy = AddressPolicy("feeds.example.com")
    policy.check("feeds.example.com", [ipaddress.ip_address("93.184.216.34")])
    with pytest.raises(httpcore.ConnectError):
        policy.check("feeds.example.com", [ipaddress.ip_address("10.0.0.7")])


def test_an_intranet_home_may_use_its_private_addresses() -> None:
    policy = AddressPolicy("crm.corp.local")
    ip = ipaddress.ip_address("10.20.0.5")
    assert policy.check("crm.corp.local", [ip]) == [ip]
    with pytest.raises(httpcore.ConnectError):
        policy.check("other.corp.local", [ipaddress.ip_address("10.20.0.6")])


def test_a_malformed_allow_list_entry_is_a_config_problem(tmp_path: object) -> None:
    from pathlib import Path

    from monitor.config.settings import load_config

    path = Path(str(tmp_path)) / "c.yaml"
    path.write_text(
        "sources:\n  - {type: rss, name: s, url: 'http://x/', allow_addresses: ['10.0.0.0/8', 'a b']}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "allow_addresses" in str(caught.value) and ":2:" in str(caught.value)
