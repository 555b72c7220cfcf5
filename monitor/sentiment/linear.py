"""The default sentiment model: logistic regression on hashed character n-grams plus layers.

score(text) = sigmoid(bias + sum(weights[b] for b in buckets) / sqrt(len(buckets))
                      + layers . counts)

where ``buckets`` are the distinct hashed character 1..n-grams of the prepared text
(``features``) and ``counts`` the capped counts of positive and negative emoticon codes and of
crisis terms. Inference is numpy only and scores a whole batch with a handful of array
operations.

File format (``save``/``load``): the line ``crisismon-sentiment-linear``, a line of JSON (format
version, hashing parameters, bias, layer weights, negative cut, training notes, sha256 and
length of the payload), then the payload: the zlib-compressed little-endian float32 weights.
A file that is cut short, altered, or of another version is refused with its path.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.sentiment.errors import ModelNotFound
from monitor.sentiment.features import EXTRAS, Prepared, ngram_pairs

MAGIC = b"crisismon-sentiment-linear\n"
FORMAT_VERSION = 1
DEFAULT_MODEL = Path(__file__).resolve().parent / "data" / "default.model"


class BadModel(ModelNotFound):
    """A model file that is corrupt, cut short, or of a version this crisismon cannot read."""


@dataclass(frozen=True)
class LinearModel:
    """Weights per hash bucket, a bias, one weight per layer, and the calibrated negative cut."""

    weights: npt.NDArray[np.float32]
    bias: float
    layers: tuple[float, ...]
    cut: float
    max_n: int = 3
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def bits(self) -> int:
        return len(self.weights).bit_length() - 1

    def logits(self, prepared: Sequence[Prepared]) -> npt.NDArray[np.float64]:
        """The linear score of each prepared text (before the sigmoid)."""
        doc, bucket, counts = ngram_pairs([p.text for p in prepared], self.bits, self.max_n)
        sums = np.bincount(doc, weights=self.weights[bucket].astype(np.float64), minlength=len(prepared))
        z = self.bias + sums / np.sqrt(np.maximum(counts, 1))
        if prepared:
            extras = np.array([p.extras for p in prepared], dtype=np.float64)
            z = z + extras @ np.array(self.layers, dtype=np.float64)
        return np.asarray(z, dtype=np.float64)

    def probabilities(self, prepared: Sequence[Prepared]) -> npt.NDArray[np.float64]:
        """P(positive) of each prepared text."""
        return sigmoid(self.logits(prepared))


def sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * z))
    return out


def to_bytes(model: LinearModel) -> bytes:
    payload = zlib.compress(np.ascontiguousarray(model.weights, dtype="<f4").tobytes(), 6)
    header = {
        "format": FORMAT_VERSION,
        "bits": model.bits,
        "max_n": model.max_n,
        "bias": model.bias,
        "layers": dict(zip(EXTRAS, model.layers, strict=True)),
        "cut": model.cut,
        "info": model.info,
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
    }
    return MAGIC + json.dumps(header, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n" + payload


def from_bytes(blob: bytes, path: Path) -> LinearModel:
    """The model in ``blob`` (read from ``path``, named in every error)."""
    if not blob.startswith(MAGIC):
        raise BadModel(f"{path} is not a crisismon sentiment model (it does not start with {MAGIC[:-1].decode()!r})")
    end = blob.find(b"\n", len(MAGIC))
    try:
        header = json.loads(blob[len(MAGIC) : end].decode("utf-8")) if end > 0 else None
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict):
        raise BadModel(f"{path}: the model header is damaged: retrain or reinstall the model")
    version = header.get("format")
    if version != FORMAT_VERSION:
        raise BadModel(
            f"{path}: model format version {version!r}, this crisismon reads version {FORMAT_VERSION}: "
            "retrain it with 'crisismon sentiment train'"
        )
    payload = blob[end + 1 :]
    if len(payload) != header.get("payload_bytes") or hashlib.sha256(payload).hexdigest() != header.get(
        "payload_sha256"
    ):
        raise BadModel(f"{path}: the model file is corrupt or cut short (checksum mismatch): retrain or reinstall it")
    try:
        bits, max_n = int(header["bits"]), int(header["max_n"])
        weights = np.frombuffer(zlib.decompress(payload), dtype="<f4").astype(np.float32)
        layers = tuple(float(header["layers"][name]) for name in EXTRAS)
        model = LinearModel(weights, float(header["bias"]), layers, float(header["cut"]), max_n, header.get("info", {}))
    except (KeyError, TypeError, ValueError, zlib.error) as exc:
        raise BadModel(f"{path}: the model header is incomplete ({exc}): retrain or reinstall the model") from exc
    if len(weights) != 1 << bits or not 0 < model.cut < 1 or not 1 <= max_n <= 6:
        raise BadModel(f"{path}: the model's sizes do not agree with its header: retrain or reinstall it")
    return model


def load(path: str | Path = DEFAULT_MODEL) -> LinearModel:
    """A model from a file written by ``save``."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ModelNotFound(f"cannot read the sentiment model {path}: {exc.strerror}") from exc
    return from_bytes(blob, path)


def is_linear_model(path: str | Path) -> bool:
    """Whether ``path`` starts like a file written by ``save`` (without reading the rest)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def save(model: LinearModel, path: str | Path) -> None:
    """Writes atomically: a reader never sees half a model."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(to_bytes(model))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
