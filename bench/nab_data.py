"""Reading a NAB-format corpus for the benchmark: series, windows, published scores.

A corpus is a folder of ``*.csv`` files (header ``timestamp,value``), at its top or in
category folders at any depth (NAB's ``data/<category>/<file>.csv``). A file's category
is the name of the folder it is in. Bad input never stops the run: every problem is
returned as ``path:line: what was found, what happens``, and the caller exits non-zero.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import nab_score as nab


@dataclass(frozen=True)
class Series:
    """One data file: ``name`` is its path under the corpus folder."""

    name: str
    category: str
    timestamps: list[datetime]
    values: list[float]


@dataclass(frozen=True)
class Scored:
    """A series with its NAB scoring facts (standard profile) and its window count."""

    series: Series
    rows: nab.ScoredRows
    n_windows: int


def read_series(path: Path, root: Path) -> tuple[Series | None, list[str]]:
    """One file; rows with a bad timestamp or shape are dropped, a bad value becomes NaN."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return _parse(path, root, list(csv.reader(handle)))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return None, [f"{path}:1: cannot read the file ({exc}); file skipped"]


def _parse(path: Path, root: Path, rows: list[list[str]]) -> tuple[Series | None, list[str]]:
    if not rows:
        return None, [f"{path}:1: empty file, expected a header timestamp,value; file skipped"]
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("timestamp", "value") if c not in header]
    if missing:
        found = ",".join(header)
        return None, [f"{path}:1: missing column {', '.join(missing)} (header {found!r}); file skipped"]
    t_col, v_col = header.index("timestamp"), header.index("value")
    problems: list[str] = []
    stamps: list[datetime] = []
    values: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        parsed = _row(path, line, row, len(header), t_col, v_col, problems)
        if parsed is not None:
            stamps.append(parsed[0])
            values.append(parsed[1])
    name = path.relative_to(root).as_posix()
    return Series(name, path.parent.name, stamps, values), problems


def _row(
    path: Path, line: int, row: list[str], width: int, t_col: int, v_col: int, problems: list[str]
) -> tuple[datetime, float] | None:
    if len(row) != width:
        problems.append(f"{path}:{line}: {len(row)} fields, expected {width}; row skipped")
        return None
    try:
        ts = nab.parse_timestamp(row[t_col])
    except ValueError:
        problems.append(f"{path}:{line}: timestamp {row[t_col]!r}, expected YYYY-MM-DD HH:MM:SS; row skipped")
        return None
    try:
        value = float(row[v_col])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.append(f"{path}:{line}: value {row[v_col]!r}, expected a finite number; scored as no alert")
    return ts, value


def load_corpus(root: Path) -> tuple[list[Series], list[str]]:
    """Every ``*.csv`` under ``root`` (sorted by path), and the problems found reading them."""
    series: list[Series] = []
    problems: list[str] = []
    for path in sorted(root.rglob("*.csv")):
        found, issues = read_series(path, root)
        problems.extend(issues)
        if found is not None:
            series.append(found)
    return series, problems


def load_windows(path: Path) -> tuple[dict[str, list[nab.Window]], list[str]]:
    try:
        return nab.load_windows(path), []
    except (OSError, ValueError, TypeError) as exc:
        return {}, [f"{path}:1: cannot read the windows ({exc}); expected NAB's combined_windows.json"]


def score_facts(
    series: list[Series], windows: dict[str, list[nab.Window]], profile: nab.Profile = nab.STANDARD
) -> tuple[list[Scored], list[str]]:
    """Pair each series with its windows; a series without a usable entry is reported and left out."""
    out: list[Scored] = []
    problems: list[str] = []
    for s in series:
        try:
            file_windows = nab.windows_for(windows, s.name)
            rows = nab.score_rows(s.timestamps, file_windows, profile, s.name)
        except (KeyError, ValueError) as exc:
            problems.append(f"{s.name}:1: {exc.args[0]}; file not scored")
            continue
        out.append(Scored(s, rows, len(file_windows)))
    return out, problems


def load_anchors(path: Path | None) -> dict[str, dict[str, float]]:
    """Published detectors' per-file raw scores: ``{detector: {file base name: raw}}``."""
    if path is None or not path.is_file():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: {f: float(v["raw"]) for f, v in entry.get("per_file", {}).items()}
        for name, entry in data.get("detectors", {}).items()
    }
