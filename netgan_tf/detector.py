"""`AnomalyDetector`: the façade that ties data, model, scoring, thresholds and metrics together.

    detector = AnomalyDetector(window=30).fit("train.csv", time_column="timestamp")
    scores = detector.score("test.csv")            # DataFrame, one row per input row
    flags = detector.predict("test.csv")           # 0/1 per row
    report = detector.evaluate("test.csv", label_column="label")
    detector.save("runs/my-run"); AnomalyDetector.load("runs/my-run")

Everything that is chosen (scaler, score normalisation, threshold) comes from the training rows only.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

import netgan_tf
from netgan_tf import metrics as metrics_mod
from netgan_tf.data.loading import Table, load_table, read_frame
from netgan_tf.data.scaler import Scaler
from netgan_tf.data.segments import iter_segments
from netgan_tf.data.stream import WindowStream
from netgan_tf.data.windows import usable_windows
from netgan_tf.errors import ConfigError, DataError, NetGANError
from netgan_tf.models import NetGAN
from netgan_tf.rundir import (
    BACKUP_DIR,
    CHECKPOINT_DIR,
    DETECTOR_FILE,
    MODEL_FILE,
    SCHEMA_VERSION,
    atomic_write,
    atomic_write_many,
    atomic_write_text,
    check_writable,
    detector_config_text,
    read_detector_config,
    remove_stale_temp_files,
)
from netgan_tf.scoring.aggregate import AGGREGATION_MODES, feature_shares, top_k_features
from netgan_tf.scoring.series import NormalizationStats, RowScores, SeriesParts, score_series
from netgan_tf.scoring.window_scores import InversionSettings, ScoreNormalization
from netgan_tf.thresholds import SPOT, THRESHOLD_METHODS, Threshold, choose_threshold
from netgan_tf.training.trainer import TrainSettings, build_model, fit_datasets, train_model

RESUME_STATE = "checkpoints/resume.json"
TRAIN_SCORES_FILE = "train_scores.npy"
CALIBRATION_ROWS = 200_000  # out-of-core fit: rows scored to calibrate (evenly spaced segments)


@dataclass
class _FitJob:
    """What `fit` does once the data is prepared: train, then calibrate (in memory or streamed)."""

    n_rows: int
    source: str
    train: Callable[[], keras.callbacks.History]
    calibrate: Callable[[], None]


@dataclass
class ScoringOptions:
    """How scores are computed and thresholded (stored in detector.json under "scoring" and "threshold")."""

    inversion: InversionSettings = field(default_factory=InversionSettings)
    weight: float = 1.0
    mode: str = "batch"
    threshold_method: str = "quantile"
    threshold_q: float = 0.995
    pot_risk: float = 1e-3
    top_k: int = 3
    batch_size: int = 256

    def __post_init__(self) -> None:
        if self.mode not in AGGREGATION_MODES:
            raise ConfigError(f"mode must be one of {AGGREGATION_MODES}, got {self.mode!r}")
        if self.threshold_method not in THRESHOLD_METHODS:
            raise ConfigError(f"threshold method must be one of {THRESHOLD_METHODS}, got {self.threshold_method!r}")
        if not 0.0 <= self.weight <= 1.0:
            raise ConfigError(f"score weight λ must be in [0, 1], got {self.weight}")


class AnomalyDetector:
    """Net-GAN anomaly detector for multivariate time series.

    Args:
        window: window length T (rows).
        stride: training window stride (scoring always uses every window).
        epochs: training epochs (None: automatic, about 120,000 windows in total).
        batch_size, latent_dim, hidden, seed: training settings (see `TrainSettings`).
        scaler: "minmax" (to [-1, 1], tanh generator output) or "zscore" (linear output).
        fill: NaN/inf policy for input rows: error, ffill, interpolate, zero, drop.
        inversion_init: "encoder", "zeros" or "random" start of latent inversion.
        inversion_steps: Adam steps K of latent inversion.
        inversion_lr: step size of latent inversion.
        score_weight: λ, the weight of the reconstruction part (1 - λ goes to the discriminator part).
        threshold: "quantile" (of training scores, q=`threshold_q`), "pot" or "spot" (risk `pot_risk`).
        mode: default row aggregation, "batch" (mean over overlapping windows) or "streaming" (last step).
        top_k: number of features listed in `top_features`.
        verbose: Keras verbosity during training; also shows scoring progress when true.
        **train_options: any other `TrainSettings` field (use_encoder, d_steps, g_steps, label_smoothing,
            reconstruction_weight, cycle_weight, validation_split, strategy, mixed_precision, learning rates).

    Example:
        >>> from netgan_tf.datasets.synthetic import make_network_counters
        >>> data = make_network_counters(n_train=600, n_test=300, n_anomalies=2)
        >>> det = AnomalyDetector(window=16, epochs=1, hidden=16, verbose=0)
        >>> det = det.fit(data.train, time_column="timestamp", label_column="label")
        >>> list(det.score(data.test, label_column="label").columns)[:3]
        ['timestamp', 'score', 'is_anomaly']
    """

    def __init__(
        self,
        window: int = 30,
        stride: int = 1,
        epochs: int | None = None,
        batch_size: int = 64,
        latent_dim: int = 15,
        hidden: int = 100,
        seed: int = 0,
        scaler: str = "minmax",
        fill: str = "error",
        inversion_init: str = "encoder",
        inversion_steps: int = 10,
        inversion_lr: float = 0.05,
        score_weight: float = 1.0,
        threshold: str = "quantile",
        threshold_q: float = 0.995,
        pot_risk: float = 1e-3,
        mode: str = "batch",
        top_k: int = 3,
        verbose: int | str = "auto",
        **train_options: Any,
    ) -> None:
        self.settings = TrainSettings(
            window=window,
            stride=stride,
            epochs=epochs,
            batch_size=batch_size,
            latent_dim=latent_dim,
            hidden=hidden,
            seed=seed,
            **train_options,
        )
        if scaler not in ("minmax", "zscore"):
            raise ConfigError(f"scaler must be 'minmax' or 'zscore', got {scaler!r}")
        self.scaler_method = scaler
        self.fill = fill
        self.options = ScoringOptions(
            inversion=InversionSettings(inversion_init, inversion_steps, inversion_lr, seed),
            weight=score_weight,
            mode=mode,
            threshold_method=threshold,
            threshold_q=threshold_q,
            pot_risk=pot_risk,
            top_k=top_k,
        )
        self.verbose = verbose
        self.model: NetGAN | None = None
        self.scaler: Scaler | None = None
        self.features: list[str] = []
        self.time_column: str | None = None
        self.label_column: str | None = None
        self.normalization: ScoreNormalization | None = None
        self.thresholds: dict[str, Threshold] = {}
        self.train_scores: dict[str, np.ndarray] = {}
        self.history: dict[str, list[float]] = {}
        self.info: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------------- fitting
    def fit(
        self,
        data: str | os.PathLike[str] | pd.DataFrame,
        *,
        features: list[str] | None = None,
        time_column: str | None = None,
        label_column: str | None = None,
        sep: str | None = None,
        run_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        overwrite: bool = False,
        callbacks: list[keras.callbacks.Callback] | None = None,
        chunk_rows: int | None = None,
        calibration_rows: int = CALIBRATION_ROWS,
    ) -> AnomalyDetector:
        """Trains on `data` (rows labelled anomalous are never inside a training window), then calibrates the
        score normalisation and the threshold on the training rows. With `run_dir`, writes the run directory.

        With `chunk_rows`, the data is never loaded whole (out-of-core): one pass fits the scaler, every epoch reads
        the file again in segments of `chunk_rows` rows (see `netgan_tf.data.stream`), and calibration scores
        evenly spaced segments of about `calibration_rows` rows in all (every row when the file has fewer).
        """
        run = self._prepare_run_dir(run_dir, resume, overwrite) if run_dir is not None else None
        if not resume:  # like scikit-learn's fit: a new fit starts from a new scaler and a new model
            self.scaler, self.model = None, None
        if run is not None and resume:
            self._restore_resume_state(run)
            features = self.features
            time_column = time_column if time_column is not None else self.time_column
            label_column = label_column if label_column is not None else self.label_column
        if int(calibration_rows) < self.settings.window:
            raise ConfigError(f"calibration rows must be at least the window ({self.settings.window})")
        fit_options: dict[str, Any] = {
            "run_dir": run,
            "resume": resume,
            "callbacks": callbacks,
            "verbose": self.verbose,
        }
        data_options: dict[str, Any] = {
            "features": features,
            "time_column": time_column,
            "label_column": label_column,
            "sep": sep,
            "fill": self.fill,
        }
        if chunk_rows is None:
            job = self._in_memory_job(data, data_options, resume, fit_options)
        else:
            job = self._stream_job(data, data_options, resume, fit_options, chunk_rows, int(calibration_rows))
        self.time_column, self.label_column = time_column, label_column
        if run is not None:
            self._write_resume_state(run)
        if self.model is None:
            activation = "tanh" if self.scaler_method == "minmax" else "linear"
            self.model = build_model(len(self.features), self.settings, output_activation=activation)
        history = job.train()
        self.history = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        job.calibrate()
        self.info = {
            "train_rows": int(job.n_rows),
            "train_source": job.source,
            "epochs_completed": len(next(iter(self.history.values()), [])),
            "chunk_rows": chunk_rows,
            "calibration_rows": int(len(self.train_scores["batch"])),
        }
        if run is not None:
            self.save(run)
            shutil.rmtree(run / CHECKPOINT_DIR, ignore_errors=True)
        return self

    def _in_memory_job(
        self, data: Any, data_options: dict[str, Any], resume: bool, fit_options: dict[str, Any]
    ) -> _FitJob:
        """Loads the whole table: scaler, then training and calibration on arrays."""
        table = load_table(data, min_rows=self.settings.window, **data_options)
        self._set_features(table.feature_names, resume)
        exclude = None if table.labels is None else table.labels.astype(bool)
        normal_rows = table.values if exclude is None else table.values[~exclude]
        if len(normal_rows) < self.settings.window:
            raise DataError(f"{table.source}: fewer than {self.settings.window} rows are labelled normal")
        if self.scaler is None:
            self.scaler = Scaler(self.scaler_method, (-1.0, 1.0)).fit(normal_rows)
        x = self.scaler.transform(table.values)

        def train() -> keras.callbacks.History:
            assert self.model is not None
            return train_model(self.model, x, self.settings, exclude=exclude, **fit_options)

        return _FitJob(table.n_rows, table.source, train, lambda: self._calibrate(x, exclude))

    def _stream_job(
        self,
        data: Any,
        data_options: dict[str, Any],
        resume: bool,
        fit_options: dict[str, Any],
        chunk_rows: int,
        calibration_rows: int,
    ) -> _FitJob:
        """Out-of-core: one pass for the scaler; every epoch and the calibration read the file again in pieces."""
        s = self.settings
        stream = WindowStream(
            data,
            window=s.window,
            stride=s.stride,
            chunk_rows=chunk_rows,
            validation_split=s.validation_split,
            **data_options,
        )
        summary = stream.summarize(progress=bool(self.verbose))
        self._set_features(summary.features, resume)
        if self.scaler is None:
            self.scaler = Scaler(self.scaler_method, (-1.0, 1.0)).fit_moments(summary.moments)
        scaler = self.scaler

        def train() -> keras.callbacks.History:
            assert self.model is not None
            train_ds, val_ds = stream.datasets(scaler, s.batch_size, s.seed)
            return fit_datasets(self.model, train_ds, val_ds, summary.n_train_windows, s, **fit_options)

        return _FitJob(summary.n_rows, summary.source, train, lambda: self._calibrate_stream(stream, calibration_rows))

    def _set_features(self, names: list[str], resume: bool) -> None:
        if resume and names != self.features:
            raise DataError(f"--resume: the data's features {names} differ from the run's {self.features}")
        self.features = list(names)

    def _calibrate(self, x: np.ndarray, exclude: np.ndarray | None) -> None:
        """Score normalisation and thresholds from the training rows x (scaled) (never from test labels)."""
        self._calibrate_pieces([(x, exclude, slice(None), len(x) - self.settings.window + 1)])

    def _calibrate_stream(self, stream: WindowStream, calibration_rows: int) -> None:
        """`_calibrate` on evenly spaced segments of a streamed file, about `calibration_rows` rows in all."""
        assert stream.summary is not None and self.scaler is not None
        scaler = self.scaler
        self._calibrate_pieces(
            (scaler.transform(st.table.values), st.exclude, st.own, st.window_stop)
            for st in stream.segments(sample_rows=calibration_rows)
        )

    def _calibrate_pieces(self, pieces: Iterable[tuple[np.ndarray, np.ndarray | None, slice, int]]) -> None:
        """Calibration on pieces (x scaled, excluded rows or None, the rows the piece reports, its windows
        [0, window_stop)): normalisation statistics over the windows with no excluded row, then the thresholds
        from the row scores of the rows not excluded. Holds the row aggregates, not the windows."""
        assert self.model is not None
        stats = NormalizationStats(len(self.features))
        kept: list[tuple[SeriesParts, np.ndarray | None]] = []
        for k, (x, exclude, own, window_stop) in enumerate(pieces):
            usable = usable_windows(len(x), self.settings.window, exclude)
            usable[window_stop:] = False
            parts = self._series(x, "calibrating" if k == 0 else f"calibrating (piece {k + 1})", stats, usable)
            kept.append((parts.take(own), None if exclude is None else exclude[own]))
        self.normalization = stats.result(self.options.weight)
        self.thresholds = {}
        self.train_scores = {}
        for mode in AGGREGATION_MODES:
            scores = [p.rows(self.normalization, mode).score for p, _ in kept]
            rows = np.concatenate([s if e is None else s[~e] for s, (_, e) in zip(scores, kept, strict=True)])
            self.train_scores[mode] = rows
            self.thresholds[mode] = choose_threshold(
                rows, self.options.threshold_method, q=self.options.threshold_q, risk=self.options.pot_risk
            )

    def _series(
        self,
        x: np.ndarray,
        label: str,
        stats: NormalizationStats | None = None,
        stats_windows: np.ndarray | None = None,
    ) -> SeriesParts:
        assert self.model is not None
        return score_series(
            self.model,
            x,
            self.options.inversion,
            batch_size=self.options.batch_size,
            progress=bool(self.verbose),
            label=label,
            stats=stats,
            stats_windows=stats_windows,
        )

    # ------------------------------------------------------------------------------------------- scoring
    def _require_fitted(self) -> None:
        if self.model is None or self.scaler is None or self.normalization is None:
            raise ConfigError("the detector is not fitted: call fit() or AnomalyDetector.load(run_dir) first")

    def _load_rows(
        self,
        data: str | os.PathLike[str] | pd.DataFrame | Table,
        label_column: str | None,
        time_column: str | None,
        sep: str | None,
    ) -> Table:
        if isinstance(data, Table):
            return data
        frame = read_frame(data, sep=sep)
        time_column = time_column if time_column is not None else self.time_column
        if time_column is not None and time_column not in frame.columns:
            time_column = None
        # The training run's label column, when present, is never a feature.
        ignored = {c for c in (time_column, label_column, self.label_column) if c is not None}
        present = [str(c) for c in frame.columns if c not in ignored]
        missing = [f for f in self.features if f not in present]
        extra = [c for c in present if c not in self.features]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing column(s) {missing}")
            if extra:
                parts.append(f"unexpected column(s) {extra} (pass --label-column/--time-column if they are those)")
            where = "<DataFrame>" if isinstance(data, pd.DataFrame) else str(data)
            raise DataError(f"{where}: columns differ from training: " + "; ".join(parts))
        return load_table(
            frame,
            features=self.features,
            time_column=time_column,
            label_column=label_column,
            fill=self.fill,
            min_rows=self.settings.window,
        )

    def score_rows(self, table: Table, mode: str | None = None, label: str = "scoring") -> RowScores:
        """Row scores of a loaded table (see `score` for the DataFrame form)."""
        self._require_fitted()
        assert self.scaler is not None and self.normalization is not None
        mode = mode or self.options.mode
        if mode not in AGGREGATION_MODES:
            raise ConfigError(f"mode must be one of {AGGREGATION_MODES}, got {mode!r}")
        x = self.scaler.transform(table.values)
        return self._series(x, label).rows(self.normalization, mode)

    def flags(self, scores: np.ndarray, mode: str) -> np.ndarray:
        """0/1 flags for row scores: the training threshold, or SPOT's adaptive one for method "spot"."""
        return self.flagger(mode)(scores)

    def flagger(self, mode: str) -> Callable[[np.ndarray], np.ndarray]:
        """A function that flags consecutive pieces of one stream of row scores (SPOT keeps its state between
        calls, so flagging a file piece by piece gives the same flags as flagging it whole)."""
        threshold = self.thresholds[mode]
        if threshold.method == "spot":
            spot = SPOT(risk=self.options.pot_risk).fit(self.train_scores[mode])
            return lambda scores: spot.run(scores)[1].astype(np.int8)
        return lambda scores: (np.asarray(scores) >= threshold.value).astype(np.int8)

    def score(
        self,
        data: str | os.PathLike[str] | pd.DataFrame,
        *,
        mode: str | None = None,
        label_column: str | None = None,
        time_column: str | None = None,
        sep: str | None = None,
        attribution: bool = False,
        inversion_init: str | None = None,
        inversion_steps: int | None = None,
    ) -> pd.DataFrame:
        """One row per input row, in input order.

        Columns: the time column (if any), `score` (λ·reconstruction_score + (1-λ)·discriminator_score),
        `is_anomaly` (0/1 at the training threshold), `threshold`, `discriminator_score` and
        `reconstruction_score` (each part standardised with training statistics), `top_features` (the top-k
        features by attribution, ";"-separated), the label column if given, and with `attribution=True` one
        `share_<feature>` column per feature (each feature's share of the reconstruction part, summing to 1).
        """
        self._require_fitted()
        mode = mode or self.options.mode
        table = self._load_rows(data, label_column, time_column, sep)
        with self._inversion_override(inversion_init, inversion_steps):
            rows = self.score_rows(table, mode)
        return self._scores_frame(table, rows, self.flags(rows.score, mode), mode, label_column, attribution)

    @contextmanager
    def _inversion_override(self, init: str | None, steps: int | None) -> Iterator[None]:
        saved = self.options.inversion
        if init is not None or steps is not None:
            self.options.inversion = InversionSettings(
                init or saved.init, saved.steps if steps is None else steps, saved.learning_rate, saved.seed
            )
        try:
            yield
        finally:
            self.options.inversion = saved

    def _scores_frame(
        self,
        table: Table,
        rows: RowScores,
        flags: np.ndarray,
        mode: str,
        label_column: str | None,
        attribution: bool,
        own: slice = slice(None),
    ) -> pd.DataFrame:
        """The `score` DataFrame for the rows `own` of a scored table."""
        score = rows.score[own]
        out = pd.DataFrame(index=pd.RangeIndex(len(score)))
        if table.time is not None:
            out[table.time.name] = table.time.to_numpy()[own]
        out["score"] = score
        out["is_anomaly"] = flags
        out["threshold"] = self.thresholds[mode].value
        out["discriminator_score"] = rows.discriminator_score[own]
        out["reconstruction_score"] = rows.reconstruction_score[own]
        out["top_features"] = top_k_features(rows.attribution[own], self.features, self.options.top_k)
        if table.labels is not None and label_column is not None:
            out[label_column] = table.labels[own]
        if attribution:
            shares = feature_shares(rows.attribution[own])
            for i, name in enumerate(self.features):
                out[f"share_{name}"] = shares[:, i]
        return out

    def score_to_csv(
        self,
        data: str | os.PathLike[str] | pd.DataFrame,
        out: str | os.PathLike[str],
        *,
        chunk_rows: int = 100_000,
        mode: str | None = None,
        label_column: str | None = None,
        time_column: str | None = None,
        sep: str | None = None,
        attribution: bool = False,
        inversion_init: str | None = None,
        inversion_steps: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Out-of-core `score`: reads `data` in overlapping segments of about `chunk_rows` rows and appends each
        segment's rows to the CSV `out` (written to a temporary file, renamed when complete), so memory does not
        grow with the file. The rows are identical to `score(data)`'s. Returns (scores, flags, labels or None)
        of all rows, for the metrics. NaN policy `drop` is refused here (it would shift rows between segments)."""
        self._require_fitted()
        if self.fill == "drop":
            raise ConfigError("chunked scoring cannot use the NaN policy 'drop'; score the file without chunks")
        mode = mode or self.options.mode
        flag = self.flagger(mode)
        scores: list[np.ndarray] = []
        all_flags: list[np.ndarray] = []
        labels: list[np.ndarray] = []

        def write(tmp: str) -> None:
            for k, seg in enumerate(iter_segments(data, self.settings.window, chunk_rows, sep=sep)):
                try:
                    table = self._load_rows(seg.frame, label_column, time_column, None)
                except DataError as exc:
                    raise DataError(f"{data} (segment from data row {seg.start}): {exc}") from exc
                with self._inversion_override(inversion_init, inversion_steps):
                    rows = self.score_rows(table, mode, f"scoring rows {seg.start:,}-{seg.start + table.n_rows:,}")
                own = rows.score[seg.own]
                flags = flag(own)
                frame = self._scores_frame(table, rows, flags, mode, label_column, attribution, seg.own)
                frame.to_csv(tmp, mode="w" if k == 0 else "a", header=k == 0, index=False)
                scores.append(own)
                all_flags.append(flags)
                if table.labels is not None and label_column is not None:
                    labels.append(table.labels[seg.own])

        atomic_write(out, write, suffix=".csv")
        return np.concatenate(scores), np.concatenate(all_flags), (np.concatenate(labels) if labels else None)

    def predict(self, data: str | os.PathLike[str] | pd.DataFrame, **kwargs: Any) -> np.ndarray:
        """0/1 anomaly flag per input row."""
        return self.score(data, **kwargs)["is_anomaly"].to_numpy()

    def evaluate(
        self,
        data: str | os.PathLike[str] | pd.DataFrame,
        *,
        label_column: str | None = None,
        labels: np.ndarray | None = None,
        mode: str | None = None,
        **kwargs: Any,
    ) -> dict[str, float]:
        """Point-wise metrics at the training threshold, plus AUROC/AUPRC, the oracle best-F1 (labelled so) and
        the inflated point-adjusted F1 (see `netgan_tf.metrics.evaluate`)."""
        scores = self.score(data, label_column=label_column, mode=mode, **kwargs)
        if labels is None:
            if label_column is None:
                raise ConfigError("evaluate needs label_column= or labels=")
            labels = scores[label_column].to_numpy()
        mode = mode or self.options.mode
        return metrics_mod.evaluate(
            labels, scores["score"].to_numpy(), self.thresholds[mode].value, flags=scores["is_anomaly"].to_numpy()
        )

    # ------------------------------------------------------------------------------------------- persistence
    def config(self) -> dict[str, Any]:
        """The detector.json content (schema-versioned; see docs/detector-json.md)."""
        self._require_fitted()
        assert self.model is not None and self.scaler is not None and self.normalization is not None
        model_cfg = {k: v for k, v in self.model.get_config().items() if k not in ("name", "trainable", "dtype")}
        return {
            "schema_version": SCHEMA_VERSION,
            "package_version": netgan_tf.__version__,
            "keras_version": keras.__version__,
            "tensorflow_version": _tf_version(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "features": list(self.features),
            "time_column": self.time_column,
            "label_column": self.label_column,
            "fill": self.fill,
            "window": self.settings.window,
            "stride": self.settings.stride,
            "scaler": self.scaler.to_dict(),
            "model": model_cfg,
            "training": {**self.settings.to_dict(), **self.info},
            "scoring": {
                "inversion": vars(self.options.inversion).copy(),
                "normalization": self.normalization.to_dict(),
                "mode": self.options.mode,
                "top_k": self.options.top_k,
            },
            "threshold": {
                **self.thresholds["batch"].to_dict(),
                "streaming_value": self.thresholds["streaming"].value,
                "streaming_params": self.thresholds["streaming"].params,
                "risk": self.options.pot_risk,
                "q": self.options.threshold_q,
            },
            "train_score_quantiles": {
                mode: [float(v) for v in np.quantile(s, [0.5, 0.9, 0.99, 0.999])]
                for mode, s in self.train_scores.items()
            },
        }

    def save(self, run_dir: str | os.PathLike[str]) -> Path:
        """Writes `model.keras` and `detector.json` atomically (the config last, so it never points at a
        model that is not there); `history.csv` is written during training."""
        self._require_fitted()
        assert self.model is not None
        run = check_writable(run_dir)
        cfg = self.config()
        model = self.model
        scores = np.stack([self.train_scores["batch"], self.train_scores["streaming"]])
        text = detector_config_text(cfg)

        def write_text(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())

        # All three files are written to temporary names first and renamed only when every write succeeded, so a
        # failing save (disk full, ...) leaves the previous files, or none, and never a mismatched set.
        atomic_write_many(
            [
                (run / MODEL_FILE, lambda tmp: model.save(tmp), ".keras"),
                (run / TRAIN_SCORES_FILE, lambda tmp: np.save(tmp, scores, allow_pickle=False), ".npy"),
                (run / DETECTOR_FILE, write_text, ""),
            ]
        )
        return run

    def export(self, base_dir: str | os.PathLike[str], name: str = "netgan", version: int | None = None) -> Path:
        """Writes a SavedModel for TensorFlow Serving to BASE_DIR/NAME/VERSION (see `netgan_tf.export`)."""
        from netgan_tf.export import export_detector

        return export_detector(self, base_dir, name=name, version=version)

    @classmethod
    def load(cls, run_dir: str | os.PathLike[str]) -> AnomalyDetector:
        """Loads a run directory (from `save` or `netgan train`). Executes nothing from it: detector.json is
        validated plain JSON and model.keras is loaded with safe_mode=True."""
        cfg = read_detector_config(run_dir)
        run = Path(run_dir)
        try:
            return cls._from_config(run, cfg)
        except ConfigError as exc:
            if str(run) in str(exc):
                raise
            raise ConfigError(f"{run / DETECTOR_FILE}: {exc}") from exc
        except NetGANError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            what = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
            raise ConfigError(f"{run / DETECTOR_FILE}: invalid content ({what})") from exc

    @classmethod
    def _from_config(cls, run: Path, cfg: dict[str, Any]) -> AnomalyDetector:
        training = TrainSettings.from_dict(cfg["training"])
        inv = cfg["scoring"]["inversion"]
        thr = cfg["threshold"]
        det = cls(
            window=training.window,
            stride=training.stride,
            epochs=training.epochs,
            batch_size=training.batch_size,
            latent_dim=training.latent_dim,
            hidden=training.hidden,
            seed=training.seed,
            scaler=cfg["scaler"].get("method", "minmax"),
            fill=cfg["fill"],
            inversion_init=inv["init"],
            inversion_steps=inv["steps"],
            inversion_lr=inv["learning_rate"],
            score_weight=cfg["scoring"]["normalization"]["weight"],
            threshold=thr["method"],
            threshold_q=thr.get("q", 0.995),
            pot_risk=thr.get("risk", 1e-3),
            mode=cfg["scoring"].get("mode", "batch"),
            top_k=cfg["scoring"].get("top_k", 3),
            verbose=0,
        )
        det.features = list(cfg["features"])
        det.time_column, det.label_column = cfg["time_column"], cfg["label_column"]
        det.scaler = Scaler.from_dict(cfg["scaler"])
        det.normalization = ScoreNormalization.from_dict(cfg["scoring"]["normalization"])
        det.thresholds = {
            "batch": Threshold.from_dict({k: thr[k] for k in ("method", "value", "params")}),
            "streaming": Threshold(thr["method"], float(thr["streaming_value"]), dict(thr.get("streaming_params", {}))),
        }
        info_keys = ("train_rows", "train_source", "epochs_completed", "chunk_rows", "calibration_rows")
        det.info = {k: cfg["training"][k] for k in info_keys if k in cfg["training"]}
        scores_path = run / TRAIN_SCORES_FILE
        if scores_path.is_file():
            try:
                arr = np.load(scores_path, allow_pickle=False)
            except (OSError, ValueError, EOFError) as exc:
                raise ConfigError(f"{scores_path} is unreadable: {exc}") from exc
            if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.shape[0] != 2 or arr.dtype.kind != "f":
                raise ConfigError(f"{scores_path}: expected a float array of shape [2, rows]")
            det.train_scores = {"batch": arr[0], "streaming": arr[1]}
        det.model = _load_model(run / MODEL_FILE)
        if det.model.n_features != len(det.features) or det.model.window != training.window:
            raise ConfigError(f"{run / MODEL_FILE} does not match detector.json (features or window differ)")
        return det

    # ------------------------------------------------------------------------------------------- resume support
    def _prepare_run_dir(self, run_dir: str | os.PathLike[str], resume: bool, overwrite: bool) -> Path:
        run = check_writable(run_dir)
        for folder in (run, run / CHECKPOINT_DIR, run / BACKUP_DIR):  # left behind by a killed run
            remove_stale_temp_files(folder)
        if resume:
            if not (run / RESUME_STATE).is_file():
                if (run / MODEL_FILE).is_file():
                    raise ConfigError(f"{run} holds a completed run: there is nothing to resume")
                raise ConfigError(f"{run} has no interrupted training to resume (no {RESUME_STATE})")
            return run
        if (run / MODEL_FILE).exists() and not overwrite:
            raise ConfigError(
                f"{run} already holds a trained model; choose another --out, pass --resume to continue an "
                "interrupted run, or --overwrite to replace it"
            )
        shutil.rmtree(run / BACKUP_DIR, ignore_errors=True)
        return run

    def _write_resume_state(self, run: Path) -> None:
        assert self.scaler is not None
        state = {
            "features": self.features,
            "time_column": self.time_column,
            "label_column": self.label_column,
            "scaler": self.scaler.to_dict(),
            "scaler_method": self.scaler_method,
            "fill": self.fill,
            "training": self.settings.to_dict(),
            "options": {k: v for k, v in vars(self.options).items() if k != "inversion"},
            "inversion": vars(self.options.inversion).copy(),
        }
        atomic_write_text(run / RESUME_STATE, json.dumps(state, indent=2))

    def _restore_resume_state(self, run: Path) -> None:
        try:
            state = json.loads((run / RESUME_STATE).read_text(encoding="utf-8"))
            self.features = list(state["features"])
            self.time_column, self.label_column = state.get("time_column"), state.get("label_column")
            self.scaler = Scaler.from_dict(state["scaler"])
            self.scaler_method = str(state.get("scaler_method", self.scaler.method))
            self.fill = str(state.get("fill", self.fill))
            self.settings = TrainSettings.from_dict(state["training"])
            if "options" in state and "inversion" in state:
                self.options = ScoringOptions(inversion=InversionSettings(**state["inversion"]), **state["options"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{run / RESUME_STATE} is unreadable: {exc}") from exc


def _tf_version() -> str:
    import tensorflow as tf

    return str(tf.__version__)


def _load_model(path: Path) -> NetGAN:
    if not path.is_file():
        raise ConfigError(f"{path} not found")
    try:
        model = keras.models.load_model(path, safe_mode=True, compile=True)
    except Exception as exc:  # Keras raises many types for a damaged archive
        raise ConfigError(f"cannot load {path}: {exc}") from exc
    if not isinstance(model, NetGAN):
        raise ConfigError(f"{path} holds a {type(model).__name__}, not a netgan_tf NetGAN")
    return model
