"""The run directory: `model.keras`, `detector.json`, `history.csv`, `checkpoints/`; atomic writes; schema checks.

A run directory is data, not code: `detector.json` is plain JSON validated against the schema below, and the model
is loaded with `safe_mode=True`. Every file is written to a temporary name in the same directory and renamed into
place, so an interrupted or failed write never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import math
import os
import re
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
MAX_CONFIG_BYTES = 64 * 2**20  # a detector.json is a few kB; refuse to parse anything absurd
FILL_POLICIES = ("error", "ffill", "interpolate", "zero", "drop")  # as netgan_tf.data.loading
# Temporary names of `atomic_write` (".NAME.<8 mkstemp chars>.tmp...") and of the `check_writable` probe.
_TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp.*|\.write-probe\.[a-z0-9_]{8}")

# mkstemp creates files with mode 0600; a renamed temp file gets the mode a plain open() would have given it.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK

WriteStep = tuple[str | os.PathLike[str], Callable[[str], None], str]


def _stage(path: str | os.PathLike[str], write: Callable[[str], None], suffix: str) -> str:
    """Calls `write(tmp_path)` for a temporary file next to `path`; returns it (removed again on failure)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _FILE_MODE)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return tmp


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None], suffix: str = "") -> None:
    """Calls `write(tmp_path)` and renames the result onto `path`; removes the temporary file on failure."""
    atomic_write_many([(path, write, suffix)])


def atomic_write_many(steps: list[WriteStep]) -> None:
    """Writes every (path, write, suffix) to a temporary file first; only when all of them succeeded are they
    renamed into place, in order. A failing write leaves every target as it was and no temporary file behind."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, write, suffix in steps:
            staged.append((_stage(path, write, suffix), Path(path)))
        while staged:
            tmp, target = staged[0]
            os.replace(tmp, target)
            staged.pop(0)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    atomic_write(path, write)


def remove_stale_temp_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Removes temporary files that a killed process left in `directory` (not recursive); returns them."""
    removed = []
    d = Path(directory)
    if d.is_dir():
        for path in d.iterdir():
            if _TEMP_NAME.fullmatch(path.name) and path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def check_writable(directory: str | os.PathLike[str]) -> Path:
    """Creates `directory` if needed and proves it is writable now, before any long work starts."""
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise ConfigError(f"cannot write to output directory {d}: it exists and is not a directory")
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=d)
        try:
            os.write(fd, b"x" * 4096)
        finally:
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
    _require(cfg.get("fill") in FILL_POLICIES, f"'fill' must be one of {FILL_POLICIES}")

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
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is larger than {MAX_CONFIG_BYTES // 2**20} MiB: not a detector.json")
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # absurdly deep nesting
        raise ConfigError(f"{path} is not a valid detector.json: nested too deeply") from exc
    try:
        return validate_detector_config(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def detector_config_text(cfg: dict[str, Any]) -> str:
    """The validated detector.json text of `cfg` (strict JSON: NaN/inf are refused)."""
    validate_detector_config(cfg)
    return json.dumps(cfg, indent=2, allow_nan=False) + "\n"


def write_detector_config(run_dir: str | os.PathLike[str], cfg: dict[str, Any]) -> None:
    atomic_write_text(Path(run_dir) / DETECTOR_FILE, detector_config_text(cfg))
