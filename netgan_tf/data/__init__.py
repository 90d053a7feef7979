"""Data handling: reading tables, per-feature scaling and sliding windows."""

from __future__ import annotations

from netgan_tf.data.loading import FILL_POLICIES, Table, load_table, read_frame
from netgan_tf.data.scaler import SCALER_METHODS, Scaler
from netgan_tf.data.windows import n_windows, sliding_windows, window_starts, windows_dataset

__all__ = [
    "FILL_POLICIES",
    "SCALER_METHODS",
    "Scaler",
    "Table",
    "load_table",
    "n_windows",
    "read_frame",
    "sliding_windows",
    "window_starts",
    "windows_dataset",
]
