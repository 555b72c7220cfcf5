"""A fake Slack Web API (and incoming webhook) on a real loopback HTTP server, for tests.

Point the real slack-sdk client at it (``WebClient(base_url=fake.base_url)``, or
``CRISISMON_SLACK_API_URL``) and assert what it received::

    with FakeSlackServer() as fake:
        client = make_web_client("xoxb-test", base_url=fake.base_url)
        SlackNotifier(client, "#crisis").deliver(message, None, None)
        assert fake.calls("chat.postMessage")[0].body["blocks"][0]["type"] == "header"

It answers ``chat.postMessage``, ``chat.update``, ``auth.test``, ``conversations.info``,
``conversations.history`` and ``conversations.replies`` (with message ``metadata`` when
``include_all_metadata`` is set) and the ``files_upload_v2`` flow (``files.getUploadURLExternal``
→ a POST of the bytes to a local upload URL → ``files.completeUploadExternal``, which shares
the file to a channel or thread as a message) like Slack does (increasing ``ts`` values,
channel ids, threads, ``message_not_found``, ``not_authed``/``invalid_auth``). It checks
Block Kit limits like Slack (``invalid_blocks`` with the reasons in ``errors``), and can be
scripted: ``fail_next(method, n, error=..., status=..., retry_after=...)`` for ``ok: false``,
429 and 5xx answers, ``delay_next(method, seconds)`` for timeouts. Webhook posts go to
``fake.webhook_url`` and are recorded under the method name ``"webhook"``; uploads of file
bytes under ``"upload"``. ``fake.files`` holds the uploaded files (bytes, name, title, and
the channel and thread they were shared to); ``fake.post(...)`` puts a message into a
channel directly (e.g. one an earlier run posted before it crashed).

Bounded: bodies over 2 MB are refused with 413, at most ``max_requests`` requests are kept,
delays end as soon as the server stops.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from monitor.http.server import HttpServer, Limits, Reply, Request

WEBHOOK = "webhook"
UPLOAD = "upload"
MAX_BODY = 2 * 1024 * 1024
_CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_DEFAULT_STATUS = {"ratelimited": 429, "rate_limited": 429, "internal_error": 500, "fatal_error": 500}


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake received: the API method, parsed body, headers and raw bytes."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    raw: bytes


@dataclass(slots=True)
class _Script:
    remaining: int
    status: int = 200
    error: str | None = None
    retry_after: float | None = None
    delay: float = 0.0


@dataclass(slots=True)
class StoredMessage:
    """A message as the fake holds it after posts and updates."""

    channel: str
    ts: str
    text: str
    blocks: list[Any]
    thread_ts: str | None = None
    edits: int = 0
    replies: list[str] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self, *, with_metadata: bool) -> dict[str, Any]:
        """The message as Slack's API returns it."""
        message: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        if self.blocks:
            message["blocks"] = self.blocks
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        if self.replies:
            message["reply_count"] = len(self.replies)
        if self.files:
            message["files"] = [dict(f) for f in self.files]
        if with_metadata and self.metadata is not None:
            message["metadata"] = self.metadata
        return message


@dataclass(slots=True)
class StoredFile:
    """A file uploaded through the ``files_upload_v2`` flow."""

    id: str
    name: str
    length: int
    data: bytes | None = None  # None until the bytes are POSTed to the upload URL
    title: str | None = None
    channel: str | None = None  # where it was shared (None: uploaded but private)
    thread_ts: str | None = None
    initial_comment: str | None = None
    ts: str | None = None  # the ts of the message that shares it


class FakeSlackServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) that behaves like Slack's Web API."""

    def __init__(
        self,
        *,
        token: str | None = None,
        validate_blocks: bool = True,
        max_requests: int = 10_000,
        team_id: str = "T0FAKETEAM",
        bot_user_id: str = "U0FAKEBOT",
    ) -> None:
        self.token = token
        self.validate_blocks = validate_blocks
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self._requests: deque[RecordedRequest] = deque(maxlen=max_requests)
        self._scripts: dict[str, deque[_Script]] = {}
        self._messages: dict[tuple[str, str], StoredMessage] = {}
        self._channels: dict[str, str] = {}
        self._files: dict[str, StoredFile] = {}
        self._views: list[dict[str, Any]] = []
        self._ephemerals: list[dict[str, str]] = []
        self._counter = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: HttpServer | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeSlackServer:
        if self._server is not None:
            return self
        limits = Limits(max_body=MAX_BODY, max_connections=256)
        self._stopping.clear()
        self._server = HttpServer(lambda request: _serve(self, request), "127.0.0.1", 0, limits, name="fake-slack")
        self._server.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.close()

    def __enter__(self) -> FakeSlackServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlackServer is not running (use it as a context manager)")
        return self._server.port

    @property
    def base_url(self) -> str:
        """The Web API base URL, ending with '/': ``http://127.0.0.1:PORT/api/``."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T0FAKETEAM/B0FAKEHOOK/fakesecret"

    # --- scripting and inspection --------------------------------------------------------

    def fail_next(
        self,
        method: str,
        n: int = 1,
        *,
        error: str = "ratelimited",
        status: int | None = None,
        retry_after: float | None = 1,
    ) -> None:
        """Answer the next ``n`` calls of ``method`` with ``error``.

        ``status`` defaults to 429 for ``ratelimited``, 500 for ``internal_error`` and
        ``fatal_error``, else 200 (Slack's ``{"ok": false, "error": ...}``). A 429 carries
        ``Retry-After: retry_after``.
        """
        code = status if status is not None else _DEFAULT_STATUS.get(error, 200)
        self._script(method, _Script(remaining=n, status=code, error=error, retry_after=retry_after))

    def delay_next(self, method: str, seconds: float, n: int = 1) -> None:
        """Wait ``seconds`` before answering the next ``n`` calls of ``method`` (then answer)."""
        self._script(method, _Script(remaining=n, delay=seconds))

    def _script(self, method: str, script: _Script) -> None:
        with self._lock:
            self._scripts.setdefault(method, deque()).append(script)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def calls(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method]

    def message(self, channel: str, ts: str) -> StoredMessage:
        with self._lock:
            return self._messages[(self._channel_id(channel), ts)]

    @property
    def messages(self) -> list[StoredMessage]:
        with self._lock:
            return list(self._messages.values())

    def channel_id(self, name: str) -> str:
        """The id the fake gives a channel name (``#crisis`` and ``crisis`` are the same)."""
        with self._lock:
            return self._channel_id(name)

    @property
    def files(self) -> list[StoredFile]:
        """Files uploaded so far, in order."""
        with self._lock:
            return list(self._files.values())

    @property
    def views(self) -> list[dict[str, Any]]:
        """Modals opened (``views.open``) or updated (``views.update``), in order, as parsed JSON."""
        with self._lock:
            return list(self._views)

    @property
    def ephemerals(self) -> list[dict[str, str]]:
        """``chat.postEphemeral`` messages: ``channel``, ``user`` and ``text``, in order."""
        with self._lock:
            return list(self._ephemerals)

    def post(
        self,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> StoredMessage:
        """Put a message into a channel as if someone (or an earlier run) had posted it."""
        with self._lock:
            return self._store(self._channel_id(channel), text, [], thread_ts, metadata, files or [])

    # --- request handling (called from handler threads) ----------------------------------

    def _take_script(self, method: str) -> _Script | None:
        with self._lock:
            queue = self._scripts.get(method)
            if not queue:
                return None
            script = queue[0]
            script.remaining -= 1
            if script.remaining <= 0:
                queue.popleft()
            return script

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _channel_id(self, name: str) -> str:
        if _CONVERSATION_ID.match(name):
            return name
        if _USER_ID.match(name):  # like Slack: a post to a user goes to the app's DM with them
            return f"D{name[1:]}"
        key = name.lstrip("#")
        if key not in self._channels:
            self._channels[key] = f"C0FAKE{len(self._channels) + 1:04d}"
        return self._channels[key]

    def _next_ts(self) -> str:
        self._counter += 1
        micros = 100 * self._counter
        return f"{1_700_000_000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _answer(self, method: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        if method not in _PUBLIC:
            auth = headers.get("authorization", "")
            if not auth.startswith("Bearer ") or not auth[7:]:
                return _error("not_authed")
            if self.token is not None and auth[7:] != self.token:
                return _error("invalid_auth")
        handler = _METHODS.get(method)
        if handler is None:
            return _error("unknown_method")
        with self._lock:
            return handler(self, body)

    def _post_message(self, body: Mapping[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel") or "")
        if not channel:
            return _error("channel_not_found")
        problem = self._check_content(body)
        if problem:
            return problem
        try:
            metadata = _metadata(body.get("metadata"))
        except ValueError:
            return _error("invalid_metadata_format")
        channel_id = self._channel_id(channel)
        stored = self._store(
            channel_id,
            str(body.get("text") or ""),
            _blocks(body.get("blocks")),
            _opt(body.get("thread_ts")),
            metadata,
            [],
        )
        message = {"user": self.bot_user_id, **stored.as_json(with_metadata=True)}
        return {"ok": True, "channel": channel_id, "ts": stored.ts, "message": message}

    def _store(
        self,
        channel_id: str,
        text: str,
        blocks: list[Any],
        thread_ts: str | None,
        metadata: dict[str, Any] | None,
        files: list[dict[str, Any]],
    ) -> StoredMessage:
        ts = self._next_ts()
        stored = StoredMessage(channel_id, ts, text, blocks, thread_ts, metadata=metadata, files=files)
        self._messages[(channel_id, ts)] = stored
        parent = self._messages.get((channel_id, thread_ts)) if thread_ts else None
        if parent is not None:
            parent.replies.append(ts)
        return stored

    def _update(self, body: Mapping[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel") or "")
        if not _CONVERSATION_ID.match(channel):
            return _error("channel_not_found")  # like Slack: chat.update needs the channel id
        stored = self._messages.get((channel, str(body.get("ts") or "")))
        if stored is None:
            return _error("message_not_found")
        problem = self._check_content(body)
        if problem:
            return problem
        try:
            metadata = _metadata(body.get("metadata"))
        except ValueError:
            return _error("invalid_metadata_format")
        stored.text = str(body.get("text") or "")
        stored.blocks = _blocks(body.get("blocks"))
        if metadata:
            stored.metadata = metadata  # like Slack: without metadata, the old one stays
        stored.edits += 1
        message = {"text": stored.text, "blocks": stored.blocks}
        return {"ok": True, "channel": channel, "ts": stored.ts, "text": stored.text, "message": message}

    def _check_content(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        text = body.get("text")
        blocks = body.get("blocks")
        if not text and not blocks:
            return _error("no_text")
        if isinstance(text, str) and len(text) > 40_000:
            return _error("msg_too_long")
        if blocks and self.validate_blocks:
            errors = block_problems(_blocks(blocks))
            if errors:
                return {"ok": False, "error": "invalid_blocks", "errors": errors}
        return None

    def _views_open(self, body: Mapping[str, Any]) -> dict[str, Any]:
        if not body.get("trigger_id"):
            return _error("invalid_trigger_id")
        return self._view(body)

    def _views_update(self, body: Mapping[str, Any]) -> dict[str, Any]:
        if not body.get("view_id") and not body.get("external_id"):
            return _error("not_found")
        return self._view(body)

    def _view(self, body: Mapping[str, Any]) -> dict[str, Any]:
        view = body.get("view")
        try:
            parsed = json.loads(view) if isinstance(view, str) else view
        except ValueError:
            return _error("invalid_arguments")
        if not isinstance(parsed, dict):
            return _error("invalid_arguments")
        errors = view_problems(parsed)
        if errors:
            return {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": errors}}
        self._counter += 1
        self._views.append(parsed)
        return {"ok": True, "view": {"id": f"V0FAKE{self._counter:04d}", **parsed}}

    def _post_ephemeral(self, body: Mapping[str, Any]) -> dict[str, Any]:
        channel, user = str(body.get("channel") or ""), str(body.get("user") or "")
        if not channel:
            return _error("channel_not_found")
        if not user:
            return _error("user_not_found")
        problem = self._check_content(body)
        if problem:
            return problem
        self._ephemerals.append({"channel": channel, "user": user, "text": str(body.get("text") or "")})
        return {"ok": True, "message_ts": self._next_ts()}

    def _api_test(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {"ok": True, "args": dict(body)}

    def _auth_test(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake Team",
            "user": "crisismon",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": "B0FAKEBOT",
        }

    def _conversation_info(self, body: Mapping[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel") or "")
        if not _CONVERSATION_ID.match(channel):
            return _error("channel_not_found")
        return {"ok": True, "channel": {"id": channel, "name": channel.lower(), "is_member": True}}

    def _history(self, body: Mapping[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel") or "")
        if not _CONVERSATION_ID.match(channel):
            return _error("channel_not_found")
        top = [m for (c, _), m in self._messages.items() if c == channel and m.thread_ts in (None, m.ts)]
        top.sort(key=lambda m: float(m.ts), reverse=True)  # newest first, like Slack
        return self._page(top, body)

    def _replies(self, body: Mapping[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel") or "")
        if not _CONVERSATION_ID.match(channel):
            return _error("channel_not_found")
        parent = self._messages.get((channel, str(body.get("ts") or "")))
        if parent is None:
            return _error("thread_not_found")
        thread = [parent, *(self._messages[(channel, ts)] for ts in parent.replies)]  # oldest first
        return self._page(thread, body)

    def _page(self, messages: list[StoredMessage], body: Mapping[str, Any]) -> dict[str, Any]:
        """One page of ``messages``: ``limit`` (default 100, at most 999) from ``cursor``."""
        try:
            limit = max(1, min(int(body.get("limit") or 100), 999))
            start = int(str(body.get("cursor") or "0").removeprefix("next:"))
        except ValueError:
            return _error("invalid_arguments")
        with_metadata = _flag(body.get("include_all_metadata"))
        page = messages[start : start + limit]
        more = start + limit < len(messages)
        return {
            "ok": True,
            "messages": [m.as_json(with_metadata=with_metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": f"next:{start + limit}" if more else ""},
        }

    def _upload_url(self, body: Mapping[str, Any]) -> dict[str, Any]:
        filename = str(body.get("filename") or "")
        try:
            length = int(body.get("length") or 0)
        except (TypeError, ValueError):
            length = 0
        if not filename or length < 1:
            return _error("invalid_arguments")
        self._counter += 1
        file_id = f"F0FAKE{self._counter:04d}"
        self._files[file_id] = StoredFile(file_id, filename, length)
        return {
            "ok": True,
            "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}",
            "file_id": file_id,
        }

    def _receive_upload(self, file_id: str, data: bytes) -> bool:
        """Keep the bytes POSTed to an upload URL; False for an unknown file id."""
        with self._lock:
            stored = self._files.get(file_id)
            if stored is None:
                return False
            stored.data = data
            return True

    def _complete_upload(self, body: Mapping[str, Any]) -> dict[str, Any]:
        files = body.get("files")
        try:
            parsed = json.loads(files) if isinstance(files, str) else files
        except ValueError:
            return _error("invalid_arguments")
        listed = [f for f in parsed if isinstance(f, dict)] if isinstance(parsed, list) else []
        uploads = [self._files.get(str(f.get("id"))) for f in listed]
        if not listed or any(u is None or u.data is None for u in uploads):
            return _error("file_not_found")  # unknown id, or its bytes were never uploaded
        channel = _opt(body.get("channel_id"))
        if channel is not None and not _CONVERSATION_ID.match(channel):
            return _error("channel_not_found")
        thread_ts = _opt(body.get("thread_ts"))
        if thread_ts and channel and (channel, thread_ts) not in self._messages:
            return _error("invalid_thread_ts")
        done = [u for u in uploads if u is not None]
        for upload, item in zip(done, listed, strict=True):
            upload.title = str(item.get("title") or upload.name)
        if channel is not None:
            self._share(done, channel, thread_ts, _opt(body.get("initial_comment")))
        return {"ok": True, "files": [{"id": u.id, "title": u.title} for u in done]}

    def _share(self, uploads: list[StoredFile], channel: str, thread_ts: str | None, comment: str | None) -> None:
        described = [{"id": u.id, "name": u.name, "title": u.title, "mimetype": _mimetype(u.name)} for u in uploads]
        message = self._store(channel, comment or "", [], thread_ts, None, described)
        for upload in uploads:
            upload.channel, upload.thread_ts, upload.initial_comment, upload.ts = (
                channel,
                thread_ts,
                comment,
                message.ts,
            )

    def _legacy_upload(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._counter += 1
        return {"ok": True, "file": {"id": f"F0FAKE{self._counter:04d}", "title": body.get("title")}}


def _error(code: str) -> dict[str, Any]:
    return {"ok": False, "error": code}


def _opt(value: Any) -> str | None:
    return str(value) if value else None


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _metadata(value: Any) -> dict[str, Any] | None:
    """The message metadata of a request (None when absent); ValueError when malformed."""
    if value is None or value == "":
        return None
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, dict) or not isinstance(parsed.get("event_type"), str):
        raise ValueError("metadata needs an event_type")
    if not isinstance(parsed.get("event_payload", {}), dict):
        raise ValueError("metadata event_payload must be an object")
    return parsed


def _mimetype(name: str) -> str:
    return {"png": "image/png", "csv": "text/csv", "txt": "text/plain"}.get(
        name.rpartition(".")[2].lower(), "application/octet-stream"
    )


def _blocks(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    return list(value) if isinstance(value, list) else []


_PUBLIC = frozenset({"api.test"})
_METHODS: dict[str, Callable[[FakeSlackServer, Mapping[str, Any]], dict[str, Any]]] = {
    "api.test": FakeSlackServer._api_test,
    "auth.test": FakeSlackServer._auth_test,
    "chat.postMessage": FakeSlackServer._post_message,
    "chat.update": FakeSlackServer._update,
    "chat.postEphemeral": FakeSlackServer._post_ephemeral,
    "views.open": FakeSlackServer._views_open,
    "views.update": FakeSlackServer._views_update,
    "conversations.info": FakeSlackServer._conversation_info,
    "conversations.history": FakeSlackServer._history,
    "conversations.replies": FakeSlackServer._replies,
    "files.getUploadURLExternal": FakeSlackServer._upload_url,
    "files.completeUploadExternal": FakeSlackServer._complete_upload,
    "files.upload": FakeSlackServer._legacy_upload,
}


# --- Block Kit limits, checked like Slack does -----------------------------------------------

_BLOCK_TYPES = {"section", "context", "actions", "header", "divider", "image", "input", "rich_text", "video"}


def block_problems(blocks: list[Any]) -> list[str]:
    """Slack-style ``invalid_blocks`` reasons for ``blocks`` (empty when Slack would accept)."""
    problems: list[str] = []
    if len(blocks) > 50:
        problems.append(f"no more than 50 items allowed [json-pointer:/blocks] (got {len(blocks)})")
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"/blocks/{index}"
        if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
            problems.append(f"unknown or missing block type [json-pointer:{where}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or len(block_id) > 255 or block_id in seen:
                problems.append(f"block_id must be unique and at most 255 characters [json-pointer:{where}]")
            seen.add(str(block_id))
        problems += _block_problems(block, where)
    return problems


def view_problems(view: Mapping[str, Any]) -> list[str]:
    """Slack-style reasons a modal view would be refused (empty when Slack would accept)."""
    problems: list[str] = []
    if view.get("type") != "modal":
        problems.append("view type must be 'modal' [json-pointer:/view/type]")
    problems += _too_long(view.get("title"), 24, "/view/title")
    for key in ("submit", "close"):
        if key in view:
            problems += _too_long(view.get(key), 24, f"/view/{key}")
    if len(str(view.get("private_metadata") or "")) > 3000:
        problems.append("private_metadata must be less than 3001 characters [json-pointer:/view/private_metadata]")
    if len(str(view.get("callback_id") or "")) > 255:
        problems.append("callback_id must be less than 256 characters [json-pointer:/view/callback_id]")
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= 100:
        return [*problems, "1 to 100 blocks [json-pointer:/view/blocks]"]
    has_input = False
    for index, block in enumerate(blocks):
        where = f"/view/blocks/{index}"
        if isinstance(block, dict) and block.get("type") == "input":
            has_input = True
            problems += _input_problems(block, where)
        elif isinstance(block, dict):
            problems += block_problems([block])
    if has_input and "submit" not in view:
        problems.append("a view with inputs needs a submit button [json-pointer:/view/submit]")
    return problems


def _input_problems(block: dict[str, Any], where: str) -> list[str]:
    problems = _too_long(block.get("label"), 2000, f"{where}/label")
    element = block.get("element")
    if not isinstance(element, dict):
        return [*problems, f"input needs an element [json-pointer:{where}/element]"]
    if element.get("type") == "plain_text_input":
        limit = element.get("max_length", 3000)
        if not isinstance(limit, int) or not 1 <= limit <= 3000:
            problems.append(f"max_length from 1 to 3000 [json-pointer:{where}/element/max_length]")
        elif len(str(element.get("initial_value") or "")) > limit:
            problems.append(f"initial_value longer than max_length [json-pointer:{where}/element/initial_value]")
    elif element.get("type") in ("static_select", "checkboxes"):
        problems += _element_problems(element, f"{where}/element")
    elif element.get("type") not in ("users_select", "conversations_select", "datetimepicker"):
        problems.append(f"unsupported input element [json-pointer:{where}/element/type]")
    return problems


def _too_long(obj: Any, limit: int, where: str, required: bool = True) -> list[str]:
    text = obj.get("text") if isinstance(obj, dict) else None
    if not isinstance(text, str) or (required and not text):
        return [f"text object is missing or empty [json-pointer:{where}]"]
    if len(text) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{where}/text]"]
    return []


def _block_problems(block: dict[str, Any], where: str) -> list[str]:
    kind = block["type"]
    if kind == "header":
        return _too_long(block.get("text"), 150, f"{where}/text")
    if kind == "section":
        problems = _too_long(block.get("text"), 3000, f"{where}/text") if "text" in block else []
        if "text" not in block and not block.get("fields"):
            problems.append(f"section needs text or fields [json-pointer:{where}]")
        if "accessory" in block:
            problems += _element_problems(block["accessory"], f"{where}/accessory")
        return problems
    if kind == "context":
        elements = block.get("elements") or []
        problems = [] if 1 <= len(elements) <= 10 else [f"1 to 10 elements [json-pointer:{where}/elements]"]
        for i, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") in ("mrkdwn", "plain_text"):
                problems += _too_long(element, 3000, f"{where}/elements/{i}")
        return problems
    if kind == "actions":
        elements = block.get("elements") or []
        problems = [] if 1 <= len(elements) <= 25 else [f"1 to 25 elements [json-pointer:{where}/elements]"]
        for i, element in enumerate(elements):
            problems += _element_problems(element, f"{where}/elements/{i}")
        return problems
    return []


def _element_problems(element: Any, where: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"element must be an object [json-pointer:{where}]"]
    problems: list[str] = []
    action_id = element.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or len(action_id) > 255):
        problems.append(f"action_id at most 255 characters [json-pointer:{where}/action_id]")
    kind = element.get("type")
    if kind == "button":
        problems += _too_long(element.get("text"), 75, f"{where}/text")
        if len(str(element.get("value", ""))) > 2000:
            problems.append(f"must be less than 2001 characters [json-pointer:{where}/value]")
    elif kind in ("checkboxes", "static_select", "radio_buttons", "overflow"):
        options = element.get("options") or []
        limit = 10 if kind == "checkboxes" else 100
        if not 1 <= len(options) <= limit:
            problems.append(f"1 to {limit} options [json-pointer:{where}/options]")
        for i, option in enumerate(options):
            problems += _too_long(
                option.get("text") if isinstance(option, dict) else None, 75, f"{where}/options/{i}/text"
            )
            if isinstance(option, dict) and len(str(option.get("value", ""))) > 150:
                problems.append(f"must be less than 151 characters [json-pointer:{where}/options/{i}/value]")
    return problems


# --- the HTTP side -----------------------------------------------------------------------------


def _serve(fake: FakeSlackServer, request: Request) -> Reply:
    path = urlsplit(request.path).path
    method = _method(path)
    body = {} if method == UPLOAD else _parse(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    fake._record(RecordedRequest(method, path, headers, body, request.body))
    script = fake._take_script(method)
    if script is not None and script.delay:
        fake._wait(script.delay)
        script = None
    if script is not None:
        return _failure(method, script)
    if method == WEBHOOK:
        return Reply(200, b"ok")
    if method == UPLOAD:
        if fake._receive_upload(path.rpartition("/")[2], request.body):
            return Reply(200, b"OK - uploaded")
        return Reply(404, b"unknown upload")
    return _json_reply(200, fake._answer(method, body, headers))


def _method(path: str) -> str:
    if path.startswith("/api/"):
        return path[len("/api/") :]
    if path.startswith("/services/"):
        return WEBHOOK
    if path.startswith("/upload/"):
        return UPLOAD
    return path.lstrip("/")


def _parse(request: Request) -> dict[str, Any]:
    content_type = request.header("content-type")
    text = request.body.decode("utf-8", "replace")
    if "json" in content_type:
        try:
            parsed = json.loads(text) if text else {}
        except ValueError:
            return {"_unparsed": text}
        return parsed if isinstance(parsed, dict) else {"_json": parsed}
    if "x-www-form-urlencoded" in content_type or (not content_type and "?" in request.path):
        source = text or urlsplit(request.path).query
        return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(source).items()}
    return {}


def _failure(method: str, script: _Script) -> Reply:
    headers: dict[str, str] = {}
    if script.status == 429 and script.retry_after is not None:
        headers["Retry-After"] = f"{float(script.retry_after):g}"
    if method in (WEBHOOK, UPLOAD):
        return Reply(script.status, (script.error or "error").encode(), headers=headers)
    return _json_reply(script.status, _error(script.error or "internal_error"), headers)


def _json_reply(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(body).encode("utf-8"), "application/json; charset=utf-8", headers or {})
