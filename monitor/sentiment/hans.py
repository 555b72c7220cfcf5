"""Traditional to simplified Chinese, with SnowNLP's conversion table (``normal/zh.py``).

The table is a Python dict literal; it is read with ``ast`` so that snownlp is not imported.
Conversion is SnowNLP's: at each position the longest key that matches is replaced. Where
the literal lists a key twice (Python would keep the last value), the first mapping is kept
(SnowNLP's last ones turn simplified 余 into 馀), except 畫 -> 画.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Mapping

from monitor.sentiment.errors import ModelNotFound
from monitor.sentiment.snowdata import data_file

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


@functools.lru_cache(maxsize=1)
def _table() -> tuple[Mapping[str, str], int, frozenset[str]]:
    table = parse_table(data_file("normal", "zh.py").read_text(encoding="utf-8"))
    longest = max(len(k) for k in table)
    starts = frozenset(k[0] for k in table if len(k) > 1)
    return table, longest, starts


def to_simplified(text: str) -> str:
    """``text`` with traditional characters and phrases replaced by simplified ones."""
    table, longest, starts = _table()
    out: list[str] = []
    pos, n = 0, len(text)
    while pos < n:
        ch = text[pos]
        if ch in starts:
            for size in range(min(longest, n - pos), 1, -1):
                hit = table.get(text[pos : pos + size])
                if hit is not None:
                    out.append(hit)
                    pos += size
                    break
            else:
                out.append(table.get(ch, ch))
                pos += 1
        else:
            out.append(table.get(ch, ch))
            pos += 1
    return "".join(out)
