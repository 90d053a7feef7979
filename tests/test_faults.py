"""Faults and hostile input (issue 7): kill -9 and --resume, NaN losses, unwritable or full disks, failing saves,
completed runs, and run directories that try to execute code or lie about their contents.

Every model here is tiny (window 8, hidden 8, latent 3, inversion steps 2) so the file stays well under two minutes
on two shared CPU cores.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import netgan_tf
from netgan_tf.errors import ConfigError, TrainingError

PACKAGE_DIR = Path(netgan_tf.__file__).resolve().parent
TINY = {"window": 8, "hidden": 8, "latent_dim": 3, "inversion_steps": 2, "batch_size": 16, "verbose": 0}
TINY_CLI = ["--window", "8", "--hidden", "8", "--latent-dim", "3", "--inversion-steps", "2", "--quiet"]
# Temporary names of netgan_tf.rundir.atomic_write / check_writable.
TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp.*|\.write-probe\..*")


def write_csv(path: Path, n_rows: int = 240, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)
    frame = pd.DataFrame(
        {
            "timestamp": t,
            "a": np.sin(t / 5.0) + 0.1 * rng.normal(size=n_rows),
            "b": np.cos(t / 7.0),
            "c": rng.normal(size=n_rows),
        }
    )
    frame.to_csv(path, index=False)
    return path


def temp_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if TEMP_NAME.fullmatch(p.name))


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from netgan_tf import cli

    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, command: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"netgan {command}: error: "), err
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, err)


def file_bytes(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("data") / "train.csv")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory, data_csv: Path) -> Path:
    """A completed run directory written by `AnomalyDetector.fit(run_dir=...)` (do not modify: copy it)."""
    from netgan_tf.detector import AnomalyDetector

    run = tmp_path_factory.mktemp("runs") / "done"
    AnomalyDetector(epochs=2, **TINY).fit(data_csv, time_column="timestamp", run_dir=run)
    return run


@pytest.fixture
def run_copy(trained_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    return run


# ---------------------------------------------------------------------------------------------- kill -9 and resume
@pytest.mark.parametrize("chunk_rows", [None, 150], ids=["in-memory", "out-of-core"])
def test_kill_during_training_then_resume(tmp_path: Path, chunk_rows: int | None) -> None:
    """SIGKILL after the first completed epoch; `--resume` continues from the backup, runs only the remaining epochs
    (optimizer state included) and ends with epochs 0..7 exactly once in an intact history.csv. The same holds when
    the file is streamed in chunks (`--chunk-rows`)."""
    epochs, batch, n_rows, window = 8, 8, 600, 8
    data = write_csv(tmp_path / "train.csv", n_rows=n_rows)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "netgan_tf.cli", "train", str(data), "--out", str(run), "--time-column", "timestamp"]
    cmd += ["--epochs", str(epochs), "--batch-size", str(batch), *TINY_CLI]
    if chunk_rows is not None:
        cmd += ["--chunk-rows", str(chunk_rows)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
    meta = run / "checkpoints" / "backup" / "training_metadata.json"

    with open(tmp_path / "first.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 150
            while not meta.is_file():
                assert proc.poll() is None, (tmp_path / "first.log").read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, "no epoch completed within 150 s"
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "model.keras").exists() and not (run / "detector.json").exists(), "killed too late"
    done = json.loads(meta.read_text())["epoch"]  # epochs the backup holds
    assert 1 <= done < epochs
    before = (run / "history.csv").read_text().splitlines(keepends=True)
    assert before[0].startswith("epoch,")

    resumed = subprocess.run(
        [c for c in cmd if c != "--quiet"] + ["--resume"], capture_output=True, text=True, env=env, timeout=240
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # Keras prints "Epoch k/8" per epoch: the resumed process starts right after the backed-up epoch.
    shown = [int(m) for m in re.findall(rf"Epoch (\d+)/{epochs}", resumed.stdout)]
    assert shown == list(range(done + 1, epochs + 1)), shown
    assert f"trained {epochs} epochs" in resumed.stdout

    history = (run / "history.csv").read_text()
    lines = history.splitlines(keepends=True)
    assert all(line.endswith("\n") for line in lines)
    table = pd.read_csv(run / "history.csv")
    assert table["epoch"].tolist() == list(range(epochs))  # none duplicated, none missing
    assert np.isfinite(table[["d_loss", "g_loss", "reconstruction_loss"]].to_numpy()).all()
    assert lines[: done + 1] == before[: done + 1]  # header and rows written before the kill are untouched

    assert not (run / "checkpoints").exists()
    assert temp_files(run) == []
    from netgan_tf.detector import AnomalyDetector

    det = AnomalyDetector.load(run)
    assert det.info["epochs_completed"] == epochs
    assert det.features == ["a", "b", "c"] and det.time_column == "timestamp"
    batches = math.ceil((n_rows - window + 1) / batch)
    assert det.model is not None and det.model.g_optimizer is not None and det.model.d_optimizer is not None
    # The optimizer state came back from the backup: a restart from scratch, or weights without the
    # optimizers, would give epochs * batches steps only by accident of the first case and never in the second.
    assert int(det.model.g_optimizer.iterations.numpy()) == epochs * batches
    assert int(det.model.d_optimizer.iterations.numpy()) == epochs * batches
    scores = det.score(data)
    assert len(scores) == n_rows and np.isfinite(scores["score"].to_numpy()).all()


def test_interrupted_after_training_resumes_with_no_epoch_left(
    tmp_path: Path, data_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted while calibrating/saving: --resume trains no further epoch, keeps the 3-epoch history and the run's
    own settings (columns, inversion steps), and completes the run directory."""
    from netgan_tf.detector import AnomalyDetector

    class Interrupted(Exception):
        pass

    def interrupted(self: Any, run_dir: Any) -> None:
        raise Interrupted

    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(AnomalyDetector, "save", interrupted)
        with pytest.raises(Interrupted):
            AnomalyDetector(epochs=3, **TINY).fit(data_csv, time_column="timestamp", run_dir=run)
    history = (run / "history.csv").read_bytes()
    assert pd.read_csv(run / "history.csv")["epoch"].tolist() == [0, 1, 2]

    # a resuming detector made with other options: the run's own settings win
    det = AnomalyDetector(**{**TINY, "inversion_steps": 7}).fit(data_csv, run_dir=run, resume=True)
    assert det.info["epochs_completed"] == 3 and all(len(v) == 3 for v in det.history.values())
    assert (run / "history.csv").read_bytes() == history
    loaded = AnomalyDetector.load(run)
    assert loaded.time_column == "timestamp" and loaded.options.inversion.steps == 2
    assert sorted(p.name for p in run.iterdir()) == ["detector.json", "history.csv", "model.keras", "train_scores.npy"]


def test_resume_truncates_history_to_the_backup(tmp_path: Path) -> None:
    """A kill between an epoch's history row (or in the middle of one) and its backup must not duplicate epochs."""
    from netgan_tf.training.trainer import _read_history, _truncate_history

    path = tmp_path / "history.csv"
    path.write_text("epoch,d_loss\r\n0,1.5\r\n1,1.25\r\n2,1.2\r\n3,1.")
    _truncate_history(path, 2)
    assert path.read_bytes() == b"epoch,d_loss\r\n0,1.5\r\n1,1.25\r\n"  # as CSVLogger writes it
    header, rows = _read_history(path)
    assert header == ["epoch", "d_loss"] and rows == [["0", "1.5"], ["1", "1.25"]]
    _truncate_history(path, 0)
    assert not path.exists()


def test_resume_with_unreadable_backup_is_a_config_error(tmp_path: Path) -> None:
    from netgan_tf.training.callbacks import read_backup_epoch

    backup = tmp_path / "backup"
    backup.mkdir()
    assert read_backup_epoch(backup) == 0
    (backup / "training_metadata.json").write_text('{"epoch": 3, "weights": "../../etc/passwd"}')
    with pytest.raises(ConfigError, match="invalid"):
        read_backup_epoch(backup)
    (backup / "training_metadata.json").write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable"):
        read_backup_epoch(backup)


# ---------------------------------------------------------------------------------------------- NaN losses
def nan_injector() -> Any:
    """A callback that records the state at the end of epoch 1 and poisons a discriminator kernel with NaN before
    the third batch of epoch 2 (so two good batches of epoch 2 must be rolled back too)."""
    import keras

    class PoisonSecondEpoch(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epoch = 0
            self.good: list[np.ndarray] | None = None
            self.good_d_steps = -1

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.epoch = epoch

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if epoch == 0:
                self.good = [w.numpy().copy() for w in self.model.weights]
                self.good_d_steps = int(self.model.d_optimizer.iterations.numpy())

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            if self.epoch == 1 and batch == 2:
                kernel = self.model.discriminator.trainable_variables[0]
                kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))

    return PoisonSecondEpoch()


def test_nan_loss_stops_training_and_keeps_last_good_model(
    tmp_path: Path, data_csv: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`netgan train` with a NaN injected in epoch 2: one line, exit 2, TrainingError message; the model is put back
    to the end of epoch 1 (weights and optimizer state), which is also the checkpoint on disk."""
    import keras

    import netgan_tf.detector as detector_mod
    import netgan_tf.training.trainer as trainer_mod

    poison = nan_injector()
    raised: list[BaseException] = []
    real = detector_mod.train_model

    def poisoned(*args: Any, **kwargs: Any) -> Any:
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), poison]
        try:
            return real(*args, **kwargs)
        except BaseException as exc:
            raised.append(exc)
            raise

    monkeypatch.setattr(detector_mod, "train_model", poisoned)
    assert trainer_mod.train_model is real
    run = tmp_path / "run"
    argv = ["train", str(data_csv), "--out", str(run), "--time-column", "timestamp", "--epochs", "4", *TINY_CLI]
    code, _, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, "train", "training stopped", "NaN/inf", "epoch 2, batch 3", "last.keras")
    assert len(raised) == 1 and isinstance(raised[0], TrainingError)

    model = poison.model
    assert poison.good is not None
    weights = model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    assert all(np.array_equal(w, g) for w, g in zip(weights, poison.good))  # the end of epoch 1, exactly
    assert int(model.d_optimizer.iterations.numpy()) == poison.good_d_steps  # optimizer state rolled back too
    for opt in (model.g_optimizer, model.d_optimizer, model.e_optimizer):
        assert all(np.isfinite(v.numpy()).all() for v in opt.variables)

    # On disk: the last good checkpoint (epoch 1); no model.keras/detector.json; the backup still says 1 epoch.
    assert not (run / "model.keras").exists() and not (run / "detector.json").exists()
    saved = keras.models.load_model(run / "checkpoints" / "last.keras", safe_mode=True)
    assert all(np.array_equal(w, g) for w, g in zip(saved.get_weights(), poison.good))
    meta = json.loads((run / "checkpoints" / "backup" / "training_metadata.json").read_text())
    assert meta["epoch"] == 1
    assert temp_files(run) == []


# ---------------------------------------------------------------------------------------------- unwritable or full
def unwritable_dir(tmp_path: Path) -> Path:
    """A directory the process cannot create files in: a read-only parent, or (as root, where chmod does not stop
    writes) a path below a regular file."""
    parent = tmp_path / "readonly"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        (parent / "probe").touch()
    except OSError:
        return parent / "run"
    (parent / "probe").unlink()
    parent.chmod(0o700)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    return blocker / "run"


def test_unwritable_output_dir_fails_before_training(
    tmp_path: Path, data_csv: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import netgan_tf.detector as detector_mod

    def no_work(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("data loading or training started before the output directory was checked")

    for name in ("load_table", "build_model", "train_model"):
        monkeypatch.setattr(detector_mod, name, no_work)
    out = unwritable_dir(tmp_path)
    code, _, err = run_cli(["train", str(data_csv), "--out", str(out), *TINY_CLI], capsys)
    assert_one_line_error(code, err, "train", "cannot write to output directory", str(out))

    with pytest.raises(ConfigError, match="cannot write to output directory"):
        detector_mod.AnomalyDetector(**TINY).fit(data_csv, run_dir=out)
    # --out naming an existing regular file
    code, _, err = run_cli(["train", str(data_csv), "--out", str(data_csv), *TINY_CLI], capsys)
    assert_one_line_error(code, err, "train", "is not a directory")


def test_full_disk_fails_before_training(
    tmp_path: Path, data_csv: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import netgan_tf.detector as detector_mod
    import netgan_tf.rundir as rundir

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def no_work(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("training started")

    monkeypatch.setattr(rundir.os, "write", full)
    monkeypatch.setattr(detector_mod, "train_model", no_work)
    run = tmp_path / "run"
    code, _, err = run_cli(["train", str(data_csv), "--out", str(run), *TINY_CLI], capsys)
    assert_one_line_error(code, err, "train", "cannot write to output directory", "no space left")
    assert list(run.iterdir()) == []  # the probe is gone


@pytest.mark.parametrize("failing", ["model", "scores", "config"])
def test_failing_save_keeps_previous_files(run_copy: Path, failing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A save that fails part-way (disk full) changes nothing: the previous model.keras, train_scores.npy and
    detector.json stay byte for byte, and no temporary file is left behind."""
    import netgan_tf.detector as detector_mod
    from netgan_tf.detector import AnomalyDetector

    det = AnomalyDetector.load(run_copy)
    det.info["epochs_completed"] = 99  # a different detector.json, would it be written
    before = file_bytes(run_copy)
    assert {"model.keras", "detector.json", "train_scores.npy", "history.csv"} <= set(before)

    def half_write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, "No space left on device")

    if failing == "model":
        assert det.model is not None
        monkeypatch.setattr(det.model, "save", lambda path, *a, **k: half_write(path))
    elif failing == "scores":
        monkeypatch.setattr(detector_mod.np, "save", lambda path, *a, **k: half_write(path))
    else:
        real_open = open

        def failing_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if ".detector.json." in str(file) and "w" in mode:
                with real_open(file, "w", encoding="utf-8") as fh:
                    fh.write('{"schema_version": ')
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_open(file, mode, *args, **kwargs)

        monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(OSError, match="No space left"):
        det.save(run_copy)
    monkeypatch.undo()
    assert file_bytes(run_copy) == before
    assert temp_files(run_copy) == []
    AnomalyDetector.load(run_copy)


def test_failing_first_save_leaves_nothing(trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netgan_tf.detector import AnomalyDetector

    det = AnomalyDetector.load(trained_run)
    assert det.model is not None

    def boom(path: str, *args: Any, **kwargs: Any) -> None:
        Path(path).write_bytes(b"PK\x03\x04")
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(det.model, "save", boom)
    target = tmp_path / "fresh"
    with pytest.raises(OSError):
        det.save(target)
    assert sorted(p.name for p in target.iterdir()) == []


def test_atomic_write_gives_plain_file_mode(tmp_path: Path) -> None:
    from netgan_tf.rundir import atomic_write_text

    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write_text(tmp_path / "x.json", "{}")
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_stale_temp_files_are_removed_on_resume(tmp_path: Path, data_csv: Path) -> None:
    from netgan_tf.detector import RESUME_STATE, AnomalyDetector

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / RESUME_STATE).write_text("{}")
    stale = [run / ".model.keras.ab_cd123.tmp.keras", run / "checkpoints" / ".last.keras.x1y2z3w4.tmp.keras"]
    for path in stale:
        path.write_bytes(b"PK")
    keep = run / ".hidden-user-file"
    keep.write_text("mine")
    with pytest.raises(ConfigError, match="unreadable"):  # the (empty) resume state is refused after the cleanup
        AnomalyDetector(**TINY).fit(data_csv, run_dir=run, resume=True)
    assert not any(p.exists() for p in stale) and keep.exists()


# ---------------------------------------------------------------------------------------------- completed runs
def test_completed_run_is_not_overwritten_without_overwrite(
    run_copy: Path, data_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = file_bytes(run_copy)
    base = ["train", str(data_csv), "--out", str(run_copy), "--time-column", "timestamp", *TINY_CLI]
    code, _, err = run_cli(base, capsys)
    assert_one_line_error(code, err, "train", "already holds a trained model", "--overwrite", "--resume")
    code, _, err = run_cli([*base, "--resume"], capsys)
    assert_one_line_error(code, err, "train", "completed run", "nothing to resume")
    assert file_bytes(run_copy) == before

    code, out, err = run_cli([*base, "--overwrite", "--epochs", "1"], capsys)
    assert code == 0, err
    assert "trained 1 epochs" in out
    assert json.loads((run_copy / "detector.json").read_text())["training"]["epochs_completed"] == 1
    assert pd.read_csv(run_copy / "history.csv")["epoch"].tolist() == [0]


def test_resume_without_interrupted_run(tmp_path: Path, data_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["train", str(data_csv), "--out", str(tmp_path / "new"), "--resume", *TINY_CLI], capsys)
    assert_one_line_error(code, err, "train", "no interrupted training to resume")


# ---------------------------------------------------------------------------------------------- hostile run dirs
def _edit(fn: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def tamper(run: Path) -> None:
        cfg = json.loads((run / "detector.json").read_text())
        fn(cfg)
        (run / "detector.json").write_text(json.dumps(cfg))  # allow_nan: NaN/Infinity become literal tokens

    return tamper


def _set(path: str, value: Any) -> Callable[[Path], None]:
    *parents, last = path.split(".")

    def fn(cfg: dict[str, Any]) -> None:
        node = cfg
        for key in parents:
            node = node[key]
        node[last] = value

    return _edit(fn)


def _delete(path: str) -> Callable[[Path], None]:
    *parents, last = path.split(".")

    def fn(cfg: dict[str, Any]) -> None:
        node = cfg
        for key in parents:
            node = node[key]
        del node[last]

    return _edit(fn)


def _extra_feature(cfg: dict[str, Any]) -> None:
    cfg["features"] = [*cfg["features"], "d"]


def _consistent_extra_feature(cfg: dict[str, Any]) -> None:
    """Every count in detector.json says 4 features; model.keras has 3."""
    cfg["features"] = [*cfg["features"], "d"]
    cfg["scaler"]["mul"].append(1.0)
    cfg["scaler"]["add"].append(0.0)
    cfg["model"]["n_features"] = 4
    cfg["scoring"]["normalization"]["feature_scale"].append(1.0)


def _write(text: str | bytes) -> Callable[[Path], None]:
    def tamper(run: Path) -> None:
        path = run / "detector.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return tamper


TAMPERED: dict[str, tuple[Callable[[Path], None], str]] = {
    "feature count vs scaler": (_edit(_extra_feature), "4 values"),
    "feature count vs model.keras": (_edit(_consistent_extra_feature), "does not match detector.json"),
    "negative window": (_set("window", -8), "'window' must be a positive integer"),
    "window as string": (_set("window", "8"), "'window' must be a positive integer"),
    "model window differs": (_set("model.window", 9), "model window"),
    "training window differs": (_set("training.window", 9), "does not match"),
    "training window garbage": (_set("training.window", "abc"), "invalid content"),
    "threshold NaN": (_set("threshold.value", float("nan")), "threshold value must be a finite number"),
    "threshold inf": (_set("threshold.value", float("inf")), "threshold value must be a finite number"),
    "streaming threshold NaN": (_set("threshold.streaming_value", float("nan")), "streaming_value"),
    "threshold method": (_set("threshold.method", "__import__('os')"), "threshold method"),
    "scaler NaN": (_set("scaler.mul", [float("nan"), 1.0, 1.0]), "finite"),
    "scaler method": (_set("scaler.method", "pickle"), "scaler"),
    "fill": (_set("fill", "rm -rf /"), "'fill' must be one of"),
    "inversion steps": (_set("scoring.inversion.steps", -1), "inversion steps"),
    "inversion init": (_set("scoring.inversion.init", "os.system"), "inversion init"),
    "score weight": (_set("scoring.normalization.weight", 7.0), "weight"),
    "feature_scale zero": (_set("scoring.normalization.feature_scale", [0.0, 1.0, 1.0]), "feature_scale"),
    "missing features": (_delete("features"), "'features'"),
    "missing threshold": (_delete("threshold"), "'threshold'"),
    "missing training": (_delete("training"), "training"),
    "missing time_column": (_delete("time_column"), "time_column"),
    "missing threshold method": (_delete("threshold.method"), "method"),
    "missing inversion init": (_delete("scoring.inversion.init"), "init"),
    "wrong schema_version": (_set("schema_version", 2), "schema_version must be 1"),
    "schema_version as string": (_set("schema_version", "1"), "schema_version must be 1"),
    "non-JSON": (_write("{this is not json"), "not valid JSON"),
    "binary": (_write(b"\x80\x04\x95 pickle-ish \xff"), "not valid JSON"),
    "top-level list": (_write("[1, 2, 3]"), "top level must be a JSON object"),
    "empty": (_write(""), "not valid JSON"),
    "deep nesting": (_write("[" * 200_000 + "]" * 200_000), "detector.json"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_detector_json_is_refused(run_copy: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    from netgan_tf.detector import AnomalyDetector

    tamper, needle = TAMPERED[case]
    tamper(run_copy)
    with pytest.raises(ConfigError) as info:
        AnomalyDetector.load(run_copy)
    assert needle.lower() in str(info.value).lower(), str(info.value)
    assert "detector.json" in str(info.value) or "model.keras" in str(info.value)

    data = write_csv(run_copy.parent / "score.csv", n_rows=40, seed=1)
    out = run_copy.parent / "scores.csv"
    code, _, err = run_cli(["score", str(run_copy), str(data), "--out", str(out), "--quiet"], capsys)
    assert_one_line_error(code, err, "score", needle)
    assert not out.exists()


def test_every_missing_top_level_key_is_handled(run_copy: Path) -> None:
    """Removing any one top-level key either still loads (informational keys) or is a ConfigError, never a crash."""
    from netgan_tf.detector import AnomalyDetector

    original = (run_copy / "detector.json").read_text()
    required = {"schema_version", "features", "window", "stride", "fill", "scaler", "model", "scoring", "threshold"}
    required |= {"training", "time_column", "label_column"}
    for key in json.loads(original):
        _delete(key)(run_copy)
        if key in required:
            with pytest.raises(ConfigError):
                AnomalyDetector.load(run_copy)
        else:
            try:
                AnomalyDetector.load(run_copy)
            except ConfigError:
                pass
        (run_copy / "detector.json").write_text(original)


def test_detector_json_nan_token_is_literal(run_copy: Path) -> None:
    _set("threshold.value", float("nan"))(run_copy)
    assert '"value": NaN' in (run_copy / "detector.json").read_text()


def test_damaged_train_scores_is_a_config_error(run_copy: Path) -> None:
    from netgan_tf.detector import AnomalyDetector

    (run_copy / "train_scores.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ConfigError, match="train_scores.npy"):
        AnomalyDetector.load(run_copy)
    np.save(run_copy / "train_scores.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ConfigError, match="train_scores.npy"):  # an object array needs pickle: refused
        AnomalyDetector.load(run_copy)


def _replace_model(run: Path, build: Callable[[], Any]) -> None:
    model = build()
    (run / "model.keras").unlink()
    model.save(run / "model.keras")


def test_keras_lambda_layer_is_refused_and_never_runs(run_copy: Path, tmp_path: Path) -> None:
    import keras

    from netgan_tf.detector import AnomalyDetector

    marker = tmp_path / "code-ran"

    def build() -> Any:
        path = str(marker)
        fn = eval(f"lambda x: (__import__('pathlib').Path({path!r}).touch(), x)[1]")  # bytecode stored in the file
        # no output_shape: Keras calls the function to infer it, so an unsafe load would run it (touch the marker)
        return keras.Sequential([keras.Input((8, 3)), keras.layers.Lambda(fn)])

    _replace_model(run_copy, build)
    marker.unlink(missing_ok=True)  # building the model above ran the lambda once
    with pytest.raises(ConfigError) as info:
        AnomalyDetector.load(run_copy)
    message = str(info.value)
    assert "arbitrary code execution" in message and "model.keras" in message, message
    assert not marker.exists()


def test_non_netgan_model_is_refused(run_copy: Path) -> None:
    import keras

    from netgan_tf.detector import AnomalyDetector

    _replace_model(run_copy, lambda: keras.Sequential([keras.Input((8, 3)), keras.layers.Dense(3)]))
    with pytest.raises(ConfigError, match="not a netgan_tf NetGAN"):
        AnomalyDetector.load(run_copy)


def test_model_config_naming_arbitrary_module_is_refused(run_copy: Path, tmp_path: Path) -> None:
    from netgan_tf.detector import AnomalyDetector

    marker = tmp_path / "code-ran"
    path = run_copy / "model.keras"
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    evil = {
        "module": "os",
        "class_name": "system",
        "config": {"command": f"touch {marker}"},
        "registered_name": "system",
    }
    members["config.json"] = json.dumps(evil).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    with pytest.raises(ConfigError, match="model.keras"):
        AnomalyDetector.load(run_copy)
    assert not marker.exists()


def test_garbage_model_file_is_a_config_error(run_copy: Path) -> None:
    from netgan_tf.detector import AnomalyDetector

    (run_copy / "model.keras").write_bytes(b"\x80\x04\x95\x00 not a zip")
    with pytest.raises(ConfigError, match="cannot load"):
        AnomalyDetector.load(run_copy)
    (run_copy / "model.keras").unlink()
    with pytest.raises(ConfigError, match="not found"):
        AnomalyDetector.load(run_copy)


def test_model_is_loaded_in_safe_mode(monkeypatch: pytest.MonkeyPatch, run_copy: Path) -> None:
    import keras

    from netgan_tf.detector import AnomalyDetector

    calls: list[dict[str, Any]] = []
    real = keras.models.load_model

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(keras.models, "load_model", spy)
    AnomalyDetector.load(run_copy)
    assert calls and all(kw.get("safe_mode") is True for kw in calls)


def test_no_pickle_anywhere_in_the_package() -> None:
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"\bimport\s+(c?pickle|dill|cloudpickle|joblib|shelve|marshal)\b", r"allow_pickle\s*=\s*True"):
            offenders += [f"{path.relative_to(PACKAGE_DIR)}: {m.group(0)}" for m in re.finditer(pattern, text)]
        offenders += [f"{path.relative_to(PACKAGE_DIR)}: pickle" for _ in re.finditer(r"\bpickle\.", text)]
        offenders += [
            f"{path.relative_to(PACKAGE_DIR)}: safe_mode=False" for _ in re.finditer(r"safe_mode\s*=\s*False", text)
        ]
        offenders += [
            f"{path.relative_to(PACKAGE_DIR)}: eval/exec" for _ in re.finditer(r"(?<![\w.])(eval|exec)\(", text)
        ]
    assert offenders == []
    # every np.load in the package refuses pickles explicitly
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        for call in re.findall(r"np\.load\([^)]*\)", path.read_text(encoding="utf-8")):
            assert "allow_pickle=False" in call, f"{path}: {call}"
