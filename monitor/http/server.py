"""A small hardened HTTP server on the standard library: the API, the demo and the test servers.

``HttpServer(app, host, port, limits)`` serves ``app(Request) -> Reply`` from a thread per
connection, one request per connection (HTTP/1.0 style: ``Connection: close``), and refuses
what would let a client hold the daemon:

- the request line and headers must arrive within ``header_timeout`` seconds in total, the
  body within ``body_timeout``, the reply leave within ``write_timeout`` (a client sending a
  byte a second is cut off at the deadline, not at each pause);
- ``Content-Length`` must be a plain decimal number (else 400) no larger than ``max_body``
  (else 413): both answered without reading the body; ``Transfer-Encoding`` is refused (411);
- at most ``max_connections`` connections are served at once; the next ones get a 503 with
  ``Retry-After`` and are closed at once; the listen backlog is ``backlog``;
- ``close()`` stops accepting at once (the accept loop wakes every 50 ms), gives requests in
  progress ``grace`` seconds, then shuts their sockets: it returns within about 0.1 s.

Why not an ASGI server: the daemon is synchronous (threads, a DB-API connection), the API is
a handful of small JSON endpoints, and the standard library keeps the install small; the web
console planned on top of the API reuses this helper (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import socketserver
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from monitor.clock import monotonic

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.05  # seconds: how often the accept loop checks for a shutdown
MAX_LENGTH_DIGITS = 15  # a Content-Length longer than this is absurd: 413 without parsing it
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 34\r\nConnection: close\r\n\r\ntoo many connections; retry later\n"
)


@dataclass(frozen=True, slots=True)
class Limits:
    """What one client may take. Times in seconds, sizes in bytes."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    write_timeout: float = 30.0
    max_body: int = 1_000_000
    max_connections: int = 64
    backlog: int = 128

    def __post_init__(self) -> None:
        for name in ("header_timeout", "body_timeout", "write_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be > 0 (got {getattr(self, name)})")
        for name in ("max_body", "max_connections", "backlog"):
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be >= 1 (got {getattr(self, name)})")


@dataclass(frozen=True, slots=True)
class Request:
    """One request: ``path`` is the raw request target (path and query, still %-encoded)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    client: str = ""

    def header(self, name: str) -> str:
        """A header's value by case-insensitive name; "" when absent."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)


App = Callable[[Request], Reply]
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class _DeadlineReader(io.RawIOBase):
    """Reads a socket until ``deadline`` (a monotonic time), however the bytes trickle in."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - monotonic()
        if remaining <= 0:
            raise TimeoutError("the client is too slow")
        self.sock.settimeout(remaining)
        return self.sock.recv_into(buffer)


class HttpServer:
    """Serves ``app`` on ``host:port`` (port 0: a free one) in background threads."""

    def __init__(
        self, app: App, host: str = "127.0.0.1", port: int = 0, limits: Limits | None = None, *, name: str = "http"
    ) -> None:
        self.app = app
        self.limits = limits or Limits()
        self.name = name
        self._server = _Server((host, port), _handler_for(self), self.limits)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, name=name, daemon=True
        )

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> HttpServer:
        if not self._thread.is_alive():
            self._thread.start()
        return self

    def close(self, grace: float = 0.05) -> None:
        """Stop accepting, give requests in progress ``grace`` seconds, then cut them off."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._server.drain(grace)

    def active_connections(self) -> int:
        return self._server.active()

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], limits: Limits) -> None:
        self.limits = limits
        self.request_queue_size = limits.backlog
        self._active: set[socket.socket] = set()
        self._active_lock = threading.Lock()
        self._idle = threading.Condition(self._active_lock)
        super().__init__(address, handler)

    def server_bind(self) -> None:  # HTTPServer's reverse DNS lookup of the host can take seconds
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._active_lock:
            busy = len(self._active) >= self.limits.max_connections
            if not busy:
                self._active.add(request)
        if busy:
            _refuse(request)
            self.shutdown_request(request)
            return
        threading.Thread(target=self._serve, args=(request, client_address), daemon=True).start()

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._active_lock:
                self._active.discard(request)
                self._idle.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def active(self) -> int:
        with self._active_lock:
            return len(self._active)

    def drain(self, grace: float) -> None:
        end = monotonic() + grace
        with self._active_lock:
            while self._active and (left := end - monotonic()) > 0:
                self._idle.wait(left)
            remaining = list(self._active)
        for sock in remaining:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _refuse(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setblocking(False)
        sock.send(_BUSY)


def _handler_for(server: HttpServer) -> type[BaseHTTPRequestHandler]:
    limits = server.limits

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def version_string(self) -> str:
            return "crisismon"

        def setup(self) -> None:
            super().setup()
            self._reader = _DeadlineReader(self.connection, monotonic() + limits.header_timeout)
            self.rfile = io.BufferedReader(self._reader)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def _serve(self) -> None:
            self.close_connection = True
            if self.headers.get("Transfer-Encoding"):
                self._send(Reply(411, b"send the body with a Content-Length, not a Transfer-Encoding\n"))
                return
            length, problem = _content_length(self.headers.get_all("Content-Length") or [], limits.max_body)
            if problem is not None:
                self._send(problem)
                return
            self._reader.deadline = monotonic() + limits.body_timeout
            try:
                body = self.rfile.read(length) if length else b""
            except TimeoutError:
                self._send(Reply(408, f"the body did not arrive within {limits.body_timeout:g}s\n".encode()))
                return
            if len(body) < length:
                return  # the client hung up mid-body
            request = Request(self.command, self.path, dict(self.headers.items()), body, self.client_address[0])
            try:
                reply = server.app(request)
            except Exception:
                log.exception("%s: %s %s failed", server.name, self.command, self.path[:200])
                reply = Reply(500, b"internal error; see the server's log\n")
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            self.connection.settimeout(limits.write_timeout)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.send_header("Connection", "close")
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)
            except OSError:  # the client left or does not read
                self.close_connection = True

    for method in METHODS:
        setattr(Handler, f"do_{method}", Handler._serve)
    return Handler


def _content_length(values: list[str], max_body: int) -> tuple[int, Reply | None]:
    """The body's length, or the reply refusing the request (400/413) before reading it."""
    if not values:
        return 0, None
    distinct = {v.strip() for v in values}
    if len(distinct) > 1:
        return 0, Reply(400, b"conflicting Content-Length headers\n")
    raw = distinct.pop()
    if not raw.isascii() or not raw.isdigit():
        return 0, Reply(400, f"Content-Length must be a whole number of bytes, found {raw[:20]!r}\n".encode())
    if len(raw) > MAX_LENGTH_DIGITS or int(raw) > max_body:
        return 0, Reply(413, f"the body may be at most {max_body} bytes; Content-Length says {raw[:20]}\n".encode())
    return int(raw), None


# A reply of the JSON API and the console (monitor.http.api, monitor.http.silences, monitor.web).
@dataclass(frozen=True)
class Response:
    status: int
    body: Any = None
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.content_type == "application/json":
            return json.dumps(self.body, ensure_ascii=False, default=str).encode("utf-8")
        if isinstance(self.body, bytes):
            return self.body
        return str(self.body or "").encode("utf-8")


def error(status: int, message: str, **extra: Any) -> Response:
    return Response(status, {"error": message, **extra})
