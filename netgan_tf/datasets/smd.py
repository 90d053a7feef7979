"""Loader for the Server Machine Dataset (SMD) development copy (``<data root>/smd``).

Each machine has ``<machine>-train.csv.gz`` (columns ``m0``..``m37``, unlabelled), ``<machine>-test.csv.gz``
(``m0``..``m37`` plus an integer ``label``) and ``<machine>-interpretation.txt`` (lines
``start-end:d1,d2,...``: half-open 0-based test rows and 1-based dimensions, dimension ``d`` = ``m<d-1>``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from netgan_tf.datasets import DATA_ENV_VAR, _data_dir
from netgan_tf.errors import DataError

__all__ = ["SMD_MACHINES", "SMD_FEATURES", "load_smd", "read_interpretation", "smd_paths"]

SMD_MACHINES = ("machine-1-4", "machine-2-2", "machine-2-5", "machine-3-4")
SMD_FEATURES = tuple(f"m{k}" for k in range(38))


def smd_paths(machine: str, root: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Paths of a machine's ``train``, ``test`` and ``interpretation`` files (not checked for existence)."""
    folder = _data_dir(root, "smd")
    return {
        "train": folder / f"{machine}-train.csv.gz",
        "test": folder / f"{machine}-test.csv.gz",
        "interpretation": folder / f"{machine}-interpretation.txt",
    }


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DataError(
            f"SMD file not found: {path}; set {DATA_ENV_VAR} to the data folder holding smd/ "
            f"(development machines: {', '.join(SMD_MACHINES)})"
        )
    return path


def _read(path: Path, expected: list[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(_require(path))
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot read SMD file: {exc}") from exc
    if list(frame.columns) != expected:
        raise DataError(f"{path}: expected columns {expected[0]}..{expected[-1]}, got {list(frame.columns)[:5]}...")
    return frame


def load_smd(machine: str, root: str | os.PathLike[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load one SMD machine: ``(train, test)``.

    ``train`` has columns ``m0``..``m37`` (float64); ``test`` has ``m0``..``m37`` plus ``label`` (int64 0/1).
    Any machine with files in the folder loads, not only :data:`SMD_MACHINES`.

    Raises:
        DataError: a file is missing (the message names the path tried and ``NETGAN_DATA``) or malformed.
    """
    paths = smd_paths(machine, root)
    features = list(SMD_FEATURES)
    train = _read(paths["train"], features)
    test = _read(paths["test"], [*features, "label"])
    labels = test["label"].to_numpy()
    if not np.isin(labels, (0, 1)).all():
        raise DataError(f"{paths['test']}: column 'label' must hold only 0/1")
    test["label"] = labels.astype(np.int64)
    return train, test


def read_interpretation(machine: str, root: str | os.PathLike[str] | None = None) -> list[tuple[int, int, list[str]]]:
    """A machine's interpretation labels: sorted ``(start, end, columns)`` with half-open 0-based test rows.

    ``columns`` are the named causes as column names (``m0``..``m37``).

    Raises:
        DataError: the file is missing or a line is malformed (the message names the line).
    """
    path = _require(smd_paths(machine, root)["interpretation"])
    out: list[tuple[int, int, list[str]]] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                span, dims = text.split(":")
                start_s, end_s = span.split("-")
                start, end = int(start_s), int(end_s)
                columns = [f"m{int(d) - 1}" for d in dims.split(",") if d.strip()]
            except ValueError as exc:
                raise DataError(f"{path} line {lineno}: expected 'start-end:d1,d2,...', got {text!r}") from exc
            if not 0 <= start < end or not columns or any(c not in SMD_FEATURES for c in columns):
                raise DataError(f"{path} line {lineno}: bad range or dimension in {text!r}")
            out.append((start, end, columns))
    return sorted(out, key=lambda item: (item[0], item[1]))
