"""Map per-window, per-time-step quantities back to one value per input row (vectorised numpy).

A window ``w`` of length ``T`` starting at row ``starts[w]`` covers rows ``starts[w] .. starts[w]+T-1``;
``values[w, j]`` belongs to row ``starts[w] + j``. Two aggregation modes:

* ``"batch"``: a row's value is the mean, over every window that covers it, of that window's value at
  the row's position (offline evaluation; uses windows that end after the row).
* ``"streaming"``: what a live system knows when row ``r`` arrives: for ``r >= T - 1`` the value at
  the **last** step of the window that ends on ``r`` (start ``r - T + 1``). Requires stride-1 windows.
  Warm-up rule: the first ``T - 1`` rows have no window ending on them, so they take the values of the
  first window (start 0) at their own positions, i.e. ``out[r] = values[0, r]`` for ``r < T - 1``.

Also: :func:`top_k_features` (names of the largest attributions per row) and :func:`feature_shares`
(attributions normalised to sum to 1 per row).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from netgan_tf.errors import ConfigError, DataError

__all__ = ["AGGREGATION_MODES", "feature_shares", "top_k_features", "windows_to_rows"]

AGGREGATION_MODES: tuple[str, ...] = ("batch", "streaming")


def _check_windows(values: npt.ArrayLike, starts: npt.ArrayLike, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim not in (2, 3):
        raise ConfigError(f"values must be [n_windows, T] or [n_windows, T, k], got shape {vals.shape}")
    n_win, win_len = vals.shape[0], vals.shape[1]
    if n_win == 0 or win_len == 0:
        raise ConfigError(f"values has no windows or zero-length windows: shape {vals.shape}")
    st = np.asarray(starts)
    if st.ndim != 1 or st.shape[0] != n_win:
        raise ConfigError(f"starts must be 1-D with one entry per window ({n_win}), got shape {st.shape}")
    if not np.issubdtype(st.dtype, np.integer):
        if not np.issubdtype(st.dtype, np.floating) or not np.all(np.isfinite(st) & (st == np.round(st))):
            raise ConfigError(f"starts must be integer row indices, got dtype {st.dtype}")
    st = st.astype(np.int64)
    if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer):
        raise ConfigError(f"n_rows must be an integer, got {n_rows!r}")
    if n_rows < win_len:
        raise ConfigError(f"n_rows ({n_rows}) is shorter than the window length T={win_len}")
    if st.min() < 0 or st.max() > n_rows - win_len:
        raise ConfigError(
            f"window starts must lie in [0, n_rows - T] = [0, {n_rows - win_len}], "
            f"got min {int(st.min())}, max {int(st.max())}"
        )
    return vals, st


def windows_to_rows(values: npt.ArrayLike, starts: npt.ArrayLike, n_rows: int, mode: str = "batch") -> np.ndarray:
    """Aggregate ``values`` ``[n_win, T]`` or ``[n_win, T, k]`` to ``[n_rows]`` or ``[n_rows, k]``.

    ``starts`` holds each window's first row. ``mode`` is ``"batch"`` (mean over covering windows) or
    ``"streaming"`` (last step of the window ending on the row; the first ``T - 1`` warm-up rows take
    ``values[0, r]``); see the module docstring. Raises ConfigError for an unknown mode, mismatched
    shapes, starts out of range, rows no window covers, or (streaming) starts other than
    ``0, 1, ..., n_rows - T``.
    """
    if mode not in AGGREGATION_MODES:
        raise ConfigError(f"unknown aggregation mode {mode!r}; expected one of {AGGREGATION_MODES}")
    vals, st = _check_windows(values, starts, n_rows)
    n_win, win_len = vals.shape[0], vals.shape[1]
    rows = (st[:, None] + np.arange(win_len)[None, :]).ravel()  # [n_win * T]
    counts = np.bincount(rows, minlength=n_rows)
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0)
        raise ConfigError(
            f"{missing.size} row(s) are covered by no window (first: row {int(missing[0])}); "
            "windows must cover every row"
        )

    if mode == "streaming":
        if n_win != n_rows - win_len + 1 or not np.array_equal(st, np.arange(n_win)):
            raise ConfigError(
                "streaming aggregation needs stride-1 windows with starts 0, 1, ..., n_rows - T "
                f"({n_rows - win_len + 1} windows); got {n_win} windows"
            )
        head = vals[0, : win_len - 1]  # warm-up rows 0 .. T-2 from the first window
        tail = vals[:, win_len - 1]  # row r >= T-1 from the window ending on r
        return np.concatenate([head, tail], axis=0)

    if vals.ndim == 2:
        sums = np.bincount(rows, weights=vals.ravel(), minlength=n_rows)
        return sums / counts
    k = vals.shape[2]
    flat_idx = (rows[:, None] * k + np.arange(k)[None, :]).ravel()
    sums = np.bincount(flat_idx, weights=vals.reshape(-1), minlength=n_rows * k).reshape(n_rows, k)
    return sums / counts[:, None]


def _check_attribution(attribution: npt.ArrayLike) -> np.ndarray:
    att = np.asarray(attribution, dtype=np.float64)
    if att.ndim != 2:
        raise ConfigError(f"attribution must be [n_rows, n_features], got shape {att.shape}")
    if att.size and not np.all(np.isfinite(att)):
        raise DataError("attribution contains NaN or inf")
    return att


def top_k_features(attribution: npt.ArrayLike, feature_names: Sequence[str], k: int = 3) -> list[str]:
    """Per row, the names of the ``k`` largest attributions joined by ``";"``, largest first.

    Ties are broken by column order (earlier column first). ``k`` larger than the number of features
    lists every feature. Raises ConfigError when the names do not match the columns, a name contains
    ``";"``, or ``k < 1``.
    """
    att = _check_attribution(attribution)
    names = [str(n) for n in feature_names]
    if len(names) != att.shape[1]:
        raise ConfigError(f"{len(names)} feature names for {att.shape[1]} attribution columns")
    bad = [n for n in names if ";" in n]
    if bad:
        raise ConfigError(f"feature names must not contain ';': {bad}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"k must be a positive integer, got {k!r}")
    kk = min(int(k), att.shape[1])
    order = np.argsort(-att, axis=1, kind="stable")[:, :kk]
    name_arr = np.asarray(names, dtype=object)
    return [";".join(row) for row in name_arr[order].tolist()]


def feature_shares(attribution: npt.ArrayLike) -> np.ndarray:
    """Rows of a non-negative ``[n_rows, n_features]`` attribution normalised to sum 1.

    An all-zero row becomes uniform (``1 / n_features`` each). Negative or non-finite entries raise
    DataError.
    """
    att = _check_attribution(attribution)
    if att.size and np.any(att < 0):
        r, c = np.argwhere(att < 0)[0]
        raise DataError(f"attribution must be non-negative, found {att[r, c]} at row {r}, column {c}")
    n_feat = att.shape[1]
    if n_feat == 0:
        raise ConfigError("attribution has no feature columns")
    totals = att.sum(axis=1, keepdims=True)
    zero = totals[:, 0] == 0
    out = np.divide(att, totals, out=np.full_like(att, 1.0 / n_feat), where=totals > 0)
    out[zero] = 1.0 / n_feat
    return out
