"""A disk cache of the segmentation tables derived from SnowNLP's model file.

Deriving them takes seconds (SnowNLP's own file takes seconds just to unmarshal); reading
them back takes about one. The cache file's name depends on the source file's contents (its
size and a sha256 of its bytes) and on the table format, so a new snownlp or a new crisismon
never reads stale tables, and every environment with the same snownlp shares one file. When
a file is written, the other ``seg-*.bin`` files are removed: the cache holds the current
tables only and does not grow with each virtual environment. The directory is ``$CRISISMON_CACHE_DIR``, else
``$XDG_CACHE_HOME/crisismon``, else ``~/.cache/crisismon``; if it cannot be written the
tables are simply derived every time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from monitor.sentiment.segtables import FORMAT, SegTables


def cache_dir() -> Path:
    """Where derived tables are kept."""
    if os.environ.get("CRISISMON_CACHE_DIR"):
        return Path(os.environ["CRISISMON_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crisismon"


def cache_path(source: Path) -> Path:
    """The cache file for tables derived from ``source`` (keyed by its contents)."""
    digest = hashlib.sha256()
    digest.update(f"{FORMAT}\0{source.stat().st_size}\0".encode())
    with open(source, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return cache_dir() / f"seg-{digest.hexdigest()[:16]}.bin"


def load_tables(source: Path, build: Callable[[Path], SegTables]) -> SegTables:
    """Tables for ``source`` from the cache, or built (and cached for next time)."""
    path = cache_path(source)
    try:
        return SegTables.from_bytes(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    tables = build(source)
    if _write(path, tables.to_bytes()):
        prune(keep=path)
    return tables


def prune(keep: Path) -> None:
    """Removes every other table file (older formats, other snownlp versions) from the cache."""
    for other in keep.parent.glob("seg-*.bin"):
        if other != keep:
            try:
                other.unlink()
            except OSError:
                continue


def _write(path: Path, blob: bytes) -> bool:
    """Writes atomically (another process may be reading or writing the same file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except OSError:
        return False
    return True
