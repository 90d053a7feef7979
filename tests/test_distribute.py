"""NetGAN under tf.distribute.MirroredStrategy on two logical CPU devices, compared with one device.

Logical devices must be configured before TensorFlow initialises, so the runs happen in a subprocess (one for the
whole module). Four 3-epoch runs, global batch 16, 32 windows, shuffle=False, the same initial weights:

- `mirrored`, `single`, `single_half_lr`: a test-only subclass draws the latent noise of the whole global batch and
  gives each replica its slice, so the mirrored run sees exactly the noise and the data of the single-device run.
  They then must give the same loss curves up to round-off. (NetGAN itself mixes the replica id into the noise seed,
  so its replicas draw different noise: compared as such, the curves differ by sampling noise.)
- `mirrored_stock`: NetGAN as shipped, under the mirrored strategy.

The optimizers are SGD with momentum: with Adam, gradients divided by the replica count a second time would go almost
unnoticed (Adam is invariant to the gradient scale), while with SGD they act exactly as a halved learning rate, which
is what `single_half_lr` shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

SCRIPT = r"""
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
from netgan_tf.models import NetGAN


class AlignedNoiseNetGAN(NetGAN):
    # Every replica takes its slice of one global noise batch: the noise a single device draws.
    def _noise_seed(self, stream, step):
        return tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64) + stream])

    def sample_latent(self, batch_size, seed):
        ctx = tf.distribute.get_replica_context()
        n = 1 if ctx is None else ctx.num_replicas_in_sync
        if n == 1:
            return super().sample_latent(batch_size, seed)
        r = tf.cast(ctx.replica_id_in_sync_group, tf.int32)
        b = tf.cast(batch_size, tf.int32)
        return super().sample_latent(b * n, seed)[r * b : (r + 1) * b]


LR = 0.2
t = np.arange(32 + 7)
series = 0.8 * np.sin(2 * np.pi * t[:, None] / 16 + np.arange(2)[None, :])
x = np.stack([series[i : i + 8] for i in range(32)]).astype("float32")


def run(cls, strategy, lr):
    with strategy.scope():
        keras.utils.set_random_seed(7)
        model = cls(n_features=2, window=8, latent_dim=2, generator_units=(8,), discriminator_units=(8,),
                    encoder_units=(8,), unroll=True, seed=3)
        names = ("g_optimizer", "d_optimizer", "e_optimizer")
        model.compile(**{k: keras.optimizers.SGD(lr, momentum=0.5) for k in names})
        subs = {"g_optimizer": model.generator, "d_optimizer": model.discriminator, "e_optimizer": model.encoder}
        slots = {k: [len(getattr(model, k).variables), len(subs[k].trainable_variables)] for k in names}
    history = model.fit(x, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    return {
        "history": {k: [float(v) for v in vs] for k, vs in history.items()},
        "optimizer_variables": slots,
        "iterations": [int(getattr(model, k).iterations.numpy()) for k in names],
        "replicas": int(strategy.num_replicas_in_sync),
        "mirrored_weights": bool(hasattr(model.generator.weights[0].value, "values")),
    }


mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
default = tf.distribute.get_strategy()
out = {
    "mirrored": run(AlignedNoiseNetGAN, mirrored, LR),
    "single": run(AlignedNoiseNetGAN, default, LR),
    "single_half_lr": run(AlignedNoiseNetGAN, default, LR / 2),
    "mirrored_stock": run(NetGAN, mirrored, LR),
}

# The out-of-core input (a file read in chunks by a generator) under the same 2-replica strategy.
import pandas as pd
from netgan_tf.data.scaler import Scaler
from netgan_tf.data.stream import WindowStream
from netgan_tf.training.trainer import TrainSettings, build_model, fit_datasets

frame = pd.DataFrame(np.sin(np.arange(400)[:, None] / 9.0 + np.arange(2)[None, :]), columns=["a", "b"])
stream = WindowStream(frame, window=8, chunk_rows=60)
summary = stream.summarize()
settings = TrainSettings(window=8, epochs=2, batch_size=16, latent_dim=2, hidden=8, unroll=True)
model = build_model(2, settings, strategy=mirrored)
train_ds, _ = stream.datasets(Scaler().fit_moments(summary.moments), batch_size=16)
history = fit_datasets(model, train_ds, None, summary.n_train_windows, settings, verbose=0).history
out["stream_mirrored"] = {
    "history": {k: [float(v) for v in vs] for k, vs in history.items()},
    "iterations": int(model.g_optimizer.iterations.numpy()),
    "windows": summary.n_train_windows,
    "replicas": int(model.distribute_strategy.num_replicas_in_sync),
}
print("RESULT " + json.dumps(out))
"""

CURVES = ("d_loss", "g_loss", "reconstruction_loss")


@pytest.fixture(scope="module")
def runs() -> dict[str, Any]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=400,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"rc={proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


def curves(run: dict[str, Any], names: tuple[str, ...] = CURVES) -> np.ndarray:
    return np.array([run["history"][name] for name in names])


def distance(a: dict[str, Any], b: dict[str, Any], names: tuple[str, ...] = CURVES) -> float:
    return float(np.max(np.abs(curves(a, names) - curves(b, names))))


def test_streamed_input_under_two_replicas(runs: dict[str, Any]) -> None:
    """Windows streamed from a chunked source train under MirroredStrategy: every global batch of an epoch is one
    optimizer step (393 windows / 16 = 25 steps per epoch), with finite losses."""
    run = runs["stream_mirrored"]
    assert run["replicas"] == 2 and run["windows"] == 400 - 8 + 1
    assert run["iterations"] == 2 * 25
    for name in CURVES:
        assert len(run["history"][name]) == 2 and np.all(np.isfinite(run["history"][name])), name


def test_runs_are_what_they_claim(runs: dict[str, Any]) -> None:
    assert runs["mirrored"]["replicas"] == runs["mirrored_stock"]["replicas"] == 2
    assert runs["single"]["replicas"] == runs["single_half_lr"]["replicas"] == 1
    assert runs["mirrored"]["mirrored_weights"] and not runs["single"]["mirrored_weights"]
    for key, run in runs.items():
        if key == "stream_mirrored":
            continue
        assert run["iterations"] == [6, 6, 6]  # 3 epochs x 2 global batches
        for name in CURVES:
            assert len(run["history"][name]) == 3 and np.all(np.isfinite(run["history"][name]))


def test_optimizer_slots_exist_right_after_compile_in_scope(runs: dict[str, Any]) -> None:
    for key in ("mirrored", "mirrored_stock"):
        for name, (n_vars, n_trainable) in runs[key]["optimizer_variables"].items():
            # iteration and learning rate, and one momentum slot per trainable variable
            assert n_trainable > 0 and n_vars == 2 + n_trainable, (key, name)


def test_two_replicas_match_one_device(runs: dict[str, Any]) -> None:
    """Same data, same noise, same global batch: the loss curves agree up to round-off (measured: <= 1e-6)."""
    for name in (*CURVES, "cycle_loss", "d_acc_real", "d_acc_fake"):
        np.testing.assert_allclose(
            runs["mirrored"]["history"][name], runs["single"]["history"][name], rtol=1e-4, atol=1e-5, err_msg=name
        )


def test_gradients_are_not_scaled_twice(runs: dict[str, Any]) -> None:
    """A halved learning rate (= gradients divided by the replica count once more) visibly changes the curves,
    and the 2-replica curves are far closer to the full-rate ones than to the half-rate ones."""
    to_full = distance(runs["mirrored"], runs["single"])
    to_half = distance(runs["mirrored"], runs["single_half_lr"])
    assert to_half > 2e-3, to_half  # the comparison can see a halved learning rate at all
    assert to_half > 20 * max(to_full, 1e-6), (to_full, to_half)


def test_stock_netgan_under_mirrored_strategy(runs: dict[str, Any]) -> None:
    """NetGAN as shipped (different noise per replica): the reconstruction curve, which hardly depends on the noise,
    follows the full-rate single-device curve, not the half-rate one; the losses are true means, not divided by the
    replica count."""
    stock, single, half = runs["mirrored_stock"], runs["single"], runs["single_half_lr"]
    rec = ("reconstruction_loss",)
    assert distance(stock, half, rec) > 5 * distance(stock, single, rec), (
        distance(stock, single, rec),
        distance(stock, half, rec),
    )
    for name in CURVES:
        first, reference = stock["history"][name][0], single["history"][name][0]
        assert first == pytest.approx(reference, rel=0.1), name  # not about half of it
    # at initialisation the discriminator loss is about 2 ln 2 (real + fake cross-entropies)
    assert stock["history"]["d_loss"][0] == pytest.approx(2 * np.log(2), rel=0.1)
