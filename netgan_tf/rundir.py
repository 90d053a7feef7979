"""The run directory: `model.keras`, `detector.json`, `history.csv`, `checkpoints/`; atomic writes; schema checks.

A run directory is data, not code: `detector.json` is plain JSON validated against the schema below, and the model
is loaded with `safe_mode=True`. Every file is written to a temporary name in the same directory and renamed into
place, so an interrupted or failed write never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netgan_tf.errors import ConfigError

SCHEMA_VERSION = 1
MODEL_FILE = "model.keras"
DETECTOR_FILE = "detector.json"
HISTORY_FILE = "history.csv"
CHECKPOINT_DIR = "checkpoints"
BACKUP_DIR = "checkpoints/backup"


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None], suffix: str = "") -> None:
    """Calls `write(tmp_path)` and renames the result onto `path`; removes the temporary file on failure."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    atomic_write(path, write)


def check_writable(directory: str | os.PathLike[str]) -> Path:
    """Creates `directory` if needed and proves it is writable now, before any long work starts."""
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=d)
        os.write(fd, b"x" * 4096)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"cannot write to output directory {d}: {exc.strerror or exc}") from exc
    return d


# ---------------------------------------------------------------------------------------------- schema checks
def _require(cond: bool, what: str) -> None:
    if not cond:
        raise ConfigError(f"detector.json: {what}")


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def validate_detector_config(cfg: Any) -> dict[str, Any]:
    """Checks types, ranges and consistency of a loaded detector.json; returns it or raises ConfigError."""
    _require(isinstance(cfg, dict), "top level must be a JSON object")
    _require(cfg.get("schema_version") == SCHEMA_VERSION, f"schema_version must be {SCHEMA_VERSION}")
    features = cfg.get("features")
    _require(
        isinstance(features, list) and len(features) > 0 and all(isinstance(f, str) for f in features),
        "'features' must be a non-empty list of column names",
    )
    _require(len(set(features)) == len(features), "'features' has duplicate names")
    n = len(features)
    _require(_positive_int(cfg.get("window")), "'window' must be a positive integer")
    _require(_positive_int(cfg.get("stride")), "'stride' must be a positive integer")
    for key in ("time_column", "label_column"):
        _require(cfg.get(key) is None or isinstance(cfg.get(key), str), f"'{key}' must be a string or null")
    _require(isinstance(cfg.get("fill"), str), "'fill' must be a string")

    scaler = cfg.get("scaler")
    _require(isinstance(scaler, dict), "'scaler' must be an object")
    for key in ("mul", "add"):
        values = scaler.get(key)
        _require(
            isinstance(values, list) and len(values) == n, f"scaler '{key}' must have {n} values (one per feature)"
        )
        _require(all(_finite_number(v) for v in values), f"scaler '{key}' values must be finite numbers")

    model = cfg.get("model")
    _require(isinstance(model, dict), "'model' must be an object")
    _require(model.get("n_features") == n, f"model n_features must equal the {n} features")
    _require(model.get("window") == cfg["window"], "model window must equal 'window'")

    scoring = cfg.get("scoring")
    _require(isinstance(scoring, dict), "'scoring' must be an object")
    norm = scoring.get("normalization")
    _require(isinstance(norm, dict), "'scoring.normalization' must be an object")
    scale = norm.get("feature_scale")
    _require(isinstance(scale, list) and len(scale) == n, f"normalization feature_scale must have {n} values")
    _require(
        all(_finite_number(norm.get(k)) for k in ("weight", "rec_mean", "rec_std", "dis_mean", "dis_std")),
        "normalization statistics must be finite numbers",
    )
    _require(all(_finite_number(v) and v > 0 for v in scale), "normalization feature_scale must be > 0")
    inv = scoring.get("inversion")
    _require(isinstance(inv, dict), "'scoring.inversion' must be an object")
    _require(isinstance(inv.get("steps"), int) and inv["steps"] >= 0, "inversion steps must be an integer >= 0")

    threshold = cfg.get("threshold")
    _require(isinstance(threshold, dict), "'threshold' must be an object")
    _require(_finite_number(threshold.get("value")), "threshold value must be a finite number")
    _require(_finite_number(threshold.get("streaming_value")), "threshold streaming_value must be a finite number")
    return cfg


def read_detector_config(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(run_dir) / DETECTOR_FILE
    if not path.is_file():
        raise ConfigError(f"{path} not found: is {run_dir} a run directory written by `netgan train`?")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    try:
        return validate_detector_config(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def write_detector_config(run_dir: str | os.PathLike[str], cfg: dict[str, Any]) -> None:
    validate_detector_config(cfg)
    atomic_write_text(Path(run_dir) / DETECTOR_FILE, json.dumps(cfg, indent=2, allow_nan=False) + "\n")
