"""Shared pytest fixtures.

The environment variables are set at import, before any test module imports TensorFlow: quiet logs, and no oneDNN
kernels (they cause tiny run-to-run round-off differences). TensorFlow and Keras are imported lazily inside the
fixtures so that test files without them stay fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

# Defaults of the `tiny_netgan` factory: small enough for a 2-core CI machine.
TINY_NETGAN: dict[str, Any] = {
    "n_features": 2,
    "window": 8,
    "latent_dim": 2,
    "generator_units": (8,),
    "discriminator_units": (8,),
    "encoder_units": (8,),
    "unroll": True,  # halves the first trace on CPU for short windows
}


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded NumPy generator for every test."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_windows() -> Callable[..., np.ndarray]:
    """Session-wide factory of float32 windows [n, window, n_features], uniform in [-0.8, 0.8], from a fixed seed."""

    def make(n: int = 32, window: int = 8, n_features: int = 2, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).uniform(-0.8, 0.8, (n, window, n_features)).astype("float32")

    return make


@pytest.fixture(scope="session")
def tiny_netgan() -> Callable[..., Any]:
    """Session-wide factory of small NetGAN models (a fresh model per call), compiled by default.

    `tiny_netgan(init_seed=0, compile=True, optimizer="adam", learning_rate=1e-3, **netgan_kwargs)`:
    `init_seed` goes to `keras.utils.set_random_seed` before construction (same seed, same initial weights);
    `optimizer` is "adam" (Adam(lr, beta_1=0.5)), "sgd", or a callable `lr -> Optimizer`; other keyword arguments
    override `TINY_NETGAN` and go to `NetGAN`.
    """
    import keras

    from netgan_tf.models import NetGAN

    def make(
        init_seed: int | None = 0,
        compile: bool = True,
        optimizer: str | Callable[[float], Any] = "adam",
        learning_rate: float = 1e-3,
        **kwargs: Any,
    ) -> NetGAN:
        if init_seed is not None:
            keras.utils.set_random_seed(init_seed)
        model = NetGAN(**{**TINY_NETGAN, **kwargs})
        if compile:

            def opt() -> Any:
                if callable(optimizer):
                    return optimizer(learning_rate)
                if optimizer == "adam":
                    return keras.optimizers.Adam(learning_rate, beta_1=0.5)
                if optimizer == "sgd":
                    return keras.optimizers.SGD(learning_rate)
                raise ValueError(f"unknown optimizer {optimizer!r}")

            model.compile(g_optimizer=opt(), d_optimizer=opt(), e_optimizer=opt() if model.use_encoder else None)
        return model

    return make
