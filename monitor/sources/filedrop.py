"""Complaint files dropped in a folder: CSV or JSON Lines, each ingested once.

Every poll reads the files in the folder (not its subfolders), oldest name first:

- ``*.csv``: a header row naming the columns, at least ``id,time,text``; also read:
  ``category``, ``product``, ``region``, ``brand``, ``channel``, ``store`` (other columns
  are ignored). UTF-8 (with or without BOM), else GB18030 (what Excel writes on Chinese
  Windows).
- ``*.jsonl`` / ``*.ndjson``: one complaint record per line, in the complaints API format.

Once the poll's items are stored (:meth:`FileDropSource.stored`), each file is moved to
``done/``; a file of which no line could be used goes to ``failed/``. Either way, when
some lines were bad, ``<name>.error.txt`` beside it lists each one (line number and
reason). A file with some bad lines keeps its good records and goes to ``done/``: the
good records are real complaints, and holding them back would hide a crisis behind one
malformed row.

Partial files are left alone: names starting with ``.`` or ``~``, or ending in ``.tmp``,
``.part``, ``.partial``, ``.crdownload`` or ``.swp``. Writers should write under such a
name and rename when done (a rename within a folder is atomic).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from monitor.models import FetchResult, Item
from monitor.sources.complaints import ATTR_FIELDS, parse_record

log = logging.getLogger(__name__)

FileFormat = Literal["auto", "csv", "jsonl"]
PARTIAL_PREFIXES = (".", "~")
PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", ".error.txt")
SUFFIX_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
REQUIRED_COLUMNS = ("id", "time", "text")
KNOWN_COLUMNS = (*REQUIRED_COLUMNS, "category", *ATTR_FIELDS)
DONE, FAILED = "done", "failed"
REPORT_SUFFIX = ".error.txt"


@dataclass
class FileOutcome:
    """What one poll made of one file."""

    path: Path
    items: list[Item] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason); 0: the whole file

    @property
    def folder(self) -> str:
        return DONE if self.items or not self.bad_lines else FAILED

    def summary(self) -> str:
        first = "; ".join(f"line {n}: {r}" if n else r for n, r in self.bad_lines[:3])
        more = f"; ... and {len(self.bad_lines) - 3} more" if len(self.bad_lines) > 3 else ""
        return (
            f"{self.path.name}: {len(self.bad_lines)} bad line(s), kept {len(self.items)} record(s), "
            f"moved to {self.folder}/ ({first}{more})"
        )

    def report(self) -> str:
        lines = [
            f"crisismon: {self.path.name}: {len(self.bad_lines)} problem(s); kept {len(self.items)} record(s); "
            f"the file is in {self.folder}/",
        ]
        lines.extend(f"line {n}: {reason}" if n else f"file: {reason}" for n, reason in self.bad_lines)
        return "\n".join(lines) + "\n"


class FileDropSource:
    """Reads the files dropped in ``folder``; implements ``Source`` and the ``stored`` hook."""

    def __init__(self, name: str, folder: Path, *, format: FileFormat = "auto", max_bytes: int = 10_000_000) -> None:
        if format not in ("auto", "csv", "jsonl"):
            raise ValueError(f"format: found {format!r}, expected auto, csv or jsonl")
        self.name = name
        self.folder = Path(folder)
        self.format: FileFormat = format
        self.max_bytes = max_bytes
        self._pending: list[FileOutcome] = []

    def fetch(self, now: datetime) -> FetchResult:
        self._pending = []
        if not self.folder.is_dir():
            return FetchResult(errors=[f"folder {self.folder} does not exist or is not a folder"])
        try:
            paths = sorted(p for p in self.folder.iterdir() if p.is_file() and not is_partial(p.name))
        except OSError as exc:
            return FetchResult(errors=[f"folder {self.folder}: cannot list it ({exc})"])
        items: list[Item] = []
        errors: list[str] = []
        for path in paths:
            outcome = self.read(path)
            self._pending.append(outcome)
            items.extend(outcome.items)
            if outcome.bad_lines:
                errors.append(outcome.summary())
        return FetchResult(items=items, errors=errors)

    def read(self, path: Path) -> FileOutcome:
        outcome = FileOutcome(path)
        fmt = self.format if self.format != "auto" else SUFFIX_FORMATS.get(path.suffix.lower())
        if fmt is None:
            known = ", ".join(SUFFIX_FORMATS)
            outcome.bad_lines.append((0, f"unknown file type {path.suffix or '(none)'!r}: expected {known}"))
            return outcome
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                outcome.bad_lines.append((0, f"the file is {size} bytes; the cap is max_bytes={self.max_bytes}"))
                return outcome
            text = decode(path.read_bytes())
        except OSError as exc:
            outcome.bad_lines.append((0, f"cannot read the file ({exc})"))
            return outcome
        rows = read_csv(text) if fmt == "csv" else read_jsonl(text)
        for line, record, problem in rows:
            if problem is not None:
                outcome.bad_lines.append((line, problem))
                continue
            item, problem = parse_record(self.name, record)
            if item is None:
                outcome.bad_lines.append((line, problem or "unusable record"))
            else:
                outcome.items.append(item)
        return outcome

    def stored(self, now: datetime) -> None:
        """The last fetch's items are stored: move each file to done/ or failed/, reports beside them."""
        pending, self._pending = self._pending, []
        for outcome in pending:
            target = move_aside(outcome.path, self.folder / outcome.folder, now)
            if outcome.bad_lines:
                report = target.with_name(target.name + REPORT_SUFFIX)
                report.write_text(outcome.report(), encoding="utf-8")
            log.info("source %s: %s -> %s", self.name, outcome.path.name, target)

    def __repr__(self) -> str:
        return f"FileDropSource({self.name!r}, {str(self.folder)!r}, format={self.format!r})"


def is_partial(name: str) -> bool:
    """A file still being written (by convention), or one of our own reports."""
    lowered = name.lower()
    return name.startswith(PARTIAL_PREFIXES) or lowered.endswith(PARTIAL_SUFFIXES)


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors="replace")


Row = tuple[int, dict[str, Any] | None, str | None]


def read_csv(text: str) -> Iterator[Row]:
    """(line number, record, problem) per data row; the header is line 1."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        yield 1, None, f"unreadable header ({exc})"
        return
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        yield 1, None, f"the header lacks column(s) {', '.join(missing)} (expected {','.join(KNOWN_COLUMNS)})"
        return
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, None, f"unreadable CSV ({exc})"
            return
        if cells:
            yield line, *_csv_record(header, cells)
        line = reader.line_num + 1


def _csv_record(header: Sequence[str], cells: Sequence[str]) -> tuple[dict[str, Any] | None, str | None]:
    if len(cells) != len(header):
        return None, f"{len(cells)} field(s), expected {len(header)} (as in the header)"
    return {k: v.strip() for k, v in zip(header, cells, strict=True) if k in KNOWN_COLUMNS and v.strip()}, None


def read_jsonl(text: str) -> Iterator[Row]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line), None
        except ValueError as exc:
            yield number, None, f"invalid JSON ({exc})"


def move_aside(path: Path, folder: Path, now: datetime) -> Path:
    """Move ``path`` into ``folder`` (created if needed), never over an existing file."""
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists() or target.with_name(target.name + REPORT_SUFFIX).exists():
        target = folder / f"{path.stem}.{now:%Y%m%dT%H%M%S}{path.suffix}"
        n = 1
        while target.exists():
            target = folder / f"{path.stem}.{now:%Y%m%dT%H%M%S}-{n}{path.suffix}"
            n += 1
    path.replace(target)
    return target
