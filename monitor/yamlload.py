"""YAML loading that remembers where every value came from, for ``path:line`` errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import Problem

Loc = tuple[str | int, ...]


@dataclass
class Located:
    """Parsed data plus the 1-based line of each mapping key and sequence entry."""

    path: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int:
        """The line of ``loc``, or of its nearest ancestor that has one."""
        parts = tuple(loc)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), 1)


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last."""


def _construct(node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: str) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _Loader(io_empty()).construct_object(key_node, deep=True)
            if key in result:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            child = (*loc, key if isinstance(key, str | int) else str(key))
            result[key] = _construct(value_node, child, lines, path)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(n, (*loc, i), lines, path) for i, n in enumerate(node.value)]
    return _Loader(io_empty()).construct_object(node, deep=True)


def io_empty() -> str:
    return ""


def load_yaml(path: Path | str, text: str | None = None) -> Located:
    """Parse one YAML file; raise ``ConfigError`` with the line on a syntax error."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise _error(name, 1, "file", "no such file", "an existing YAML file") from None
        except UnicodeDecodeError as exc:
            raise _error(name, 1, "file", f"invalid UTF-8 ({exc.reason})", "UTF-8 text") from None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise _error(name, line, "yaml", str(exc.problem), "valid YAML") from None
    located = Located(path=name, data=None)
    if node is None:
        return located
    try:
        located.data = _construct(node, (), located.lines, name)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else 1
        raise _error(name, line, "yaml", str(exc.problem), "unique keys") from None
    return located


def _error(path: str, line: int, fld: str, found: str, expected: str) -> Exception:
    from monitor.errors import ConfigError

    return ConfigError([Problem(path, line, fld, found, expected)])
