"""Turn pydantic validation errors into ``path:line: field: found, expected`` problems."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from monitor.config.yamlload import Loc, Located
from monitor.errors import Problem

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for config models: frozen, and unknown keys are errors (catches typos)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def validate(model: type[M], located: Located, data: Any, prefix: Loc = ()) -> tuple[M | None, list[Problem]]:
    """Validate ``data`` (found at ``prefix`` in ``located``) into ``model``."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [_problem(located, prefix, err) for err in exc.errors()]


def _problem(located: Located, prefix: Loc, err: Any) -> Problem:
    loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
    if kind_of(err) in ("union_tag_invalid", "union_tag_not_found"):  # name the key that picks the member
        loc = (*loc, str((err.get("ctx") or {}).get("discriminator", "")).strip("'\"") or "type")
    full = _without_tags(located, (*prefix, *loc))
    field = ".".join(str(p) for p in full) or "(document)"
    kind = err["type"]
    found = _found(err, kind)
    expected = _expected(err, kind)
    return Problem(located.path, located.line_of(full), field, found, expected)


def kind_of(err: Any) -> str:
    return str(err["type"])


def _without_tags(located: Located, full: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop a discriminated union's tag (``sources.0.rss.name`` -> ``sources.0.name``): a part
    that is no key of the file, between two that are."""
    kept: list[Any] = []
    for index, part in enumerate(full):
        inner = index < len(full) - 1
        known = tuple(kept) in located.lines and (*kept, part) not in located.lines
        if inner and isinstance(part, str) and known and (*kept, full[index + 1]) in located.lines:
            continue
        kept.append(part)
    return tuple(kept)


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the union member's name into loc ("function-after[...]", model names)
    return isinstance(part, str) and ("[" in part or part[:1].isupper())


def found_expected(found: str, expected: str) -> PydanticCustomError:
    """Raise from a validator to say exactly what was found and what was expected."""
    return PydanticCustomError("found_expected", "{expected}", {"found": found, "expected": expected})


def _found(err: Any, kind: str) -> str:
    ctx = err.get("ctx") or {}
    if "found" in ctx:
        return str(ctx["found"])
    if kind == "missing":
        return "nothing"
    if kind == "extra_forbidden":
        return f"unknown field {err['loc'][-1]!r}"
    value = err.get("input")
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text


def _expected(err: Any, kind: str) -> str:
    if kind == "missing":
        return "this required field"
    if kind == "extra_forbidden":
        return "one of the documented fields (see docs/)"
    msg: str = err.get("msg", "a valid value")
    for prefix in ("Value error, ", "Assertion failed, ", "Input should be "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return msg[0].lower() + msg[1:] if msg else msg


def sequence_locs(items: Sequence[Any], prefix: Loc) -> list[Loc]:
    return [(*prefix, i) for i in range(len(items))]
