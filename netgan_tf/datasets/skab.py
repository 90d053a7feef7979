"""Loader for the SKAB v0.9 development data (``<data root>/skab``) with the official time-order split.

The 34 labelled files (``valve1/0..15``, ``valve2/0..3``, ``other/1..14``; not ``anomaly-free``) are
``;``-separated with columns ``datetime``, 8 sensors, ``anomaly`` and ``changepoint``. Each file is split
in time order: the first ``train_rows`` rows (400 in the official protocol) are train, the rest test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from netgan_tf.datasets import DATA_ENV_VAR, _data_dir
from netgan_tf.errors import ConfigError, DataError

__all__ = ["SKAB_FEATURES", "SKAB_GROUPS", "SkabFile", "load_skab", "skab_files"]

SKAB_GROUPS = ("valve1", "valve2", "other")
SKAB_FEATURES = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)
_N_LABELLED = 34


@dataclass
class SkabFile:
    """One labelled SKAB run split in time order.

    ``train``: ``datetime`` (as read) + the 8 sensor columns. ``test``: the same plus ``anomaly``
    (int64 0/1, the label); ``changepoint`` is dropped from both.
    """

    name: str  # e.g. "valve1/3"
    train: pd.DataFrame
    test: pd.DataFrame
    feature_names: list[str]
    time_column: str = "datetime"
    label_column: str = "anomaly"


def _number(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        return 1 << 30


def skab_files(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The labelled SKAB CSV files, ordered valve1, valve2, other and numerically within each."""
    folder = _data_dir(root, "skab")
    files: list[Path] = []
    for group in SKAB_GROUPS:
        sub = folder / group
        if not sub.is_dir():
            raise DataError(f"SKAB folder not found: {sub}; set {DATA_ENV_VAR} to the data folder holding skab/")
        files.extend(sorted(sub.glob("*.csv"), key=lambda p: (_number(p), p.name)))
    return files


def load_skab(root: str | os.PathLike[str] | None = None, train_rows: int = 400) -> list[SkabFile]:
    """Load the 34 labelled SKAB files, each split into its first ``train_rows`` rows and the rest.

    Raises:
        ConfigError: ``train_rows`` < 1.
        DataError: the data is missing (the message names the path and ``NETGAN_DATA``) or malformed.
    """
    if int(train_rows) < 1:
        raise ConfigError(f"train_rows must be >= 1, got {train_rows}")
    train_rows = int(train_rows)
    files = skab_files(root)
    if len(files) != _N_LABELLED:
        raise DataError(
            f"expected {_N_LABELLED} labelled SKAB files under {files[0].parent.parent if files else root}, "
            f"found {len(files)}"
        )
    expected = ["datetime", *SKAB_FEATURES, "anomaly", "changepoint"]
    out: list[SkabFile] = []
    for path in files:
        try:
            frame = pd.read_csv(path, sep=";")
        except Exception as exc:
            raise DataError(f"{path}: cannot read SKAB file: {exc}") from exc
        if list(frame.columns) != expected:
            raise DataError(f"{path}: expected columns {expected}, got {list(frame.columns)}")
        if len(frame) <= train_rows:
            raise DataError(f"{path}: {len(frame)} rows, not enough for {train_rows} train rows plus a test part")
        labels = frame["anomaly"].to_numpy()
        if not np.isin(labels, (0, 1)).all():
            raise DataError(f"{path}: column 'anomaly' must hold only 0/1")
        frame = frame.drop(columns=["changepoint"])
        frame["anomaly"] = labels.astype(np.int64)
        train = frame.iloc[:train_rows].drop(columns=["anomaly"]).reset_index(drop=True)
        test = frame.iloc[train_rows:].reset_index(drop=True)
        name = f"{path.parent.name}/{path.stem}"
        out.append(SkabFile(name=name, train=train, test=test, feature_names=list(SKAB_FEATURES)))
    return out
