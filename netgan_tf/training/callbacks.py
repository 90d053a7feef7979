"""Training callbacks: atomic per-epoch checkpoints, an atomic backup for `--resume`, and a NaN guard that keeps the
last good weights."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import keras

from netgan_tf.errors import ConfigError
from netgan_tf.rundir import atomic_write, atomic_write_text

BACKUP_METADATA = "training_metadata.json"
_BACKUP_WEIGHTS = re.compile(r"epoch-(\d+)\.weights\.h5")


def _nan_stopped(model: Any) -> bool:
    return bool(getattr(model, "_netgan_nan_stop", False))


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (weights, optimizer state, config) to `path` after every epoch, atomically."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.saved = False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if _nan_stopped(self.model):
            return
        atomic_write(self.path, lambda tmp: self.model.save(tmp), suffix=".keras")
        self.saved = True


def read_backup_epoch(backup_dir: str | Path) -> int:
    """The number of completed epochs recorded in an `AtomicBackupAndRestore` directory (0 when there is none)."""
    meta = Path(backup_dir) / BACKUP_METADATA
    if not meta.is_file():
        return 0
    try:
        state = json.loads(meta.read_text(encoding="utf-8"))
        epoch = state["epoch"]
        weights = state["weights"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{meta} is unreadable ({exc}); start the run again with --overwrite") from exc
    if (
        isinstance(epoch, bool)
        or not isinstance(epoch, int)
        or epoch < 0
        or not isinstance(weights, str)
        or _BACKUP_WEIGHTS.fullmatch(weights) is None
        or not (Path(backup_dir) / weights).is_file()
    ):
        raise ConfigError(f"{meta} is invalid; start the run again with --overwrite")
    return epoch


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` whose backup survives `kill -9` at any moment.

    Keras writes `latest.weights.h5` and then `training_metadata.json` in place, so a kill during the write leaves
    a damaged file, and a kill between the two leaves weights one epoch ahead of the recorded epoch. Here the
    weights (model and the NetGAN's g/d/e optimizer state) go to a new `epoch-N.weights.h5` by temp file + rename,
    then the metadata naming that file is replaced atomically, and only then is the previous weights file removed:
    the metadata always names a complete weights file of the epoch it records. Nothing is saved after a NaN stop.
    """

    def __init__(self, backup_dir: str | Path, delete_checkpoint: bool = True) -> None:
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=delete_checkpoint)
        self._dir = Path(backup_dir)

    def _load_model(self) -> None:
        epoch = read_backup_epoch(self._dir)
        meta = self._dir / BACKUP_METADATA
        if not meta.is_file():
            return
        weights = json.loads(meta.read_text(encoding="utf-8"))["weights"]
        self.model.load_weights(str(self._dir / weights))
        self.model._initial_epoch = epoch

    def _save_model(self) -> None:
        if _nan_stopped(self.model):
            return
        self._dir.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{self._current_epoch}.weights.h5"
        atomic_write(self._dir / name, lambda tmp: self.model.save_weights(tmp, overwrite=True), suffix=".weights.h5")
        state = {"epoch": self._current_epoch, "batch": 0, "weights": name}
        atomic_write_text(self._dir / BACKUP_METADATA, json.dumps(state))
        for old in self._dir.glob("epoch-*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)


def _state_variables(model: Any) -> list[Any]:
    """The model's weights and the variables of its optimizers (the NetGAN's g/d/e optimizers)."""
    variables = list(model.weights)
    for name in ("g_optimizer", "d_optimizer", "e_optimizer", "optimizer"):
        opt = getattr(model, name, None)
        if opt is not None and hasattr(opt, "variables"):
            variables += list(opt.variables)
    seen: set[int] = set()
    unique = []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            unique.append(v)
    return unique


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and puts back the state of the last completed epoch.

    The snapshot (weights and optimizer variables) is taken at the start of every epoch, i.e. after a
    BackupAndRestore restore and after the previous epoch's end. After `fit` returns, `stopped_at` holds
    (epoch, batch, loss name) when it fired; the trainer turns that into a clear TrainingError while the last good
    checkpoint stays on disk.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stopped_at: tuple[int, int, str] | None = None
        self._good: list[Any] | None = None
        self._epoch = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.stopped_at = None
        self._good = None
        self.model._netgan_nan_stop = False

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        self._good = [v.numpy().copy() for v in _state_variables(self.model)]

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        for key, value in (logs or {}).items():
            if key.endswith("loss") and not math.isfinite(float(value)):
                self.stopped_at = (self._epoch, batch, key)
                self.model.stop_training = True
                self.model._netgan_nan_stop = True
                if self._good is not None:
                    for v, good in zip(_state_variables(self.model), self._good):
                        v.assign(good)
                return
