"""`netgan bench`: training and scoring throughput of the default-sized model on synthetic windows."""

from __future__ import annotations

import platform
import statistics
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from netgan_tf.scoring.series import make_window_fn
from netgan_tf.scoring.window_scores import InversionSettings, ScoreNormalization
from netgan_tf.training.trainer import TrainSettings, build_model


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._t = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._t)


def run_throughput(
    epochs: int = 5,
    windows: int = 4096,
    window: int = 30,
    n_features: int = 38,
    latent_dim: int = 15,
    hidden: int = 100,
    batch_size: int = 64,
    use_encoder: bool = True,
) -> dict[str, Any]:
    """Median training windows/s over `epochs` epochs (the first, tracing, epoch excluded) and scoring windows/s
    with the default inversion (encoder start, K=10) and with random start K=10."""
    rng = np.random.default_rng(0)
    t = np.arange(windows + window)[:, None]
    series = np.sin(2 * np.pi * t / 288 + rng.uniform(0, 6, n_features)) + 0.05 * rng.standard_normal(
        (windows + window, n_features)
    )
    x = np.lib.stride_tricks.sliding_window_view(series.astype(np.float32), window, axis=0)[:windows]
    x = np.ascontiguousarray(np.transpose(x, (0, 2, 1)))
    s = TrainSettings(
        window=window, latent_dim=latent_dim, hidden=hidden, batch_size=batch_size, use_encoder=use_encoder
    )
    model = build_model(n_features, s)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(batch_size).prefetch(2)
    timer = _EpochTimer()
    model.fit(ds, epochs=epochs + 1, verbose=0, callbacks=[timer])
    train_rates = [windows / sec for sec in timer.seconds[1:]]
    result: dict[str, Any] = {
        "machine": {"cpus": _cpus(), "python": platform.python_version(), "tensorflow": tf.__version__},
        "config": {
            "window": window,
            "n_features": n_features,
            "latent_dim": latent_dim,
            "hidden": hidden,
            "batch_size": batch_size,
            "use_encoder": use_encoder,
            "unroll": model.unroll,
        },
        "train_windows_per_s_median": statistics.median(train_rates),
        "train_windows_per_s_all": train_rates,
    }
    for init in ("encoder", "random") if use_encoder else ("random",):
        fn = make_window_fn(model, ScoreNormalization.identity(n_features), InversionSettings(init, 10))
        batch = tf.constant(x[:256])
        fn(batch)
        rates = []
        for _ in range(3):
            t0 = time.perf_counter()
            for i in range(0, min(len(x), 1024), 256):
                fn(tf.constant(x[i : i + 256]))
            rates.append(min(len(x), 1024) / (time.perf_counter() - t0))
        result[f"score_windows_per_s_{init}_k10"] = statistics.median(rates)
    return result


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
