"""Training callbacks: atomic per-epoch checkpoints and a NaN guard that keeps the last good weights."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras

from netgan_tf.rundir import atomic_write


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (weights, optimizer state, config) to `path` after every epoch, atomically."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if getattr(self.model, "_netgan_nan_stop", False):
            return
        atomic_write(self.path, lambda tmp: self.model.save(tmp), suffix=".keras")


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and puts back the weights of the last completed epoch.

    After `fit` returns, `stopped_at` holds (epoch, batch, loss name) when it fired; the trainer turns that into a
    clear TrainingError while the last good checkpoint stays on disk.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stopped_at: tuple[int, int, str] | None = None
        self._good: list[Any] | None = None
        self._epoch = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._good = [w.numpy().copy() for w in self.model.weights]

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        for key, value in (logs or {}).items():
            if key.endswith("loss") and not math.isfinite(float(value)):
                self.stopped_at = (self._epoch, batch, key)
                self.model.stop_training = True
                self.model._netgan_nan_stop = True
                if self._good is not None:
                    for w, good in zip(self.model.weights, self._good):
                        w.assign(good)
                return

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.stopped_at is None:
            self._good = [w.numpy().copy() for w in self.model.weights]
