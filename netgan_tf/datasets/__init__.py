"""Datasets: a synthetic network-counter generator and loaders for the SKAB and SMD development data.

The development data lives outside the repository (``../shared/data`` next to it by default); set the
``NETGAN_DATA`` environment variable to point elsewhere. :func:`default_data_root` finds it.
"""

from __future__ import annotations

import os
from pathlib import Path

from netgan_tf.errors import DataError

__all__ = [
    "ANOMALY_KINDS",
    "Anomaly",
    "DATA_ENV_VAR",
    "SMD_MACHINES",
    "SkabFile",
    "SyntheticCounters",
    "default_data_root",
    "load_skab",
    "load_smd",
    "make_network_counters",
    "read_interpretation",
    "write_csv",
]

DATA_ENV_VAR = "NETGAN_DATA"


def default_data_root() -> Path | None:
    """The development data folder (the one holding ``skab/`` and ``smd/``), or None if absent.

    ``$NETGAN_DATA`` when set (returned even if it does not exist, so that loaders can name it in their
    error); otherwise the first existing of ``<repo root>/../shared/data`` and ``./../shared/data``.
    """
    env = os.environ.get(DATA_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    for candidate in _candidates():
        if candidate.is_dir():
            return candidate.resolve()
    return None


def _candidates() -> list[Path]:
    repo_root = Path(__file__).resolve().parent.parent.parent
    return [repo_root.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]


def _data_dir(root: str | os.PathLike[str] | None, name: str) -> Path:
    """The ``name`` sub-folder (``skab`` or ``smd``) of the data root, or DataError with the paths tried."""
    if root is None:
        found = default_data_root()
        if found is None:
            tried = ", ".join(str(p) for p in _candidates())
            raise DataError(
                f"no development data folder found (tried {tried}); "
                f"set {DATA_ENV_VAR}=/path/to/data (the folder holding skab/ and smd/)"
            )
        base = found
    else:
        base = Path(root).expanduser()
    if (base / name).is_dir():
        return base / name
    if base.is_dir() and base.name == name:  # root points at the sub-folder itself
        return base
    raise DataError(f"{name} data not found: {base / name} does not exist; set {DATA_ENV_VAR} to the data folder")


from netgan_tf.datasets.skab import SkabFile, load_skab  # noqa: E402
from netgan_tf.datasets.smd import SMD_MACHINES, load_smd, read_interpretation  # noqa: E402
from netgan_tf.datasets.synthetic import (  # noqa: E402
    ANOMALY_KINDS,
    Anomaly,
    SyntheticCounters,
    make_network_counters,
    write_csv,
)
