"""Scores a whole series of rows: windows through the scoring graph in batches, then back to one value per row."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from netgan_tf.data.windows import window_starts, windows_dataset
from netgan_tf.scoring.aggregate import windows_to_rows
from netgan_tf.scoring.window_scores import InversionSettings, ScoreNormalization, combine_parts, score_windows


@dataclass
class WindowBatchOutputs:
    """Per-window, per-step arrays of a whole series (stride 1): the inputs of calibration and aggregation."""

    starts: np.ndarray  # [n_win]
    residual: np.ndarray  # [n_win, T, n] squared residual, scaled units
    discriminator_part: np.ndarray  # [n_win, T]


@dataclass
class RowScores:
    """One value per input row (see `AnomalyDetector.score` for the column meanings)."""

    score: np.ndarray  # [n_rows]
    reconstruction_score: np.ndarray  # [n_rows] standardised reconstruction part
    discriminator_score: np.ndarray  # [n_rows] standardised discriminator part
    attribution: np.ndarray  # [n_rows, n] feature contributions (>= 0)


def make_window_fn(model: Any, norm: ScoreNormalization, inversion: InversionSettings) -> Any:
    """A traced scoring function for batches of scaled windows [None, T, n] (one trace, any batch size)."""
    spec = tf.TensorSpec([None, model.window, model.n_features], tf.float32)

    @tf.function(input_signature=[spec], reduce_retracing=True)
    def fn(x: tf.Tensor) -> dict[str, tf.Tensor]:
        out = score_windows(model, x, norm, inversion)
        return {k: out[k] for k in ("residual", "discriminator_part")}

    return fn


def run_windows(
    model: Any,
    x_scaled: np.ndarray,
    inversion: InversionSettings,
    batch_size: int = 256,
    progress: bool = False,
    label: str = "scoring",
) -> WindowBatchOutputs:
    """Inverts and scores every stride-1 window of x_scaled [n_rows, n]; keeps the raw per-step parts."""
    n_rows = int(x_scaled.shape[0])
    starts = window_starts(n_rows, model.window, 1)
    fn = make_window_fn(model, ScoreNormalization.identity(model.n_features), inversion)
    ds = windows_dataset(x_scaled, model.window, 1, batch_size=batch_size, shuffle=False)
    residuals, dis = [], []
    done = 0
    for batch in ds:
        out = fn(batch)
        residuals.append(out["residual"].numpy())
        dis.append(out["discriminator_part"].numpy())
        done += int(batch.shape[0])
        if progress:
            _progress(label, done, len(starts))
    if progress:
        sys.stderr.write("\n")
    return WindowBatchOutputs(starts, np.concatenate(residuals), np.concatenate(dis))


def _progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r{label}: [{'=' * filled}{'.' * (width - filled)}] {done}/{total} windows")
    sys.stderr.flush()


def rows_from_windows(out: WindowBatchOutputs, norm: ScoreNormalization, n_rows: int, mode: str) -> RowScores:
    """Window outputs -> one score per row with the `batch` (overlap mean) or `streaming` (last step) rule."""
    parts = combine_parts(out.residual, out.discriminator_part, norm)

    def agg(name: str) -> np.ndarray:
        return windows_to_rows(parts[name].numpy(), out.starts, n_rows, mode)

    return RowScores(
        score=agg("timestep_score"),
        reconstruction_score=agg("reconstruction_score"),
        discriminator_score=agg("discriminator_score"),
        attribution=agg("feature_score"),
    )
