"""Scores a whole series of rows: windows through the scoring graph in batches, folded into one value per row.

Every score is linear in the per-step parts of a window (the squared residual r[w, t, f] and the discriminator part
dis[w, t], see `window_scores.py`), and both row rules average or pick those parts. So each batch of windows is
folded into row aggregates as soon as it is scored:

* batch rule: R[row, f] = mean of r[w, t, f] over the windows w covering the row (t = row - start[w]);
* streaming rule: R[row, f] = r[row - T + 1, T - 1, f] (the last step of the window ending on the row; the first
  T - 1 rows take the first window's values at their own positions),

and the same for dis. Memory is O(rows × features), never O(windows × T × features), and a row's score is then
`combine_parts` applied to its aggregates. The training statistics of the normalisation are accumulated the same
way (`NormalizationStats`), over the windows the caller keeps.
"""

from __future__ import annotations

import sys
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from netgan_tf.data.windows import n_windows, windows_dataset
from netgan_tf.errors import ConfigError
from netgan_tf.scoring.aggregate import AGGREGATION_MODES
from netgan_tf.scoring.window_scores import (
    EPS,
    InversionSettings,
    ScoreNormalization,
    combine_parts,
    feature_scale,
    score_windows,
)


@dataclass
class RowScores:
    """One value per input row (see `AnomalyDetector.score` for the column meanings)."""

    score: np.ndarray  # [n_rows]
    reconstruction_score: np.ndarray  # [n_rows] standardised reconstruction part
    discriminator_score: np.ndarray  # [n_rows] standardised discriminator part
    attribution: np.ndarray  # [n_rows, n] feature contributions (>= 0)


@dataclass
class SeriesParts:
    """Row aggregates of the unnormalised score parts of one series, for both row rules (module docstring)."""

    residual: dict[str, np.ndarray]  # mode -> [n_rows, n] aggregated squared residual
    discriminator: dict[str, np.ndarray]  # mode -> [n_rows] aggregated discriminator part

    def rows(self, norm: ScoreNormalization, mode: str) -> RowScores:
        """The row scores under the normalisation `norm` with the `batch` or `streaming` rule."""
        if mode not in AGGREGATION_MODES:
            raise ConfigError(f"mode must be one of {AGGREGATION_MODES}, got {mode!r}")
        parts = combine_parts(self.residual[mode][:, None, :], self.discriminator[mode][:, None], norm)

        def row(name: str) -> np.ndarray:
            return np.asarray(parts[name].numpy(), np.float64)[:, 0]

        return RowScores(
            score=row("timestep_score"),
            reconstruction_score=row("reconstruction_score"),
            discriminator_score=row("discriminator_score"),
            attribution=row("feature_score"),
        )

    def take(self, rows: slice) -> SeriesParts:
        """The aggregates of a contiguous subset of rows (copies, so the rest can be freed)."""
        return SeriesParts(
            {m: v[rows].copy() for m, v in self.residual.items()},
            {m: v[rows].copy() for m, v in self.discriminator.items()},
        )


class NormalizationStats:
    """Streaming training statistics of the score parts: per-feature mean and covariance of r[w, t, :] and mean and
    variance of dis[w, t] over every (window, step) given to `update` (Chan et al.'s pairwise merge, float64).

    `result(weight)` equals `fit_normalization` on the same windows: the reconstruction part is the linear
    function rec = r · v with v[f] = 1 / (n · feature_scale[f]), so its mean is v·μ and its variance vᵀΣv.
    """

    def __init__(self, n_features: int) -> None:
        self.n_features = int(n_features)
        self.count = 0
        self.mean = np.zeros(self.n_features)
        self.scatter = np.zeros((self.n_features, self.n_features))
        self.dis_mean = 0.0
        self.dis_m2 = 0.0

    def update(self, residual: np.ndarray, dis: np.ndarray) -> None:
        """Adds the steps of windows residual [w, T, n], dis [w, T]."""
        r = np.asarray(residual, np.float64).reshape(-1, self.n_features)
        d = np.asarray(dis, np.float64).reshape(-1)
        k = r.shape[0]
        if k == 0:
            return
        mean_b = r.mean(axis=0)
        centred = r - mean_b
        scatter_b = centred.T @ centred
        dmean_b = float(d.mean())
        dm2_b = float(((d - dmean_b) ** 2).sum())
        n = self.count
        total = n + k
        delta = mean_b - self.mean
        self.scatter += scatter_b + np.outer(delta, delta) * (n * k / total)
        self.mean += delta * (k / total)
        ddelta = dmean_b - self.dis_mean
        self.dis_m2 += dm2_b + ddelta * ddelta * (n * k / total)
        self.dis_mean += ddelta * (k / total)
        self.count = total

    def result(self, weight: float) -> ScoreNormalization:
        if self.count == 0:
            raise ConfigError("no training window to calibrate the score on (all were excluded)")
        scale = feature_scale(self.mean)
        v = 1.0 / (self.n_features * np.asarray(scale))
        rec_var = float(v @ (self.scatter / self.count) @ v)
        return ScoreNormalization(
            weight=weight,
            feature_scale=scale,
            rec_mean=float(v @ self.mean),
            rec_std=float(max(np.sqrt(max(rec_var, 0.0)), EPS)),
            dis_mean=float(self.dis_mean),
            dis_std=float(max(np.sqrt(self.dis_m2 / self.count), EPS)),
        )


_TRACED: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Any]] = weakref.WeakKeyDictionary()


def traced_window_fn(model: Any, inversion: InversionSettings) -> Any:
    """`make_window_fn` with the identity normalisation, traced once per model and inversion setting (segments of a
    file and repeated calls reuse the trace)."""
    key = (inversion.init, inversion.steps, inversion.learning_rate, inversion.seed)
    per_model = _TRACED.setdefault(model, {})
    if key not in per_model:
        per_model[key] = make_window_fn(model, ScoreNormalization.identity(model.n_features), inversion)
    return per_model[key]


def make_window_fn(model: Any, norm: ScoreNormalization, inversion: InversionSettings) -> Any:
    """A traced scoring function for batches of scaled windows [None, T, n] (one trace, any batch size)."""
    spec = tf.TensorSpec([None, model.window, model.n_features], tf.float32)

    @tf.function(input_signature=[spec], reduce_retracing=True)
    def fn(x: tf.Tensor) -> dict[str, tf.Tensor]:
        out = score_windows(model, x, norm, inversion)
        return {k: out[k] for k in ("residual", "discriminator_part")}

    return fn


def score_series(
    model: Any,
    x_scaled: np.ndarray,
    inversion: InversionSettings,
    batch_size: int = 256,
    progress: bool = False,
    label: str = "scoring",
    stats: NormalizationStats | None = None,
    stats_windows: np.ndarray | None = None,
) -> SeriesParts:
    """Inverts and scores every stride-1 window of x_scaled [n_rows, n] and folds them into row aggregates.

    With `stats`, also adds the windows whose start is flagged in `stats_windows` (bool [n_windows]; default all)
    to the normalisation statistics.
    """
    x_scaled = np.asarray(x_scaled, np.float32)
    n_rows, n = int(x_scaled.shape[0]), int(x_scaled.shape[1])
    T = int(model.window)
    n_win = n_windows(n_rows, T)
    if stats_windows is not None and len(stats_windows) != n_win:
        raise ConfigError(f"stats_windows has {len(stats_windows)} entries for {n_win} windows")
    fn = traced_window_fn(model, inversion)
    ds = windows_dataset(x_scaled, T, 1, batch_size=batch_size, shuffle=False)
    batch_res = np.zeros((n_rows, n))
    batch_dis = np.zeros(n_rows)
    stream_res = np.zeros((n_rows, n))
    stream_dis = np.zeros(n_rows)
    done = 0
    for batch in ds:
        out = fn(batch)
        res = out["residual"].numpy()
        dis = out["discriminator_part"].numpy()
        k = res.shape[0]
        starts = np.arange(done, done + k)
        for j in range(T):  # starts are distinct, so each fancy-indexed add touches a row once
            batch_res[starts + j] += res[:, j]
            batch_dis[starts + j] += dis[:, j]
        stream_res[starts + T - 1] = res[:, T - 1]
        stream_dis[starts + T - 1] = dis[:, T - 1]
        if done == 0:
            stream_res[: T - 1] = res[0, : T - 1]
            stream_dis[: T - 1] = dis[0, : T - 1]
        if stats is not None:
            keep = slice(None) if stats_windows is None else np.asarray(stats_windows[done : done + k], bool)
            stats.update(res[keep], dis[keep])
        done += k
        if progress:
            _progress(label, done, n_win)
    if progress:
        sys.stderr.write("\n")
    rows = np.arange(n_rows)
    counts = (np.minimum(rows, n_win - 1) - np.maximum(0, rows - T + 1) + 1).astype(np.float64)
    return SeriesParts(
        residual={"batch": batch_res / counts[:, None], "streaming": stream_res},
        discriminator={"batch": batch_dis / counts, "streaming": stream_dis},
    )


def _progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r{label}: [{'=' * filled}{'.' * (width - filled)}] {done}/{total} windows")
    sys.stderr.flush()
