"""Sliding windows over a ``[rows, features]`` series: counts, start indices, zero-copy views, tf.data.

A window of length ``T`` starting at row ``s`` covers rows ``[s, s + T)``. ``windows_dataset`` never
materialises all windows: it keeps one copy of the series as a tensor and gathers ``x[s:s+T]`` for each
batch of start indices, so memory stays at one copy of the data whatever the stride.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from netgan_tf.errors import ConfigError, DataError

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["n_windows", "window_starts", "sliding_windows", "windows_dataset"]


def _check_int(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if int(value) < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_rows(n_rows: int, window: int) -> None:
    if n_rows < window:
        raise DataError(f"needs at least {window} rows for one window of length {window}, got {n_rows}")


def n_windows(n_rows: int, window: int, stride: int = 1) -> int:
    """Number of windows of length ``window`` taken every ``stride`` rows from ``n_rows`` rows.

    Raises:
        ConfigError: ``window`` or ``stride`` < 1.
        DataError: ``n_rows`` < ``window``.
    """
    window = _check_int("window", window)
    stride = _check_int("stride", stride)
    n_rows = int(n_rows)
    _check_rows(n_rows, window)
    return (n_rows - window) // stride + 1


def _exclude_mask(exclude: np.ndarray, n_rows: int) -> np.ndarray:
    mask = np.asarray(exclude)
    if mask.ndim != 1 or mask.shape[0] != n_rows:
        raise DataError(f"exclude mask must have one entry per row ({n_rows}), got shape {mask.shape}")
    if mask.dtype == np.bool_:
        return mask
    if not np.isin(mask, (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(mask, (0, 1)))[0])
        raise DataError(f"exclude mask must be bool or 0/1, row {bad} has {mask[bad]!r}")
    return mask.astype(bool)


def usable_windows(n_rows: int, window: int, exclude: np.ndarray | None) -> np.ndarray:
    """bool [n_rows - window + 1]: which stride-1 windows contain no excluded row (empty when n_rows < window)."""
    n_win = n_rows - window + 1
    if n_win <= 0:
        return np.zeros(0, bool)
    if exclude is None:
        return np.ones(n_win, bool)
    cum = np.concatenate([[0], np.cumsum(np.asarray(exclude, bool), dtype=np.int64)])
    return (cum[window : window + n_win] - cum[:n_win]) == 0


def window_starts(
    n_rows: int,
    window: int,
    stride: int = 1,
    exclude: np.ndarray | None = None,
    cover_end: bool = False,
) -> np.ndarray:
    """Start rows (int64, increasing) of the windows to use.

    Args:
        n_rows: rows in the series.
        window: window length ``T``.
        stride: step between consecutive starts.
        exclude: bool or 0/1 per row; any window containing an excluded row is skipped.
        cover_end: append the start ``n_rows - T`` when the stride skipped the tail, so every row is covered.

    Raises:
        ConfigError: ``window`` or ``stride`` < 1.
        DataError: too few rows, a malformed mask, or no window left after exclusion.
    """
    count = n_windows(n_rows, window, stride)
    n_rows = int(n_rows)
    starts = np.arange(count, dtype=np.int64) * np.int64(stride)
    last = n_rows - int(window)
    if cover_end and starts[-1] != last:
        starts = np.append(starts, np.int64(last))
    if exclude is not None:
        mask = _exclude_mask(exclude, n_rows)
        ok = usable_windows(n_rows, window, mask)[starts]
        if not ok.any():
            raise DataError(
                f"no usable window: all {starts.size} windows of length {window} contain excluded rows "
                f"({int(mask.sum())} of {n_rows} rows excluded)"
            )
        starts = starts[ok]
    return starts


def _as_2d(x: np.ndarray, name: str = "x") -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise DataError(f"{name} must be a 2-D array [rows, features], got shape {arr.shape}")
    return arr


def sliding_windows(x: np.ndarray, window: int, stride: int = 1) -> np.ndarray:
    """All windows of ``x`` as a read-only view ``[n_windows, window, n_features]`` (no copy).

    Raises:
        ConfigError: ``window`` or ``stride`` < 1.
        DataError: ``x`` is not 2-D or has fewer than ``window`` rows.
    """
    arr = _as_2d(x)
    n_windows(arr.shape[0], window, stride)  # validates
    view = np.lib.stride_tricks.sliding_window_view(arr, int(window), axis=0)  # [n_win, n, T], read-only
    return np.moveaxis(view, -1, 1)[:: int(stride)]


def windows_dataset(
    x: np.ndarray,
    window: int,
    stride: int = 1,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
    exclude: np.ndarray | None = None,
    drop_remainder: bool = False,
    starts: np.ndarray | None = None,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of float32 window batches ``[batch, window, n_features]``.

    Args:
        x: the series ``[rows, features]``; one float32 copy is kept as a tensor.
        window, stride, exclude: as in :func:`window_starts` (ignored ``stride`` when ``starts`` is given).
        batch_size: windows per batch.
        shuffle: shuffle the windows with ``seed``, reshuffled on each iteration; otherwise
            windows come in increasing start order.
        drop_remainder: drop a last, smaller batch.
        starts: explicit start rows to use instead of the regular grid (``exclude`` still applies).

    Raises:
        ConfigError: bad window, stride or batch size.
        DataError: too few rows, bad starts, no usable window, or fewer windows than one batch
            with ``drop_remainder``.
    """
    arr = np.ascontiguousarray(_as_2d(x), dtype=np.float32)
    window = _check_int("window", window)
    batch_size = _check_int("batch_size", batch_size)
    n_rows = int(arr.shape[0])
    if starts is None:
        idx = window_starts(n_rows, window, stride, exclude=exclude)
    else:
        _check_rows(n_rows, window)
        idx = np.asarray(starts)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise DataError(f"starts must be a non-empty 1-D integer array, got {idx.dtype} shape {idx.shape}")
        idx = idx.astype(np.int64)
        bad = (idx < 0) | (idx > n_rows - window)
        if bad.any():
            raise DataError(
                f"start {int(idx[bad][0])} is out of range: starts must lie in [0, {n_rows - window}] "
                f"for {n_rows} rows and windows of length {window}"
            )
        if exclude is not None:
            idx = idx[usable_windows(n_rows, window, _exclude_mask(exclude, n_rows))[idx]]
            if idx.size == 0:
                raise DataError("no usable window: every given start contains excluded rows")
    if drop_remainder and idx.size < batch_size:
        raise DataError(
            f"only {idx.size} window(s) but batch_size is {batch_size} with drop_remainder: "
            "no full batch; use a smaller batch size or more rows"
        )

    import tensorflow as tf  # imported here so that the numpy-only helpers load without TensorFlow

    series = tf.constant(arr)
    offsets = tf.range(window, dtype=tf.int64)

    def gather(batch_starts: tf.Tensor) -> tf.Tensor:
        rows = batch_starts[:, None] + offsets[None, :]
        return tf.gather(series, rows)

    ds = tf.data.Dataset.from_tensor_slices(idx)
    if shuffle:
        ds = ds.shuffle(int(idx.size), seed=int(seed), reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
