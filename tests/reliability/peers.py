"""Servers that misbehave at the socket level: they trickle, stall, or never stop sending headers.

Imported as ``peers`` helpers by the reliability tests. Each runs on 127.0.0.1 (or another
loopback address) and stops promptly: every wait is on the server's stop event.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType

Behaviour = Callable[[socket.socket, threading.Event], None]


def trickle_headers(sock: socket.socket, stop: threading.Event) -> None:
    """A status line, then one header line every 0.1 s, for ever."""
    _read_request(sock)
    sock.sendall(b"HTTP/1.1 200 OK\r\n")
    i = 0
    while not stop.wait(0.1):
        sock.sendall(f"X-Slow-{i}: y\r\n".encode())
        i += 1


def never_answer(sock: socket.socket, stop: threading.Event) -> None:
    """Accept, read the request, say nothing."""
    _read_request(sock)
    stop.wait(60)


def endless_header(sock: socket.socket, stop: threading.Event) -> None:
    """A status line, then one header whose value never ends (sent as fast as it is read)."""
    _read_request(sock)
    sock.sendall(b"HTTP/1.1 200 OK\r\nX-Endless: ")
    while not stop.is_set():
        sock.sendall(b"a" * 4096)


def trickle_body(sock: socket.socket, stop: threading.Event) -> None:
    """Headers at once, then a JSON body a byte every 0.05 s."""
    _read_request(sock)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    while not stop.wait(0.05):
        sock.sendall(b" ")


def _read_request(sock: socket.socket) -> None:
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return
        data += chunk


class BadPeer:
    """``with BadPeer(trickle_headers) as peer: peer.url("/feed")``."""

    def __init__(self, behaviour: Behaviour, host: str = "127.0.0.1") -> None:
        self.behaviour = behaviour
        self.stop = threading.Event()
        self.listener = socket.create_server((host, 0))
        self.listener.settimeout(0.05)
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def url(self, path: str = "/") -> str:
        return self.base + path

    def __enter__(self) -> BadPeer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop.set()
        self._thread.join(5)
        self.listener.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with sock, contextlib.suppress(OSError):
            self.behaviour(sock, self.stop)
