"""``scoring.model`` in the config: the default, ``snownlp``, a trained file; a broken file is
reported by ``crisismon check`` with its path. Also the table cache keeps current files only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.app import build_scorer, negative_cut
from monitor.cli import main
from monitor.config.settings import load_config
from monitor.sentiment import DEFAULT_NEGATIVE_CUT, SNOWNLP_NEGATIVE_CUT, linear, tablecache
from monitor.sentiment.segmenter import SegTables


def _config(tmp_path: Path, model: str) -> Path:
    path = tmp_path / "crisismon.yaml"
    path.write_text(f"database: ':memory:'\nscoring:\n  workers: 0\n  model: {model}\n", encoding="utf-8")
    return path


def _model(path: Path, cut: float = 0.3) -> None:
    weights = np.zeros(1 << 12, dtype=np.float32)
    linear.save(linear.LinearModel(weights, 0.0, (1.0, -1.0, -1.0), cut, 3), path)


def test_default_snownlp_and_trained_models_and_their_cuts(tmp_path: Path) -> None:
    default = load_config(None)
    assert negative_cut(default) == DEFAULT_NEGATIVE_CUT
    snow = load_config(_config(tmp_path, "snownlp"))
    assert negative_cut(snow) == SNOWNLP_NEGATIVE_CUT
    assert build_scorer(snow).score(["好"]) != build_scorer(default).score(["好"])
    _model(tmp_path / "team.model")
    trained = load_config(_config(tmp_path, "team.model"))  # relative to the config file
    assert trained.scoring.model == str(tmp_path / "team.model")
    assert negative_cut(trained) == 0.3
    assert build_scorer(trained).score(["好", "hello"]) == [0.5, None]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda blob: blob[:-7], "corrupt or cut short"),
        (lambda blob: blob.replace(b'"format": 1', b'"format": 7'), "format version 7"),
        (lambda blob: b"garbage", "not a SnowNLP model file"),
    ],
)
def test_check_reports_a_broken_model_with_its_path(
    tmp_path: Path, damage: object, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "team.model"
    _model(model)
    assert callable(damage)
    model.write_bytes(damage(model.read_bytes()))
    config = _config(tmp_path, "team.model")
    assert main(["check", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{config}:4: scoring.model: found " in err and str(model) in err and message in err


def test_check_reports_a_missing_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "nope.model")
    assert main(["check", "--config", str(config)]) == 2
    assert f"{tmp_path / 'nope.model'} does not exist" in capsys.readouterr().err


def test_table_cache_keeps_only_the_current_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISISMON_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "seg.marshal.3"
    source.write_bytes(b"model one")
    copy = tmp_path / "elsewhere" / "seg.marshal.3"  # the same snownlp in another environment
    copy.parent.mkdir()
    copy.write_bytes(b"model one")
    assert tablecache.cache_path(source) == tablecache.cache_path(copy)
    stale = tmp_path / "cache" / "seg-0000000000000000.bin"
    stale.parent.mkdir()
    stale.write_bytes(b"old tables")
    built: list[Path] = []

    def build(path: Path) -> SegTables:
        built.append(path)
        return _tiny_tables()

    tablecache.load_tables(source, build)
    tablecache.load_tables(copy, build)
    assert built == [source]  # the second environment reads the first one's file
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [tablecache.cache_path(source).name]


def _tiny_tables() -> SegTables:
    return SegTables("好", ((0,), (0, 1, 2, 3)), (0.0,) * 16, {}, {})
