"""Outbound HTTP that peers cannot hold or misdirect: a total deadline and an address policy.

Every source gets an ``httpx.Client`` from :meth:`Outbound.client`. Under it, a network
backend of our own does what httpx's per-operation timeouts cannot:

- **a total deadline per request** (DNS, connect, TLS, request, headers, body): each socket
  operation may take only what is left of it, so a server sending its headers a line a
  second, or never answering, is cut off at the deadline (``deadline(seconds)`` sets one for
  a block of requests, e.g. a fetch with its redirects; else each request gets the client's);
- **an address policy** checked on the addresses a name resolves to, at connect time (so a
  DNS answer cannot slip past it): loopback, link-local (169.254.0.0/16, fe80::/10), private
  and other non-public addresses are refused, unless the source's own configured URL is
  such an address (a feed on 127.0.0.1 or an intranet CRM) or the source's allow-list names
  the host or a network holding the address (``AddressPolicy``);
- **abort**: :meth:`Outbound.abort` (the daemon stopping) fails every request in flight at
  once, so that SIGTERM never waits on a peer.

Proxies from the environment are not used for sources (the policy needs the real peer).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from monitor.clock import monotonic

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_local = threading.local()


# -- deadlines ------------------------------------------------------------------------------


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Requests made by this thread in the block must complete within ``seconds`` in total.

    Nested blocks keep the earlier end. Yields the end (a monotonic time).
    """
    with _until(monotonic() + seconds) as end:
        yield end


@contextlib.contextmanager
def _until(end: float) -> Iterator[float]:
    previous: float | None = getattr(_local, "end", None)
    _local.end = end if previous is None else min(previous, end)
    try:
        yield _local.end
    finally:
        _local.end = previous


def _active_end() -> float | None:
    return getattr(_local, "end", None)


class DeadlineExceeded(httpcore.ReadTimeout):
    """The request's total deadline passed (a subclass of a timeout, for httpx's mapping)."""


# -- the address policy ---------------------------------------------------------------------


def is_special(ip: IPAddress) -> bool:
    """Loopback, link-local, private, shared, reserved, multicast...: anything not public."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class AddressPolicy:
    """Which addresses one source may connect to.

    ``home``: the host of the source's configured URL. Public addresses are always allowed.
    A non-public one is allowed when the home host is a literal non-public address or
    ``localhost`` (and the request goes to that host), when the home host's name resolved
    only to non-public addresses the first time it was looked up (an intranet source), or
    when ``allow`` names the host or a network (CIDR) that holds the address.
    """

    def __init__(self, home: str, allow: Iterable[str] = ()) -> None:
        self.home = home.lower().strip("[]")
        self.names: set[str] = set()
        self.networks: list[IPNetwork] = []
        for entry in allow:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self.names.add(entry.strip().lower().rstrip("."))
        literal = _literal(self.home)
        self._home_internal: bool | None = (
            True if self.home == "localhost" or (literal is not None and is_special(literal)) else None
        )
        self._lock = threading.Lock()

    @classmethod
    def open(cls) -> AddressPolicy:
        """A policy that allows everything (tests, tools run by hand)."""
        return cls("", ["0.0.0.0/0", "::/0"])

    def check(self, host: str, addresses: Sequence[IPAddress]) -> list[IPAddress]:
        """The addresses of ``host`` that may be used; raise ConnectError when none may."""
        host = host.lower().strip("[]").rstrip(".")
        if host == self.home:
            with self._lock:
                if self._home_internal is None:
                    self._home_internal = bool(addresses) and all(is_special(a) for a in addresses)
                home_internal = self._home_internal
        else:
            home_internal = False
        allowed = [a for a in addresses if self._allows(host, a, home_internal)]
        if not allowed:
            shown = ", ".join(str(a) for a in addresses[:3])
            raise httpcore.ConnectError(
                f"{host} resolves to {shown}, a loopback, link-local or private address this source may not "
                f"reach (the source's allow_addresses can name the host or its network)"
            )
        return allowed

    def _allows(self, host: str, ip: IPAddress, home_internal: bool) -> bool:
        if not is_special(ip) or home_internal or host in self.names:
            return True
        plain = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
        return any(plain in net for net in self.networks if net.version == plain.version)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


# -- the network backend ---------------------------------------------------------------------


class Outbound:
    """The daemon's outbound HTTP: makes each source's client, aborts them all when stopping."""

    def __init__(self) -> None:
        self._streams: weakref.WeakSet[_DeadlineStream] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._clients: list[httpx.Client] = []
        self.aborted = threading.Event()
        self._ssl: ssl.SSLContext | None = None

    def client(self, policy: AddressPolicy, total: float, *, timeout: httpx.Timeout | None = None) -> httpx.Client:
        """A client for one source: ``total`` seconds per request unless a ``deadline`` block says less."""
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        transport = GuardedTransport(self, policy, total, ssl_context=self._ssl)
        client = httpx.Client(transport=transport, timeout=timeout or httpx.Timeout(total), follow_redirects=False)
        with self._lock:
            self._clients.append(client)
        return client

    def abort(self) -> None:
        """Fail every request in flight now, and every later one (the daemon is stopping)."""
        self.aborted.set()
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.cut()

    def close(self) -> None:
        self.abort()
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(Exception):
                client.close()

    def _track(self, stream: _DeadlineStream) -> None:
        with self._lock:
            self._streams.add(stream)

    def budget(self, timeout: float | None, *, connecting: bool = False) -> float:
        """The time the next operation may take: its own timeout, at most what the deadline leaves."""
        if self.aborted.is_set():
            raise (httpcore.ConnectError if connecting else httpcore.ReadError)("the daemon is stopping")
        end = _active_end()
        if end is None:
            return timeout if timeout is not None else 3600.0
        left = end - monotonic()
        if left <= 0:
            if connecting:
                raise httpcore.ConnectTimeout("the request's deadline passed before it could connect")
            raise DeadlineExceeded("the request's deadline passed")
        return min(timeout, left) if timeout is not None else left


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, outbound: Outbound, policy: AddressPolicy) -> None:
        self.outbound = outbound
        self.policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve(host, port, self.outbound.budget(timeout, connecting=True))
        error: Exception | None = None
        for ip in self.policy.check(host, addresses):
            try:
                stream = self._inner.connect_tcp(
                    str(ip), port, self.outbound.budget(timeout, connecting=True), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            guarded = _DeadlineStream(stream, self.outbound)
            self.outbound._track(guarded)
            return guarded
        assert error is not None
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by sources")

    def sleep(self, seconds: float) -> None:
        self.outbound.aborted.wait(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, outbound: Outbound) -> None:
        self.inner = inner
        self.outbound = outbound

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, self.outbound.budget(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.outbound.budget(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self.inner.start_tls(ssl_context, server_hostname, self.outbound.budget(timeout, connecting=True))
        guarded = _DeadlineStream(tls, self.outbound)
        self.outbound._track(guarded)
        return guarded

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)

    def cut(self) -> None:
        """Wake a read blocked on this connection (abort)."""
        sock = self.inner.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    """The addresses of ``host`` within ``timeout`` seconds (getaddrinfo has no timeout of its own)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    found: list[Any] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            found.append(exc)
        finally:
            done.set()

    threading.Thread(target=lookup, name="dns", daemon=True).start()
    if not done.wait(timeout):
        raise httpcore.ConnectTimeout(f"DNS lookup of {host} took longer than {timeout:.3g}s")
    result = found[0]
    if isinstance(result, OSError):
        raise httpcore.ConnectError(f"cannot resolve {host}: {result}")
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in result:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    return addresses


# -- the transport ---------------------------------------------------------------------------


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over the guarded backend; each request within ``total`` seconds."""

    def __init__(self, outbound: Outbound, policy: AddressPolicy, total: float, *, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        self.total = total
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=httpx.Limits().max_connections,
            max_keepalive_connections=httpx.Limits().max_keepalive_connections,
            keepalive_expiry=httpx.Limits().keepalive_expiry,
            network_backend=_GuardedBackend(outbound, policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        end = _active_end()
        if end is not None:  # an enclosing deadline block covers the body too
            return super().handle_request(request)
        with _until(monotonic() + self.total) as end:
            response = super().handle_request(request)
        response.stream = _ScopedStream(response.stream, end)
        return response


@dataclass
class _ScopedStream(httpx.SyncByteStream):
    """A response body read under the deadline its request started with."""

    inner: Any
    end: float

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self.inner)
        while True:
            with _until(self.end):
                try:
                    chunk = next(chunks)
                except StopIteration:
                    return
            yield chunk

    def close(self) -> None:
        self.inner.close()
