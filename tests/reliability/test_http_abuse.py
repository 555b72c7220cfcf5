"""The HTTP server refuses abuse (issue 13, point 4): bad lengths, slow clients, floods, odd paths.

Against the daemon's real API server (monitor.http.api over monitor.http.server) on loopback, with
short limits: headers and body each within 0.5 s, bodies up to 10,000 bytes, 8 connections.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

from monitor.http.api import ApiServer
from monitor.http.server import HttpServer, Limits, Reply, Request

from .conftest import TOKEN, address, exchange, read_all, status_of

AUTH = f"Authorization: Bearer {TOKEN}\r\n".encode()


@pytest.mark.parametrize(
    ("length", "status"),
    [("-1", 400), ("abc", 400), ("1e3", 400), ("10001", 413), ("1" + "0" * 30, 413), ("٣", 400)],
    ids=["negative", "not-a-number", "float", "over-the-limit", "absurd", "non-ascii-digit"],
)
@pytest.mark.parametrize("auth", [b"", AUTH], ids=["no-token", "token"])
def test_a_bad_content_length_is_refused_without_reading_the_body(
    api_server: ApiServer, length: str, status: int, auth: bytes
) -> None:
    head = f"POST /v1/complaints HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n".encode() + auth
    with socket.create_connection(address(api_server.url), timeout=5) as sock:
        sock.sendall(head + b"\r\n")  # no body is sent: the answer must not wait for one
        answer = read_all(sock)
    assert status_of(answer) == status, answer[:200]


def test_a_chunked_body_is_refused(api_server: ApiServer) -> None:
    answer, _ = exchange(
        api_server.url, b"POST /v1/complaints HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + AUTH + b"\r\n"
    )
    assert status_of(answer) == 411


def test_headers_trickling_in_are_cut_off_at_the_header_deadline(api_server: ApiServer) -> None:
    """A byte every 0.1 s never trips a per-read timeout; the 0.5 s total deadline ends it."""
    with socket.create_connection(address(api_server.url), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed_after = None
        for _ in range(40):
            try:
                sock.sendall(b"X-Slow: y\r\n")
            except OSError:
                closed_after = time.monotonic() - started
                break
            sock.settimeout(0.1)
            try:
                if sock.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
    assert closed_after is not None and closed_after < 1.5, closed_after


def test_a_slow_body_gets_408_at_the_body_deadline(api_server: ApiServer) -> None:
    with socket.create_connection(address(api_server.url), timeout=5) as sock:
        sock.sendall(b"POST /v1/complaints HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n" + AUTH + b"\r\n")
        started = time.monotonic()
        for _ in range(5):
            sock.sendall(b"[")
            time.sleep(0.05)
        answer = read_all(sock)
    assert status_of(answer) == 408 and time.monotonic() - started < 1.5


def test_connections_beyond_the_limit_get_503_and_the_server_recovers(api_server: ApiServer) -> None:
    idle = [socket.create_connection(address(api_server.url), timeout=5) for _ in range(8)]
    try:
        time.sleep(0.1)
        answer, seconds = exchange(api_server.url, b"GET /healthz HTTP/1.0\r\n\r\n")
        assert status_of(answer) == 503 and b"Retry-After: 1" in answer and seconds < 0.5
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.6)  # the idle ones are gone (closed, or cut off at the header deadline)
    answer, _ = exchange(api_server.url, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert status_of(answer) == 200


def test_slowloris_holds_no_more_than_the_connection_limit_and_no_longer_than_the_deadline(db: object) -> None:
    """300 connections that never finish their headers: at most 8 served at once, all gone within the deadline."""
    limits = Limits(header_timeout=0.5, max_connections=8)
    server = HttpServer(lambda r: Reply(200, b"ok"), limits=limits).start()
    socks = []
    try:
        for _ in range(300):
            sock = socket.create_connection(address(server.url), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nX-A: ")
            socks.append(sock)
        assert server.active_connections() <= 8
        time.sleep(0.8)
        assert server.active_connections() == 0
        answer, _ = exchange(server.url, b"GET / HTTP/1.0\r\n\r\n")
        assert status_of(answer) == 200
    finally:
        for sock in socks:
            sock.close()
        server.close()


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2) to read the listen backlog")
def test_the_listen_backlog_is_128(api_server: ApiServer) -> None:
    port = address(api_server.url)[1]
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    assert out.split()[2] == "128", out  # Send-Q of a listening socket is its backlog


@pytest.mark.parametrize(
    "target",
    [
        "/v1/incidents/99999999999999999999999",
        "/v1/incidents/9223372036854775808",
        "/v1/incidents/-1",
        "/v1/incidents/1%00",
        "/v1/incidents/%zz",
        "/v1/incidents/１",
        "/../../etc/passwd",
        "nopath",
        "*",
        "http://example.com/v1/incidents",
        "/v1/incidents/" + "9" * 5000,
    ],
)
def test_malformed_paths_and_huge_ids_are_404(api_server: ApiServer, target: str) -> None:
    answer, _ = exchange(api_server.url, f"GET {target} HTTP/1.0\r\n".encode() + AUTH + b"\r\n")
    assert status_of(answer) == 404, answer[:300]


def test_an_id_in_range_that_does_not_exist_is_404(api_server: ApiServer) -> None:
    answer, _ = exchange(api_server.url, b"GET /v1/incidents/999999999999999999 HTTP/1.0\r\n" + AUTH + b"\r\n")
    assert status_of(answer) == 404 and b"no incident" in answer


@pytest.mark.parametrize("hours", [True, 0, 73, 1.5, "4", None, 10**30])
def test_mute_takes_only_a_whole_number_of_hours_in_range(api_server: ApiServer, hours: object) -> None:
    body = json.dumps({"by": "王芳", "hours": hours}).encode()
    head = f"POST /v1/incidents/1/mute HTTP/1.0\r\nContent-Length: {len(body)}\r\n".encode() + AUTH + b"\r\n"
    answer, _ = exchange(api_server.url, head + body)
    assert status_of(answer) == 400 and b"whole number of hours" in answer


def test_close_returns_within_a_tenth_of_a_second_with_slow_clients_connected() -> None:
    server = HttpServer(lambda r: Reply(200, b"ok"), limits=Limits(header_timeout=30)).start()
    socks = [socket.create_connection(address(server.url), timeout=5) for _ in range(5)]
    for sock in socks:
        sock.sendall(b"GET / HTTP/1.1\r\n")
    time.sleep(0.1)
    started = time.monotonic()
    server.close()
    elapsed = time.monotonic() - started
    for sock in socks:
        sock.settimeout(1)
        assert read_all(sock) == b""  # cut off, not left hanging
        sock.close()
    assert elapsed < 0.15, elapsed


def test_a_request_in_progress_finishes_within_the_grace_period() -> None:
    entered = threading.Event()

    def slowish(request: Request) -> Reply:
        entered.set()
        time.sleep(0.03)
        return Reply(200, b"done")

    server = HttpServer(slowish).start()
    with socket.create_connection(address(server.url), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert entered.wait(2)
        server.close(grace=0.1)
        assert read_all(sock).endswith(b"done")
