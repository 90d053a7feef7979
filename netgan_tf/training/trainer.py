"""Training settings, model construction (inside a strategy scope) and the `fit` loop with its callbacks."""

from __future__ import annotations

import math
import shutil
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from netgan_tf.data.windows import window_starts, windows_dataset
from netgan_tf.errors import ConfigError, TrainingError
from netgan_tf.models import NetGAN
from netgan_tf.rundir import BACKUP_DIR, CHECKPOINT_DIR, HISTORY_FILE
from netgan_tf.training.callbacks import AtomicCheckpoint, StopOnNaN
from netgan_tf.training.strategy import resolve_strategy

# Auto epochs: enough passes to see about this many windows in total, within [MIN_EPOCHS, MAX_EPOCHS].
WINDOW_BUDGET = 120_000
MIN_EPOCHS, MAX_EPOCHS = 4, 60


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
    if s.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
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
            g_optimizer=keras.optimizers.Adam(s.g_learning_rate, beta_1=0.5),
            d_optimizer=keras.optimizers.Adam(s.d_learning_rate, beta_1=0.5),
            e_optimizer=keras.optimizers.Adam(s.e_learning_rate, beta_1=0.5) if s.use_encoder else None,
        )
    return model


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
    epochs = s.epochs or auto_epochs(len(starts))
    train_ds = windows_dataset(
        x_scaled[:cut], s.window, batch_size=s.batch_size, shuffle=True, seed=s.seed, starts=starts
    )
    val_ds = None
    if cut < len(x_scaled):
        val_starts = window_starts(
            len(x_scaled) - cut, s.window, s.stride, exclude=None if mask is None else mask[cut:]
        )
        val_ds = windows_dataset(x_scaled[cut:], s.window, batch_size=s.batch_size, starts=val_starts)

    nan_guard = StopOnNaN()
    cbs: list[keras.callbacks.Callback] = [nan_guard]
    if run_dir is not None:
        run = Path(run_dir)
        backup = run / BACKUP_DIR
        if not resume and backup.exists():
            shutil.rmtree(backup)
        cbs += [
            keras.callbacks.BackupAndRestore(str(backup), delete_checkpoint=True),
            keras.callbacks.CSVLogger(str(run / HISTORY_FILE), append=resume),
            AtomicCheckpoint(run / CHECKPOINT_DIR / "last.keras"),
        ]
    cbs += list(callbacks or [])
    history = model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, verbose=verbose, callbacks=cbs, shuffle=False
    )
    if nan_guard.stopped_at is not None:
        epoch, batch, key = nan_guard.stopped_at
        raise TrainingError(
            f"training stopped: {key} became NaN/inf in epoch {epoch + 1}, batch {batch + 1}; the weights of the "
            "last completed epoch were kept. Try a lower learning rate or check the input scaling."
        )
    return history
