"""``/v1/silences`` of the HTTP API (bearer token, like every /v1 endpoint).

- ``GET /v1/silences`` — active silences and those to come (``?all=1``: ended ones too);
- ``POST /v1/silences`` — create one: ``{"by": "王芳", "matchers": ["rule=launch_spike"],
  "for": "6h" | "until": "2026-11-25T18:00+08:00", "from": "…" (optional), "comment": "…"}``,
  or ``{"by": …, "text": "rule=launch_spike for 6h 新品发布会"}`` (the Slack/CLI text form);
- ``DELETE /v1/silences/ID?by=NAME`` — expire it now (``by``: who, recorded).

Bad input answers 400 with what to write; an unknown silence 404.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from monitor.config.durations import parse_duration
from monitor.http.server import Response, error
from monitor.incidents import silences
from monitor.models import Silence

Handler = Callable[..., Any]


def silence_routes(api: Any) -> list[tuple[str, re.Pattern[str], Handler]]:
    """The routes to add to :class:`monitor.http.api.Api` (which gives the store and the clock)."""
    return [
        ("GET", re.compile(r"^/v1/silences$"), lambda **kw: _list(api, **kw)),
        ("POST", re.compile(r"^/v1/silences$"), lambda **kw: _create(api, **kw)),
        ("DELETE", re.compile(r"^/v1/silences/(\d{1,12})$"), lambda silence_id, **kw: _expire(api, silence_id, **kw)),
    ]


def _list(api: Any, *, query: Mapping[str, list[str]], **_: Any) -> Any:
    now = api.clock.now()
    found = silences.list_silences(api.store, now, include_ended=query.get("all") in (["1"], ["true"]))
    return Response(200, [silences.as_json(s, now) for s in found])


def _create(api: Any, *, body: bytes, **_: Any) -> Any:
    try:
        args = json.loads(body or b"{}")
    except ValueError:
        return error(400, 'the body must be a JSON object such as {"by": "王芳", "text": "rule=x for 2h why"}')
    if not isinstance(args, dict) or not isinstance(args.get("by"), str) or not args["by"].strip():
        return error(400, 'say who creates it: a JSON object with a non-empty "by"')
    now = api.clock.now()
    try:
        made = _from_args(api.store, args, now)
    except silences.SilenceError as exc:
        return error(400, str(exc))
    return Response(201, silences.as_json(made, now))


def _from_args(store: Any, args: Mapping[str, Any], now: Any) -> Silence:
    if isinstance(args.get("text"), str):
        return silences.create_from_text(store, args["text"], args["by"], now)
    matchers = args.get("matchers")
    if not isinstance(matchers, list) or not all(isinstance(m, str) for m in matchers):
        raise silences.SilenceError('give "matchers" as a list of strings such as ["rule=x"], or a "text"')
    strings = {k: args.get(k) for k in ("for", "until", "from", "comment")}
    for key, value in strings.items():
        if value is not None and not isinstance(value, str):
            raise silences.SilenceError(f'"{key}" must be a string')
    try:
        duration = parse_duration(strings["for"]) if strings["for"] else None
    except ValueError as exc:
        raise silences.SilenceError(f'"for": expected {exc}') from None
    return silences.create(
        store,
        silences.parse_matchers(matchers),
        author=args["by"],
        comment=strings["comment"] or "",
        now=now,
        starts_at=silences.parse_time(strings["from"], now) if strings["from"] else None,
        ends_at=silences.parse_time(strings["until"], now) if strings["until"] else None,
        duration=duration,
    )


def _expire(api: Any, silence_id: str, *, query: Mapping[str, list[str]], **_: Any) -> Any:
    now = api.clock.now()
    by = (query.get("by") or [""])[0]
    try:
        ended = silences.expire(api.store, int(silence_id), now, by=by or None)
    except silences.SilenceError as exc:
        return error(409, str(exc))
    return Response(200, silences.as_json(ended, now))
