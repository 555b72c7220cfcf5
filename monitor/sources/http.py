"""The robust HTTP layer under every polled source.

``HttpFetcher.get(url)`` does one conditional GET with an injected ``httpx.Client``: it
sends the ETag / Last-Modified it remembered for that URL, follows a bounded number of
redirects itself (so loops are named as loops; to another host only when the policy allows),
streams the body under a size cap and a total deadline, and either returns a
``FetchResponse`` or raises ``FetchError(url, reason)``. With a client from
``monitor.sources.outbound`` the deadline covers every step (DNS, connect, headers, body)
whatever the server does; with another client, only the body is checked against it.
It never reads the wall clock: the deadline uses an injected monotonic function.

``Backoff`` and ``jittered`` are pure delay arithmetic for the scheduler.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import httpx

from monitor.clock import monotonic
from monitor.http.retry import exponential
from monitor.http.retry import parse_retry_after as parse_retry_after  # sources import it from here
from monitor.sources.outbound import deadline as deadline_block

DEFAULT_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)

# Headers that describe the transfer, not the decoded body we hand on.
_TRANSFER_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits for one fetch. Timeouts and deadline in seconds; ``max_bytes`` of decoded body.

    ``deadline`` bounds the whole fetch (all redirects, headers and body), so a server that
    trickles a byte per second cannot hold a worker forever. ``allow_cross_host_redirects``:
    follow a redirect to another host (by default only to the same host or its subdomains).
    """

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline: float = 60.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    allow_cross_host_redirects: bool = False
    user_agent: str = "crisismon/0.1 (+https://github.com/crisismon; feed poller)"
    accept: str = DEFAULT_ACCEPT

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "deadline"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FetchPolicy.{name} must be > 0 (got {getattr(self, name)})")
        if self.max_bytes <= 0:
            raise ValueError(f"FetchPolicy.max_bytes must be > 0 (got {self.max_bytes})")
        if self.max_redirects < 0:
            raise ValueError(f"FetchPolicy.max_redirects must be >= 0 (got {self.max_redirects})")

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.read_timeout,
            pool=self.connect_timeout,
        )


class FetchError(Exception):
    """A fetch that produced no usable body.

    ``reason`` says what went wrong in words an admin can act on; ``status`` is the HTTP
    status when there was one; ``retry_after`` (seconds) when the server asked for a pause.
    """

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.url = url
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"{url}: {reason}")


@dataclass(frozen=True, slots=True)
class FetchResponse:
    """A completed fetch. ``headers`` have lower-case names and describe the decoded body.

    ``url`` is the final URL after redirects. ``not_modified`` is True for a 304, and for
    a 200 whose body is byte-identical to the last one; the body is then empty.
    """

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    not_modified: bool = False


@dataclass(frozen=True, slots=True)
class Validators:
    """What we know of a URL's last version.

    ``etag`` / ``last_modified`` go back to the server as If-None-Match /
    If-Modified-Since. ``digest`` (SHA-256 of the last body) catches servers that send no
    validators but the same bytes again: such a 200 is reported as not modified too.
    """

    etag: str | None = None
    last_modified: str | None = None
    digest: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def to_dict(self) -> dict[str, str]:
        fields = (("etag", self.etag), ("last_modified", self.last_modified), ("digest", self.digest))
        return {k: v for k, v in fields if v}


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class ConditionalState:
    """Validators per URL; thread-safe; exported as a plain dict for the store."""

    def __init__(self, entries: Mapping[str, Validators] | None = None) -> None:
        self._entries: dict[str, Validators] = dict(entries or {})
        self._lock = threading.Lock()

    def get(self, url: str) -> Validators | None:
        with self._lock:
            return self._entries.get(url)

    def remember(self, url: str, headers: Mapping[str, str], body: bytes | None = None) -> None:
        """Keep what a 200 response said about its version (replacing what was known)."""
        found = Validators(
            headers.get("etag") or None,
            headers.get("last-modified") or None,
            body_digest(body) if body is not None else None,
        )
        with self._lock:
            if found.etag or found.last_modified or found.digest:
                self._entries[url] = found
            else:
                self._entries.pop(url, None)

    def forget(self, url: str) -> None:
        with self._lock:
            self._entries.pop(url, None)

    def to_dict(self) -> dict[str, dict[str, str]]:
        with self._lock:
            return {url: val.to_dict() for url, val in self._entries.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> ConditionalState:
        """Inverse of ``to_dict``; values that are not strings are dropped."""
        entries: dict[str, Validators] = {}
        for url, val in data.items():
            if not isinstance(url, str) or not isinstance(val, Mapping):
                continue
            etag, modified, digest = (val.get(k) for k in ("etag", "last_modified", "digest"))
            entries[url] = Validators(
                etag if isinstance(etag, str) else None,
                modified if isinstance(modified, str) else None,
                digest if isinstance(digest, str) else None,
            )
        return cls(entries)


class HttpFetcher:
    """Conditional GETs with bounded redirects, timeouts, a size cap and a deadline.

    The client is injected (tests pass one over ``httpx.MockTransport`` or point it at a
    local server); its own redirect setting is ignored because redirects are followed
    here. One fetcher may be shared by many threads.
    """

    def __init__(
        self,
        client: httpx.Client,
        policy: FetchPolicy | None = None,
        state: ConditionalState | None = None,
        *,
        monotonic: Callable[[], float] = monotonic,
    ) -> None:
        self.client = client
        self.policy = policy or FetchPolicy()
        self.state = state if state is not None else ConditionalState()
        self._monotonic = monotonic

    def get(self, url: str, *, policy: FetchPolicy | None = None, conditional: bool = True) -> FetchResponse:
        """GET ``url``; raise ``FetchError`` on failure.

        With ``conditional`` (the default) the URL's validators are sent and updated, and
        ``not_modified`` is set for a 304 or for a body identical to the last one.
        """
        pol = policy or self.policy
        validators = self.state.get(url) if conditional else None
        headers = {"User-Agent": pol.user_agent, "Accept": pol.accept}
        if validators is not None:
            headers.update(validators.request_headers())
        started = self._monotonic()
        try:
            with deadline_block(pol.deadline):
                response = self._follow(url, headers, pol)
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            if self._monotonic() - started >= pol.deadline:
                raise FetchError(url, f"no complete answer within the deadline of {pol.deadline:g}s") from exc
            raise FetchError(url, _timeout_reason(exc, pol)) from exc
        except httpx.RemoteProtocolError as exc:
            raise FetchError(url, f"connection closed mid-response (truncated body?): {exc}") from exc
        except httpx.DecodingError as exc:
            raise FetchError(url, f"cannot decode the body's Content-Encoding: {exc}") from exc
        except httpx.UnsupportedProtocol as exc:
            raise FetchError(url, f"unsupported URL scheme (use http or https): {exc}") from exc
        except httpx.ConnectError as exc:
            raise FetchError(url, f"cannot connect: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"{type(exc).__name__}: {exc}") from exc
        except (httpx.InvalidURL, ValueError) as exc:
            raise FetchError(url, f"invalid URL: {exc}") from exc
        if not conditional or response.not_modified:
            return response
        if validators is not None and validators.digest == body_digest(response.body):
            return replace(response, body=b"", not_modified=True)  # same bytes as last time
        self.state.remember(url, response.headers, response.body)
        return response

    def _follow(self, url: str, headers: dict[str, str], pol: FetchPolicy) -> FetchResponse:
        started = self._monotonic()
        current = httpx.URL(url)
        seen = {str(current)}
        for _hop in range(pol.max_redirects + 1):
            with self.client.stream(
                "GET", current, headers=headers, timeout=pol.timeout(), follow_redirects=False
            ) as resp:
                if resp.status_code in _REDIRECT_STATUSES and "location" in resp.headers:
                    current = _redirect_target(url, current, resp.headers["location"], seen)
                    if not pol.allow_cross_host_redirects and not _same_site(httpx.URL(url).host, current.host):
                        raise FetchError(
                            url,
                            f"redirect to another host ({current.host}) refused; set "
                            "allow_cross_host_redirects: true on the source to follow it",
                        )
                    continue
                return self._complete(url, resp, pol, started)
        raise FetchError(url, f"too many redirects (more than {pol.max_redirects})")

    def _complete(self, url: str, resp: httpx.Response, pol: FetchPolicy, started: float) -> FetchResponse:
        status = resp.status_code
        headers = {k: v for k, v in resp.headers.items() if k not in _TRANSFER_HEADERS}
        if status == 304:
            return FetchResponse(str(resp.url), status, headers, not_modified=True)
        if status >= 300:
            raise FetchError(
                url,
                f"HTTP {status} {resp.reason_phrase}".rstrip(),
                status=status,
                retry_after=parse_retry_after(resp.headers.get("retry-after")),
            )
        body = self._read_capped(url, resp, pol, started)
        return FetchResponse(str(resp.url), status, headers, body)

    def _read_capped(self, url: str, resp: httpx.Response, pol: FetchPolicy, started: float) -> bytes:
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > pol.max_bytes:
            raise FetchError(url, _too_large(pol, f"Content-Length {declared}"))
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > pol.max_bytes:
                raise FetchError(url, _too_large(pol, f"more than {pol.max_bytes} bytes"))
            chunks.append(chunk)
            if self._monotonic() - started > pol.deadline:
                raise FetchError(url, f"body still arriving after {pol.deadline:g}s (slow server)")
        return b"".join(chunks)


def _redirect_target(origin: str, current: httpx.URL, location: str, seen: set[str]) -> httpx.URL:
    try:
        target = current.join(location)
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchError(origin, f"bad redirect Location {location!r}: {exc}") from exc
    if target.scheme not in ("http", "https"):
        raise FetchError(origin, f"redirect to unsupported scheme: {location!r}")
    if str(target) in seen:
        raise FetchError(origin, f"redirect loop at {target}")
    seen.add(str(target))
    return target


def _same_site(origin: str, target: str) -> bool:
    """Whether ``target`` is ``origin`` or one of its subdomains."""
    origin, target = origin.lower().rstrip("."), target.lower().rstrip(".")
    return target == origin or target.endswith("." + origin)


def _timeout_reason(exc: httpx.TimeoutException, pol: FetchPolicy) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timeout after {pol.connect_timeout:g}s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"read timeout: no data for {pol.read_timeout:g}s"
    if isinstance(exc, httpx.PoolTimeout):
        return f"no free connection within {pol.connect_timeout:g}s"
    return f"timeout: {exc}"


def _too_large(pol: FetchPolicy, found: str) -> str:
    return f"response too large ({found}; the cap is max_bytes={pol.max_bytes})"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff after consecutive failures, capped, with proportional jitter.

    ``delay(0, interval, rng)`` is the jittered normal interval; after ``n`` failures the
    delay is ``interval * factor**n`` capped at ``max_delay``, then multiplied by a random
    factor in ``[1 - jitter, 1 + jitter]``. A server's Retry-After is a floor.
    """

    factor: float = 2.0
    max_delay: timedelta = field(default=timedelta(hours=1))
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.factor < 1:
            raise ValueError(f"Backoff.factor must be >= 1 (got {self.factor})")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"Backoff.jitter must be in [0, 1) (got {self.jitter})")
        if self.max_delay <= timedelta(0):
            raise ValueError(f"Backoff.max_delay must be positive (got {self.max_delay})")

    def delay(
        self,
        failures: int,
        interval: timedelta,
        rng: random.Random,
        *,
        retry_after: float | None = None,
    ) -> timedelta:
        base = interval.total_seconds()
        if failures > 0:
            base = exponential(base, failures, self.max_delay.total_seconds(), self.factor)
        seconds = base * rng.uniform(1 - self.jitter, 1 + self.jitter)
        if retry_after is not None:
            seconds = max(seconds, retry_after)
        return timedelta(seconds=seconds)


def jittered(interval: timedelta, rng: random.Random, fraction: float = 0.1) -> timedelta:
    """``interval`` spread by up to ``fraction`` either way, so sources do not poll in step."""
    if not 0 <= fraction < 1:
        raise ValueError(f"jitter fraction must be in [0, 1) (got {fraction})")
    return interval * rng.uniform(1 - fraction, 1 + fraction)
