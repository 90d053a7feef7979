"""Training settings, model construction (inside a strategy scope) and the `fit` loop with its callbacks."""

from __future__ import annotations

import csv
import io
import math
import shutil
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from netgan_tf.data.windows import window_starts, windows_dataset
from netgan_tf.errors import ConfigError, TrainingError
from netgan_tf.models import NetGAN
from netgan_tf.rundir import BACKUP_DIR, CHECKPOINT_DIR, HISTORY_FILE, atomic_write_text
from netgan_tf.training.callbacks import AtomicBackupAndRestore, AtomicCheckpoint, StopOnNaN, read_backup_epoch
from netgan_tf.training.strategy import resolve_strategy

# Auto epochs: enough passes to see about this many windows in total, within [MIN_EPOCHS, MAX_EPOCHS].
WINDOW_BUDGET = 120_000
MIN_EPOCHS, MAX_EPOCHS = 4, 60
LARGE_FIT_WINDOWS = 2_000_000  # automatic epochs above this many windows in all print a hint


@dataclass
class TrainSettings:
    """Everything that decides how a Net-GAN is trained (stored in detector.json under "training").

    `epochs=None` picks enough epochs to see about 120,000 windows (4 to 60 epochs): good defaults without
    tuning, and a 25,000-row file trains in minutes on two CPU cores. `unroll=None` unrolls the LSTMs when no
    GPU is visible (faster on CPUs) and keeps cuDNN kernels on GPUs.
    """

    window: int = 30
    stride: int = 1
    epochs: int | None = None
    batch_size: int = 64
    latent_dim: int = 15
    hidden: int = 100
    seed: int = 0
    g_learning_rate: float = 1e-3
    d_learning_rate: float = 1e-3
    e_learning_rate: float = 1e-3
    d_steps: int = 1
    g_steps: int = 1
    label_smoothing: float = 0.0
    use_encoder: bool = True
    reconstruction_weight: float = 1.0
    cycle_weight: float = 0.1
    validation_split: float = 0.0
    unroll: bool | None = None
    strategy: str = "auto"
    mixed_precision: bool = False

    def __post_init__(self) -> None:
        for name in ("window", "stride", "batch_size", "latent_dim", "hidden", "d_steps", "g_steps"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}")
        if self.epochs is not None and int(self.epochs) < 1:
            raise ConfigError(f"epochs must be a positive integer, got {self.epochs}")
        if not 0.0 <= float(self.validation_split) < 0.5:
            raise ConfigError(f"validation-split must be in [0, 0.5), got {self.validation_split}")
        for name in ("g_learning_rate", "d_learning_rate", "e_learning_rate"):
            if not float(getattr(self, name)) > 0:
                raise ConfigError(f"{name} must be > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def auto_epochs(n_windows: int) -> int:
    return int(min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(WINDOW_BUDGET / max(n_windows, 1)))))


def gpu_available() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def build_model(
    n_features: int,
    s: TrainSettings,
    strategy: tf.distribute.Strategy | None = None,
    output_activation: str = "tanh",
) -> NetGAN:
    """A compiled NetGAN for `n_features` series, created inside the strategy's scope (optimizer slots built)."""
    keras.utils.set_random_seed(s.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if s.mixed_precision else "float32")
    strategy = strategy or resolve_strategy(s.strategy)
    unroll = (not gpu_available()) if s.unroll is None else bool(s.unroll)
    with strategy.scope():
        model = NetGAN(
            n_features=n_features,
            window=s.window,
            latent_dim=s.latent_dim,
            generator_units=(s.hidden,),
            discriminator_units=(s.hidden,),
            encoder_units=(s.hidden,),
            use_encoder=s.use_encoder,
            d_steps=s.d_steps,
            g_steps=s.g_steps,
            label_smoothing=s.label_smoothing,
            reconstruction_weight=s.reconstruction_weight,
            cycle_weight=s.cycle_weight,
            seed=s.seed,
            unroll=unroll,
            output_activation=output_activation,
        )
        model.compile(
            g_optimizer=_optimizer(s.g_learning_rate),
            d_optimizer=_optimizer(s.d_learning_rate),
            e_optimizer=_optimizer(s.e_learning_rate) if s.use_encoder else None,
        )
    return model


def _optimizer(learning_rate: float) -> keras.optimizers.Optimizer:
    """Adam(lr, beta_1=0.5). Under mixed precision the variables and all losses stay float32 (only activations are
    float16); no loss scaling is applied."""
    return keras.optimizers.Adam(learning_rate, beta_1=0.5)


def split_train_validation(n_rows: int, s: TrainSettings) -> tuple[int, int]:
    """Rows [0, cut) train, [cut, n_rows) validate (time order, no shuffling); cut == n_rows without validation."""
    if s.validation_split <= 0:
        return n_rows, n_rows
    cut = int(round(n_rows * (1.0 - s.validation_split)))
    if n_rows - cut < s.window or cut < s.window:
        raise ConfigError(
            f"validation-split {s.validation_split} leaves fewer than one window of {s.window} rows on one side "
            f"of the {n_rows} training rows"
        )
    return cut, n_rows


def train_model(
    model: NetGAN,
    x_scaled: np.ndarray,
    s: TrainSettings,
    *,
    exclude: np.ndarray | None = None,
    run_dir: str | Path | None = None,
    resume: bool = False,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
) -> keras.callbacks.History:
    """Fits `model` on sliding windows of x_scaled [n_rows, n] (rows flagged in `exclude` are never in a window).

    With `run_dir`, writes `history.csv`, a per-epoch `checkpoints/last.keras` and a BackupAndRestore state under
    `checkpoints/backup` so that `resume=True` continues an interrupted run. Raises TrainingError on NaN losses
    (the last good weights are put back and the last checkpoint is kept).
    """
    cut, _ = split_train_validation(len(x_scaled), s)
    mask = None if exclude is None else np.asarray(exclude, bool)
    starts = window_starts(cut, s.window, s.stride, exclude=None if mask is None else mask[:cut])
    train_ds = windows_dataset(
        x_scaled[:cut], s.window, batch_size=s.batch_size, shuffle=True, seed=s.seed, starts=starts
    )
    val_ds = None
    if cut < len(x_scaled):
        val_starts = window_starts(
            len(x_scaled) - cut, s.window, s.stride, exclude=None if mask is None else mask[cut:]
        )
        val_ds = windows_dataset(x_scaled[cut:], s.window, batch_size=s.batch_size, starts=val_starts)
    return fit_datasets(
        model,
        train_ds,
        val_ds,
        len(starts),
        s,
        run_dir=run_dir,
        resume=resume,
        callbacks=callbacks,
        verbose=verbose,
    )


def fit_datasets(
    model: NetGAN,
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset | None,
    n_train_windows: int,
    s: TrainSettings,
    *,
    run_dir: str | Path | None = None,
    resume: bool = False,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
) -> keras.callbacks.History:
    """The `fit` loop of `train_model` on ready window datasets (in memory or streamed from a file; see
    `netgan_tf.data.stream`), with the run directory's history, checkpoint, backup and NaN guard."""
    epochs = s.epochs or auto_epochs(n_train_windows)
    if s.epochs is None and verbose and epochs * n_train_windows > LARGE_FIT_WINDOWS:
        print(
            f"automatic epochs: {epochs} x {n_train_windows:,} windows; on a file this large, --stride S or "
            "--epochs E trains on fewer windows",
            flush=True,
        )
    nan_guard = StopOnNaN()
    cbs: list[keras.callbacks.Callback] = [nan_guard]
    checkpoint: AtomicCheckpoint | None = None
    history_path: Path | None = None
    if run_dir is not None:
        run = Path(run_dir)
        backup = run / BACKUP_DIR
        history_path = run / HISTORY_FILE
        if not resume:
            shutil.rmtree(backup, ignore_errors=True)
            (run / CHECKPOINT_DIR / "last.keras").unlink(missing_ok=True)
        # history.csv keeps exactly the epochs the backup holds: a kill between the CSV row and the backup of an
        # epoch (or in the middle of a row) must neither duplicate nor lose an epoch number on --resume.
        _truncate_history(history_path, read_backup_epoch(backup) if resume else 0)
        checkpoint = AtomicCheckpoint(run / CHECKPOINT_DIR / "last.keras")
        cbs += [
            # CSVLogger before the backup: an epoch's row is on disk before the backup counts the epoch as done.
            keras.callbacks.CSVLogger(str(history_path), append=resume),
            # Kept after training: the run directory's checkpoints/ is removed once model.keras is saved, and a
            # kill during calibration or saving then resumes with no epoch left to train.
            AtomicBackupAndRestore(backup, delete_checkpoint=False),
            checkpoint,
        ]
    cbs += list(callbacks or [])
    if verbose == "auto":  # a progress bar on a terminal, one line per epoch in logs and CI
        verbose = 1 if sys.stdout.isatty() else 2
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=verbose, callbacks=cbs, shuffle=False)
    if nan_guard.stopped_at is not None:
        epoch, batch, key = nan_guard.stopped_at
        kept = "the weights of the last completed epoch were kept"
        if checkpoint is not None and checkpoint.path.is_file() and (resume or checkpoint.saved):
            kept += f" (saved in {checkpoint.path})"
        raise TrainingError(
            f"training stopped: {key} became NaN/inf in epoch {epoch + 1}, batch {batch + 1}; {kept}. "
            "Try a lower learning rate or check the input scaling."
        )
    if resume and history_path is not None:
        _full_history(history, history_path)
    return history


def _read_history(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the complete rows (epoch 0, 1, 2, ... in order) of a CSVLogger file."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        return [], []
    if not text.endswith("\n"):  # a row cut short by a kill
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(text.splitlines()))
    if not rows or not rows[0] or rows[0][0] != "epoch":
        return [], []
    header = rows[0]
    good: list[list[str]] = []
    for row in rows[1:]:
        if len(row) != len(header) or row[0] != str(len(good)):
            break
        good.append(row)
    return header, good


def _truncate_history(path: Path, epochs: int) -> None:
    """Keeps the header and the rows of epochs [0, epochs) of history.csv (removes the file when none is left)."""
    if not path.exists():
        return
    header, rows = _read_history(path)
    rows = rows[:epochs]
    if not rows:
        path.unlink()
        return
    buf = io.StringIO()
    csv.writer(buf, dialect=csv.excel).writerows([header, *rows])  # the dialect CSVLogger writes
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        unchanged = fh.read() == buf.getvalue()
    if not unchanged:
        atomic_write_text(path, buf.getvalue())


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _full_history(history: keras.callbacks.History, path: Path) -> None:
    """After a resumed fit, makes `history.history` hold every epoch of the run (from history.csv)."""
    header, rows = _read_history(path)
    if not rows:
        return
    full: dict[str, list[float]] = {}
    for j, key in enumerate(header[1:], start=1):
        values = [_number(row[j]) for row in rows]
        if not all(math.isnan(v) for v in values) or key in history.history:
            full[key] = values
    history.history = full
    history.epoch = list(range(len(rows)))
