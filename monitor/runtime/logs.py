"""Log output: the usual text lines, or one JSON object per line (``--log-format json``).

A JSON line has ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the fields a
call passed with ``extra={...}``, and ``source``, ``rule`` or ``incident`` when the message
names one the way crisismon's messages do (``"source %s: ..."``, ``"incident %d opened"``,
``"rule %s ..."``): log shippers can filter on them without parsing the text.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

HANDLER = "crisismon"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime", "taskName"}
_NAMED = re.compile(r"\b(source|rule|incident)\s+#?(%[sdr])")
_PLACEHOLDER = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[sdrifgx%]")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(named_fields(record))
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def named_fields(record: logging.LogRecord) -> dict[str, Any]:
    """``source``/``rule``/``incident`` taken from the arguments of a message that names them."""
    if not isinstance(record.msg, str) or not isinstance(record.args, tuple):
        return {}
    fields: dict[str, Any] = {}
    for match in _NAMED.finditer(record.msg):
        index = len([p for p in _PLACEHOLDER.findall(record.msg[: match.start(2)]) if p != "%%"])
        if index < len(record.args):
            fields.setdefault(match.group(1), record.args[index])
    return fields


def configure(level: str, fmt: str) -> None:
    """Log to standard error at ``level`` as ``text`` or ``json``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.set_name(HANDLER)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER]:  # ours from an earlier call only
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
