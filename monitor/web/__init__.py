"""The web console served by the daemon on ``http.listen`` (docs/console.md)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from monitor.web.console import AuthSettings, Console, User

__all__ = ["AuthSettings", "Console", "User", "build_console"]

log = logging.getLogger(__name__)


def build_console(
    config: Any, engine: Any, store: Any, clock: Any, ops: Any, env: Mapping[str, str], *, cut: float
) -> Console:
    """The console of a daemon: its rules, roster and sources as currently loaded (the engine's
    current view, ``monitor.config.current``, swapped on reload). ``cut``: the negative-sentiment cut."""

    def configured() -> dict[str, Any]:
        current = engine.current.config or config
        return {s.name: (s.type, s.expected_silence) for s in current.sources}

    return Console(
        store=store,
        ops=ops,
        clock=clock,
        rules=lambda: engine.definitions.rules.rules,
        roster=lambda: engine.current.roster,
        sources=configured,
        evaluated=engine.metrics.last_evaluation,
        auth=auth_settings(config.http.auth, env),
        ack_timeout=config.incidents.ack_timeout,
        cut=cut,
        zone=ZoneInfo(config.timezone),
    )


def auth_settings(auth: Any, env: Mapping[str, str]) -> AuthSettings | None:
    from monitor.web.auth import Sessions

    if auth is None:
        return None
    secret = env.get(auth.secret_env, "").encode("utf-8")
    if len(secret) < 16:
        if secret:
            log.warning("%s is shorter than 16 bytes: using a random session key instead", auth.secret_env)
        else:
            log.warning("%s is not set: console logins end when the daemon restarts", auth.secret_env)
        secret = os.urandom(32)
    users = {u.login: User(u.login, u.password_hash, u.person) for u in auth.users}
    return AuthSettings(users, Sessions(secret, auth.session_lifetime), auth.secure_cookie, tuple(auth.act_roles))
