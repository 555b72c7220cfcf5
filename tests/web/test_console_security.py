"""Bad input to the console: no session, forged sessions, wrong role, missing CSRF, injections,
path traversal. Each is refused with the right status, changes nothing, reflects nothing unescaped."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from monitor.web.auth import SESSION_COOKIE

from .demo_world import PASSWORD, DemoWorld, start

SCRIPT = "<script>alert('x')</script>"
SQL = "1'; DROP TABLE incidents; --"
INJECTIONS = [SCRIPT, SQL, '"><img src=x onerror=alert(1)>', "../../etc/passwd", "\x00\u202e", "王芳' OR '1'='1"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    w = start(tmp_path_factory.mktemp("console"))
    yield w
    w.close()


def login(world: DemoWorld, who: str = "wangfang") -> httpx.Client:
    client = httpx.Client(base_url=world.url, timeout=10)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "login": who, "password": PASSWORD, "next": "/"})
    assert response.status_code == 303, response.text
    return client


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def snapshot(world: DemoWorld) -> tuple[object, ...]:
    incident = world.store.incident(world.incident_id())
    return (incident.status, incident.checklist, tuple(world.store.timeline(incident.id)))


def assert_escaped(page: str, payload: str) -> None:
    if any(c in payload for c in "<>\"'"):
        assert payload not in page, f"{payload!r} reflected unescaped"


def test_pages_need_a_login_and_say_where_to_go(world: DemoWorld) -> None:
    with httpx.Client(base_url=world.url) as client:
        for path in ("/", f"/incidents/{world.incident_id()}", "/rules", "/sources"):
            response = client.get(path)
            assert response.status_code == 303
            assert response.headers["location"] == f"/login?next={path}"
        assert client.get("/login").status_code == 200


def test_acting_without_a_session_is_refused(world: DemoWorld) -> None:
    before = snapshot(world)
    with httpx.Client(base_url=world.url) as client:
        response = client.post(f"/incidents/{world.incident_id()}/ack", data={"csrf": "x"})
    assert response.status_code == 401
    assert snapshot(world) == before


@pytest.mark.parametrize(
    "forged",
    [
        "d2FuZ2Zhbmc|9999999999|bm9uY2U|forgedsignature",  # wangfang, far future, bad signature
        "",
        "garbage",
        "a|b|c|d|e",
    ],
)
def test_forged_sessions_are_no_sessions(world: DemoWorld, forged: str) -> None:
    with httpx.Client(base_url=world.url, cookies={SESSION_COOKIE: forged}) as client:
        assert client.get("/").status_code == 303
        before = snapshot(world)
        assert client.post(f"/incidents/{world.incident_id()}/ack", data={"csrf": "x"}).status_code == 401
    assert snapshot(world) == before


def test_a_session_of_another_login_cannot_be_made_by_editing_the_cookie(world: DemoWorld) -> None:
    client = login(world, "guest")
    value = client.cookies[SESSION_COOKIE]
    login_part = value.split("|")[0]
    tampered = value.replace(login_part, "d2FuZ2Zhbmc", 1)  # base64 of wangfang
    with httpx.Client(base_url=world.url, cookies={SESSION_COOKIE: tampered}) as forged:
        assert forged.get("/").status_code == 303


def test_a_person_without_a_role_may_read_but_not_act(world: DemoWorld) -> None:
    client = login(world, "guest")
    page = client.get(f"/incidents/{world.incident_id()}")
    assert page.status_code == 200 and "has no role that may act" in page.text
    assert "Acknowledge</button>" not in page.text
    before = snapshot(world)
    token = csrf_of(page.text)  # the logout form's token: valid for this session
    for action, form in (("ack", {}), ("tick", {"item": "stop-use-advice"}), ("note", {"text": "hi"})):
        response = client.post(f"/incidents/{world.incident_id()}/{action}", data={"csrf": token, **form})
        assert response.status_code == 403, action
        assert "no role that may act" in response.text
    assert snapshot(world) == before


@pytest.mark.parametrize("token", [None, "", "forged", "use-another-session"])
def test_forms_without_the_right_csrf_token_are_refused(world: DemoWorld, token: str | None) -> None:
    client = login(world)
    if token == "use-another-session":
        token = csrf_of(login(world).get(f"/incidents/{world.incident_id()}").text)
    before = snapshot(world)
    data = {"item": "first-statement"} if token is None else {"item": "first-statement", "csrf": token}
    response = client.post(f"/incidents/{world.incident_id()}/tick", data=data)
    assert response.status_code == 403
    assert "did not come from this console" in response.text
    assert snapshot(world) == before


def test_login_needs_its_form_token(world: DemoWorld) -> None:
    with httpx.Client(base_url=world.url) as client:
        response = client.post("/login", data={"login": "wangfang", "password": PASSWORD})
        assert response.status_code == 403 and SESSION_COOKIE not in response.cookies


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injections_in_every_field_change_nothing_and_are_escaped(world: DemoWorld, payload: str) -> None:
    client = login(world)
    incident_path = f"/incidents/{world.incident_id()}"
    token = csrf_of(client.get(incident_path).text)
    before = snapshot(world)
    for action in ("tick", "untick"):
        response = client.post(f"{incident_path}/{action}", data={"csrf": token, "item": payload})
        assert response.status_code == 409 and "pick a checklist item" in response.text
        assert_escaped(response.text, payload)
    for field in ("csrf",):
        response = client.post(f"{incident_path}/ack", data={field: payload})
        assert response.status_code == 403
        assert_escaped(response.text, payload)
    assert snapshot(world) == before
    with httpx.Client(base_url=world.url) as anonymous:
        page = anonymous.get("/login", params={"next": payload})
        form_token = csrf_of(page.text)
        assert_escaped(page.text, payload)
        for data in ({"login": payload, "password": "x"}, {"login": "wangfang", "password": payload}):
            response = anonymous.post("/login", data={"csrf": form_token, "next": payload, **data})
            assert response.status_code == 401 and SESSION_COOKIE not in response.cookies
            assert_escaped(response.text, payload)
            assert 'name="next" value="/"' in response.text  # a next page that is not ours is dropped
            form_token = csrf_of(response.text)  # each login page comes with a new token


def test_a_note_keeps_its_text_verbatim_and_shows_it_escaped(world: DemoWorld) -> None:
    client = login(world)
    incident_path = f"/incidents/{world.incident_id()}"
    token = csrf_of(client.get(incident_path).text)
    text = f"{SCRIPT} {SQL}"
    response = client.post(f"{incident_path}/note", data={"csrf": token, "text": text})
    assert response.status_code == 303 and response.headers["location"] == incident_path
    assert world.store.timeline(world.incident_id())[-1].detail["text"] == text
    assert world.store.incidents()  # the table is still there
    page = client.get(incident_path).text
    assert SCRIPT not in page and "&lt;script&gt;" in page
    for bad in ("", " ", "x" * 2001):
        assert client.post(f"{incident_path}/note", data={"csrf": token, "text": bad}).status_code == 409


def raw_get(world: DemoWorld, path: str) -> tuple[int, str]:
    """A request whose path is sent exactly as written (no client-side normalisation)."""
    parts = urlsplit(world.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


@pytest.mark.parametrize(
    "path",
    [
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e/%2e%2e/monitor/api.py",
        "/static/../console.py",
        "/static/console.css/../../auth.py",
        "/static/templates/base.html",
        "/static/",
    ],
)
def test_path_traversal_finds_nothing(world: DemoWorld, path: str) -> None:
    status, body = raw_get(world, path)
    assert status == 404
    assert "root:" not in body and "import" not in body


def test_unknown_console_paths_and_methods(world: DemoWorld) -> None:
    client = login(world)
    assert client.get("/incidents/99999").status_code == 404
    assert client.get("/incidents/abc").status_code == 404
    assert client.get("/incidents/1/../../v1/incidents").status_code in (303, 401, 404)
    token = csrf_of(client.get("/").text)
    assert client.post("/incidents/99999/ack", data={"csrf": token}).status_code == 404
    assert client.post(f"/incidents/{world.incident_id()}/delete", data={"csrf": token}).status_code == 404
    assert client.request("PUT", "/rules").status_code in (405, 501)  # the server knows GET and POST only


def test_cookies_and_headers(world: DemoWorld) -> None:
    with httpx.Client(base_url=world.url) as client:
        page = client.get("/login")
        token = csrf_of(page.text)
        assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=Strict" in page.headers["set-cookie"]
        response = client.post("/login", data={"csrf": token, "login": "wangfang", "password": PASSWORD, "next": "/"})
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert client.cookies[SESSION_COOKIE] not in response.headers["location"]  # no token in URLs
        board = client.get("/")
        assert "default-src 'none'" in board.headers["content-security-policy"]
        assert board.headers["x-frame-options"] == "DENY"


def test_repeated_wrong_passwords_are_throttled(world: DemoWorld) -> None:
    with httpx.Client(base_url=world.url) as client:
        statuses = []
        for _ in range(6):
            token = csrf_of(client.get("/login").text)
            statuses.append(client.post("/login", data={"csrf": token, "login": "guest", "password": "no"}).status_code)
        assert statuses == [401] * 5 + [429]
        token = csrf_of(client.get("/login").text)
        right = client.post("/login", data={"csrf": token, "login": "guest", "password": PASSWORD})
        assert right.status_code == 429  # even the right password waits


def test_logout_needs_its_token_and_ends_the_session(world: DemoWorld) -> None:
    client = login(world)
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    token = csrf_of(client.get("/").text)
    response = client.post("/logout", data={"csrf": token})
    assert response.status_code == 303 and "Max-Age=0" in response.headers["set-cookie"]
    assert client.get("/").status_code == 303


def test_without_logins_the_console_is_read_only(tmp_path: Path) -> None:
    world = start(tmp_path, auth=False)
    try:
        with httpx.Client(base_url=world.url) as client:
            page = client.get(f"/incidents/{world.incident_id()}")
            assert page.status_code == 200 and "needs logins" in page.text
            before = snapshot(world)
            assert client.post(f"/incidents/{world.incident_id()}/ack", data={"csrf": ""}).status_code == 403
            assert snapshot(world) == before
            assert client.get("/login").headers["location"] == "/"
    finally:
        world.close()


def test_the_api_still_answers_beside_the_console(world: DemoWorld) -> None:
    with httpx.Client(base_url=world.url) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.get("/v1/incidents").status_code == 401
        assert "crisismon_build_info" in client.get("/metrics").text
