"""YAML loading that remembers where every value came from, for ``path:line`` errors.

It is also the guard against hostile files (rule, playbook, roster and config files are
edited by admins, and rule files are hot-reloaded from a folder): a file is refused with a
``path:line`` problem, before it can use much time or memory, when it

- is larger than ``MAX_BYTES`` (1 MiB; the shipped rule files are a few KiB);
- holds a NUL byte or is not UTF-8;
- nests more than ``MAX_DEPTH`` levels (checked on the parser's event stream, before any
  tree is built, so a 5,000-deep ``[[[[...`` costs nothing);
- uses aliases that expand to more than ``MAX_ALIAS_NODES`` extra nodes (a "billion laughs"),
  or an alias that contains itself;
- has a value the YAML types cannot hold (a 5,000-digit number, a 13th month).

With libyaml (PyYAML's C extension) a file at the size limit loads in about a second.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import Problem

Loc = tuple[str | int, ...]

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_ALIAS_NODES = 10_000

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed


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


class _Refused(Exception):
    def __init__(self, line: int, fld: str, found: str, expected: str) -> None:
        self.args_ = (line, fld, found, expected)


class _Builder:
    """Builds plain data from composed nodes, with a budget for what aliases expand to."""

    def __init__(self, budget: int, lines: dict[Loc, int]) -> None:
        self.budget = budget
        self.lines = lines
        self.constructor = yaml.constructor.SafeConstructor()
        self.open: set[int] = set()  # ids of the collections being built (a cycle means a recursive alias)

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        line = node.start_mark.line + 1
        self.lines[loc] = line
        self.budget -= 1
        if self.budget < 0:
            raise _Refused(
                line,
                "yaml",
                f"aliases expanding to more than {MAX_ALIAS_NODES} values",
                "a file without alias bombs (use fewer or smaller aliases)",
            )
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self.open:
                raise _Refused(line, "yaml", "an alias that contains itself", "aliases to finished values")
            self.open.add(id(node))
            try:
                return self._mapping(node, loc) if isinstance(node, yaml.MappingNode) else self._sequence(node, loc)
            finally:
                self.open.discard(id(node))
        return self._scalar(node, line)

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(key_line, "yaml", "a list or mapping used as a key", "a plain key")
            key = self._scalar(key_node, key_line)
            if key in result:
                raise _Refused(key_line, "yaml", f"duplicate key {key!r}", "unique keys")
            child = (*loc, key if isinstance(key, str | int) else str(key))
            result[key] = self.build(value_node, child)
            self.lines[child] = key_line
        return result

    def _sequence(self, node: yaml.SequenceNode, loc: Loc) -> list[Any]:
        return [self.build(n, (*loc, i)) for i, n in enumerate(node.value)]

    def _scalar(self, node: yaml.Node, line: int) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except (ValueError, OverflowError, TypeError, yaml.YAMLError) as exc:
            shown = str(getattr(node, "value", ""))
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise _Refused(line, "yaml", f"{shown!r} ({_one_line(exc)})", "a value YAML can hold") from None


def load_yaml(path: Path | str, text: str | None = None) -> Located:
    """Parse one YAML file; raise ``ConfigError`` with the line on any problem (see the module)."""
    name = str(path)
    if text is None:
        text = _read(name)
    elif len(text) > MAX_BYTES:
        raise _error(name, 1, "file", f"{len(text)} characters", f"a file of at most {MAX_BYTES} bytes (1 MiB)")
    nul = text.find("\x00")
    if nul >= 0:
        raise _error(name, text.count("\n", 0, nul) + 1, "file", "a NUL byte", "text without NUL bytes")
    located = Located(path=name, data=None)
    try:
        nodes = _shape(name, text)
        node = yaml.compose(text, Loader=_Loader)
        if node is not None:
            located.data = _Builder(nodes + MAX_ALIAS_NODES, located.lines).build(node, ())
    except _Refused as exc:
        raise _error(name, *exc.args_) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise _error(name, mark.line + 1 if mark else 1, "yaml", str(exc.problem), "valid YAML") from None
    except yaml.YAMLError as exc:  # e.g. a character YAML does not allow
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 1
        raise _error(name, line, "yaml", _one_line(exc), "valid YAML") from None
    return located


def _read(name: str) -> str:
    path = Path(name)
    try:
        if path.is_dir():
            raise _error(name, 1, "file", "a folder", "a YAML file")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise _error(name, 1, "file", f"{size} bytes", f"a file of at most {MAX_BYTES} bytes (1 MiB)")
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # the file may grow between stat and read
    except FileNotFoundError:
        raise _error(name, 1, "file", "no such file", "an existing YAML file") from None
    except OSError as exc:
        raise _error(name, 1, "file", f"unreadable ({exc.strerror or exc})", "a readable YAML file") from None
    if len(raw) > MAX_BYTES:
        raise _error(name, 1, "file", f"more than {MAX_BYTES} bytes", f"a file of at most {MAX_BYTES} bytes (1 MiB)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _error(name, line, "file", f"invalid UTF-8 ({exc.reason})", "UTF-8 text") from None


def _events(name: str, text: str) -> Iterator[yaml.Event]:
    """The parser's events; libyaml's own nesting limit (newer releases) reads as ours."""
    try:
        yield from yaml.parse(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" not in str(exc.problem or ""):
            raise
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise _error(name, line, "yaml", f"nesting deeper than {MAX_DEPTH} levels", f"at most {MAX_DEPTH}") from None


def _shape(name: str, text: str) -> int:
    """Walk the parser's events (no tree, no recursion): refuse deep nesting, recursive aliases
    and aliases that expand too much (at the line that uses them); return the node count."""
    depth = nodes = 0
    sizes: dict[str, int] = {}  # anchor -> how many values it expands to
    stack: list[tuple[str | None, int]] = [(None, 0)]  # per open collection: its anchor, values so far
    for event in _events(name, text):
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            nodes += 1
            if depth > MAX_DEPTH:
                raise _error(name, line, "yaml", f"nesting deeper than {MAX_DEPTH} levels", f"at most {MAX_DEPTH}")
            stack.append((event.anchor, 1))
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, size = stack.pop()
            if anchor is not None:
                sizes[anchor] = size
            stack[-1] = (stack[-1][0], stack[-1][1] + size)
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
            stack[-1] = (stack[-1][0], stack[-1][1] + 1)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor in (a for a, _ in stack):
                raise _error(name, line, "yaml", f"alias *{event.anchor} inside its own anchor", "no recursive aliases")
            stack[-1] = (stack[-1][0], stack[-1][1] + sizes.get(event.anchor or "", 1))
            if sum(size for _, size in stack) > nodes + MAX_ALIAS_NODES:
                raise _error(
                    name,
                    line,
                    "yaml",
                    f"aliases expanding to more than {MAX_ALIAS_NODES} values (*{event.anchor})",
                    "a file without alias bombs (use fewer or smaller aliases)",
                )
    return nodes


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _error(path: str, line: int, fld: str, found: str, expected: str) -> Exception:
    from monitor.errors import ConfigError

    return ConfigError([Problem(path, line, fld, found, expected)])
