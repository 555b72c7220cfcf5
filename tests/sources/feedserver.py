"""A local HTTP server that misbehaves on request: slow, truncated, oversized, looping.

Imported by the tests as ``feedserver`` (a unique name: every ``conftest`` is called
``conftest``); ``conftest.py`` turns it into the ``server`` fixture.

``server.add(path, Route(...))`` decides what ``server.url(path)`` answers. Only 127.0.0.1;
every sleep waits on a stop event, so teardown never hangs on a slow route.
"""

from __future__ import annotations

import gzip
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal


@dataclass
class Route:
    """One canned answer.

    ``stall``: seconds before the status line (a read timeout). ``chunk_size`` and
    ``chunk_delay``: send the body in pieces with pauses (a slow body). ``length``: the
    Content-Length to claim ("auto": the true one; a number larger than the body makes a
    truncated body; "none": no Content-Length, the connection closes after the body). ``gzip``: compress.
    ``etag`` / ``last_modified``: answer 304 to a matching conditional request.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0
    chunk_size: int = 0
    chunk_delay: float = 0.0
    length: int | Literal["auto", "none"] = "auto"
    gzip: bool = False
    etag: str | None = None
    last_modified: str | None = None


Handler = Callable[[BaseHTTPRequestHandler], None]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:  # skip HTTPServer's reverse DNS lookup (slow)
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early are what these tests are about


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class MisbehavingServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route | Handler] = {}
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self.httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, route: Route | Handler) -> str:
        self.routes[path] = route
        return self.url(path)

    def record(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.seen.append(Seen(path, headers))

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def start(self) -> MisbehavingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


def _make_handler(server: MisbehavingServer) -> type[BaseHTTPRequestHandler]:
    class RouteHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (40 ms)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.record(self.path, {k.lower(): v for k, v in self.headers.items()})
            route = server.routes.get(self.path)
            if route is None:
                _send(self, Route(status=404, body=b"no such route"), server.stopping)
            elif isinstance(route, Route):
                _send(self, route, server.stopping)
            else:
                route(self)

    return RouteHandler


def _not_modified(req: BaseHTTPRequestHandler, route: Route) -> bool:
    etag_match = route.etag is not None and req.headers.get("If-None-Match") == route.etag
    date_match = route.last_modified is not None and req.headers.get("If-Modified-Since") == route.last_modified
    return etag_match or date_match


def _send(req: BaseHTTPRequestHandler, route: Route, stopping: threading.Event) -> None:
    if route.stall and stopping.wait(route.stall):
        return
    body = gzip.compress(route.body) if route.gzip else route.body
    status = 304 if _not_modified(req, route) else route.status
    if status == 304:
        body = b""
    req.send_response(status)
    for name, value in route.headers.items():
        req.send_header(name, value)
    if route.gzip:
        req.send_header("Content-Encoding", "gzip")
    if route.etag:
        req.send_header("ETag", route.etag)
    if route.last_modified:
        req.send_header("Last-Modified", route.last_modified)
    if route.length == "auto":
        req.send_header("Content-Length", str(len(body)))
    elif isinstance(route.length, int):
        req.send_header("Content-Length", str(route.length))
        req.close_connection = True
    else:
        req.send_header("Connection", "close")
        req.close_connection = True
    req.end_headers()
    _write_body(req, body, route, stopping)


def _write_body(req: BaseHTTPRequestHandler, body: bytes, route: Route, stopping: threading.Event) -> None:
    size = route.chunk_size or len(body) or 1
    try:
        for start in range(0, len(body), size):
            req.wfile.write(body[start : start + size])
            req.wfile.flush()
            if route.chunk_delay and stopping.wait(route.chunk_delay):
                return
    except (BrokenPipeError, ConnectionResetError):
        req.close_connection = True
