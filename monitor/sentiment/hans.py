"""Traditional to simplified Chinese, with SnowNLP's conversion table (``normal/zh.py``).

The table is a Python dict literal; it is read with ``ast`` so that snownlp is not imported.
Conversion is SnowNLP's: at each position the longest key that matches is replaced. Where
the literal lists a key twice (Python would keep the last value), the first mapping is kept
(SnowNLP's last ones turn simplified 余 into 馀), except 畫 -> 画.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from monitor.sentiment.errors import ModelNotFound
from monitor.sentiment.snowdata import data_file
from monitor.text.lazy import once

_FIXES = {"畫": "画"}


def parse_table(source: str) -> dict[str, str]:
    """The ``zh2hans`` mapping of a ``zh.py`` source text."""
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "zh2hans"
            and isinstance(node.value, ast.Dict)
        ):
            table: dict[str, str] = {}
            for k, v in zip(node.value.keys, node.value.values, strict=True):
                key, value = ast.literal_eval(k) if k else None, ast.literal_eval(v)
                if isinstance(key, str) and isinstance(value, str) and key not in table:
                    table[key] = value
            return table | _FIXES
    raise ModelNotFound("snownlp/normal/zh.py has no zh2hans table: reinstall snownlp==0.12.3")


@once
def _table() -> tuple[Mapping[str, str], int, frozenset[str]]:
    table = parse_table(data_file("normal", "zh.py").read_text(encoding="utf-8"))
    longest = max(len(k) for k in table)
    starts = frozenset(k[0] for k in table if len(k) > 1)
    return table, longest, starts


@once
def _compiled() -> tuple[dict[int, str], re.Pattern[str]]:
    """A ``str.translate`` table for single characters, and one regex (a trie) matching the
    longest phrase key at a position."""
    table, _, _ = _table()
    singles = {ord(k): v for k, v in table.items() if len(k) == 1}
    trie: dict[str, Any] = {}
    for key in (k for k in table if len(k) > 1):
        node = trie
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}
    return singles, re.compile(_trie_regex(trie))


def _trie_regex(node: dict[str, Any]) -> str:
    """Alternatives that try longer continuations first, so the regex finds the longest key."""
    branches = [re.escape(ch) + _trie_regex(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    if "" in node:
        return "(?:" + "|".join(branches) + ")?"
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


def to_simplified(text: str) -> str:
    """``text`` with traditional characters and phrases replaced by simplified ones.

    At each position the longest phrase key that matches is replaced, else the character: the
    regex scans left to right exactly as SnowNLP's loop does, and the characters between its
    matches are translated one by one."""
    singles, phrases = _compiled()
    table = _table()[0]
    out: list[str] = []
    pos = 0
    for match in phrases.finditer(text):
        out.append(text[pos : match.start()].translate(singles))
        out.append(table[match.group()])
        pos = match.end()
    if pos == 0:
        return text.translate(singles)
    out.append(text[pos:].translate(singles))
    return "".join(out)
