"""Tests for netgan_tf.data.windows: counts, start indices, zero-copy views and the tf.data pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from netgan_tf.data.windows import n_windows, sliding_windows, window_starts, windows_dataset
from netgan_tf.errors import ConfigError, DataError


def _series(n: int = 23, f: int = 3) -> np.ndarray:
    return np.arange(n * f, dtype=np.float32).reshape(n, f)


def _collect(ds: object) -> list[np.ndarray]:
    return [batch.numpy() for batch in ds]  # type: ignore[attr-defined]


def test_n_windows() -> None:
    assert n_windows(10, 3) == 8
    assert n_windows(10, 3, 2) == 4
    assert n_windows(10, 10) == 1
    assert n_windows(10, 4, 3) == 3


def test_bad_window_and_stride() -> None:
    with pytest.raises(ConfigError):
        n_windows(10, 0)
    with pytest.raises(ConfigError):
        window_starts(10, 3, stride=0)
    with pytest.raises(DataError, match="needs at least 5 rows for one window of length 5, got 4"):
        window_starts(4, 5)
    with pytest.raises(DataError, match="got 4"):
        sliding_windows(_series(4), 5)


def test_window_starts_stride_and_cover_end() -> None:
    np.testing.assert_array_equal(window_starts(10, 3, 2), [0, 2, 4, 6])
    starts = window_starts(10, 4, 3)
    assert starts.dtype == np.int64
    np.testing.assert_array_equal(starts, [0, 3, 6])
    np.testing.assert_array_equal(window_starts(11, 4, 3, cover_end=True), [0, 3, 6, 7])
    # No duplicate when the grid already ends at the last start.
    np.testing.assert_array_equal(window_starts(10, 4, 3, cover_end=True), [0, 3, 6])


def test_window_starts_exclude() -> None:
    exclude = np.zeros(12, dtype=bool)
    exclude[5] = True
    # Windows of 3 containing row 5 start at 3, 4, 5.
    np.testing.assert_array_equal(window_starts(12, 3, exclude=exclude), [0, 1, 2, 6, 7, 8, 9])
    np.testing.assert_array_equal(window_starts(12, 3, exclude=exclude.astype(int)), [0, 1, 2, 6, 7, 8, 9])
    with pytest.raises(DataError, match="no usable window"):
        window_starts(12, 3, exclude=np.ones(12))
    with pytest.raises(DataError, match="one entry per row"):
        window_starts(12, 3, exclude=np.zeros(11))


def test_sliding_windows_is_a_read_only_view() -> None:
    x = _series()
    view = sliding_windows(x, 5, stride=2)
    assert view.shape == (n_windows(23, 5, 2), 5, 3)
    assert np.shares_memory(view, x)
    assert not view.flags.writeable
    for i, s in enumerate(range(0, 19, 2)):
        np.testing.assert_array_equal(view[i], x[s : s + 5])


@pytest.mark.parametrize("stride", [1, 3])
def test_dataset_matches_sliding_windows(stride: int) -> None:
    x = _series()
    batches = _collect(windows_dataset(x, 5, stride=stride, batch_size=4))
    assert all(b.dtype == np.float32 for b in batches)
    assert [b.shape[0] for b in batches[:-1]] == [4] * (len(batches) - 1)
    got = np.concatenate(batches)
    np.testing.assert_array_equal(got, sliding_windows(x, 5, stride))


def test_dataset_drop_remainder_and_exclude() -> None:
    x = _series()
    exclude = np.zeros(23, dtype=bool)
    exclude[10] = True
    ds = windows_dataset(x, 4, batch_size=3, exclude=exclude, drop_remainder=True)
    got = np.concatenate(_collect(ds))
    starts = window_starts(23, 4, exclude=exclude)
    n_full = (starts.size // 3) * 3
    assert got.shape == (n_full, 4, 3)
    np.testing.assert_array_equal(got, np.stack([x[s : s + 4] for s in starts[:n_full]]))
    assert not np.any(got == x[10, 0])


def test_dataset_explicit_starts() -> None:
    x = _series()
    got = np.concatenate(_collect(windows_dataset(x, 4, starts=np.array([7, 0, 19]), batch_size=2)))
    np.testing.assert_array_equal(got, np.stack([x[7:11], x[0:4], x[19:23]]))
    with pytest.raises(DataError, match="out of range"):
        windows_dataset(x, 4, starts=np.array([20]))


def test_seeded_shuffle_is_deterministic_and_complete() -> None:
    x = _series(40, 2)
    first = np.concatenate(_collect(windows_dataset(x, 3, batch_size=5, shuffle=True, seed=7)))
    second = np.concatenate(_collect(windows_dataset(x, 3, batch_size=5, shuffle=True, seed=7)))
    np.testing.assert_array_equal(first, second)
    ordered = sliding_windows(x, 3)
    assert not np.array_equal(first, ordered)
    # Same set of windows, only reordered: sort by each window's first value.
    np.testing.assert_array_equal(first[np.argsort(first[:, 0, 0])], ordered)
    other = np.concatenate(_collect(windows_dataset(x, 3, batch_size=5, shuffle=True, seed=8)))
    assert not np.array_equal(first, other)


def test_reshuffles_each_iteration() -> None:
    ds = windows_dataset(_series(40, 2), 3, batch_size=64, shuffle=True, seed=1)
    a = np.concatenate(_collect(ds))
    b = np.concatenate(_collect(ds))
    assert not np.array_equal(a, b)


def test_dataset_errors() -> None:
    with pytest.raises(ConfigError):
        windows_dataset(_series(), 4, batch_size=0)
    with pytest.raises(DataError, match="batch"):
        windows_dataset(_series(10), 4, batch_size=64, drop_remainder=True)
    with pytest.raises(DataError, match="2-D"):
        windows_dataset(np.zeros(10), 4)
