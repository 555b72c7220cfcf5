"""A disk cache of the segmentation tables derived from SnowNLP's model file.

Deriving them takes seconds (SnowNLP's own file takes seconds just to unmarshal); reading
them back takes about one. The cache file's name depends on the source file's path, size
and modification time and on the table format, so a new snownlp or a new crisismon never
reads stale tables. The directory is ``$CRISISMON_CACHE_DIR``, else
``$XDG_CACHE_HOME/crisismon``, else ``~/.cache/crisismon``; if it cannot be written the
tables are simply derived every time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from monitor.sentiment.segmenter import FORMAT, SegTables


def cache_dir() -> Path:
    """Where derived tables are kept."""
    if os.environ.get("CRISISMON_CACHE_DIR"):
        return Path(os.environ["CRISISMON_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crisismon"


def cache_path(source: Path) -> Path:
    """The cache file for tables derived from ``source``."""
    st = source.stat()
    key = f"{FORMAT}\0{source.resolve()}\0{st.st_size}\0{st.st_mtime_ns}"
    return cache_dir() / f"seg-{hashlib.sha256(key.encode()).hexdigest()[:16]}.bin"


def load_tables(source: Path, build: Callable[[Path], SegTables]) -> SegTables:
    """Tables for ``source`` from the cache, or built (and cached for next time)."""
    path = cache_path(source)
    try:
        return SegTables.from_bytes(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        pass
    tables = build(source)
    _write(path, tables.to_bytes())
    return tables


def _write(path: Path, blob: bytes) -> None:
    """Writes atomically (another process may be reading or writing the same file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    except OSError:
        return
