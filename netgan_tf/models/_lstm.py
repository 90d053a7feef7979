"""Helpers shared by the three sequence models: a stack of LSTM layers and argument checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from netgan_tf.errors import ConfigError

PACKAGE = "netgan_tf"
USE_CUDNN_CHOICES = ("auto", True, False)


def check_units(units: Sequence[int] | int, what: str) -> list[int]:
    """Normalise a layer-size option to a non-empty list of positive ints."""
    values = [int(units)] if isinstance(units, int) else [int(u) for u in units]
    if not values or any(u < 1 for u in values):
        raise ConfigError(f"{what} must be one or more positive layer sizes, got {units!r}")
    return values


def check_positive(value: int, what: str) -> int:
    if int(value) < 1:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def lstm_stack(
    units: Sequence[int], use_cudnn: str | bool, prefix: str, unroll: bool = False
) -> list[keras.layers.LSTM]:
    """One LSTM layer per entry of `units`, each returning the full sequence.

    `use_cudnn="auto"` lets Keras pick cuDNN kernels on a GPU for training speed; the export rebuilds the model with
    `use_cudnn=False` so that no cuDNN-only op reaches a served graph. `unroll=True` unrolls the time loop: faster
    on CPUs for short windows (and then cuDNN is not used).
    """
    if use_cudnn not in USE_CUDNN_CHOICES:
        raise ConfigError(f"use_cudnn must be one of {USE_CUDNN_CHOICES}, got {use_cudnn!r}")
    return [
        keras.layers.LSTM(u, return_sequences=True, unroll=unroll, use_cudnn=use_cudnn, name=f"{prefix}_lstm_{i}")
        for i, u in enumerate(units)
    ]


class LSTMSequenceModel(keras.Model):
    """Base of Generator, Discriminator and Encoder: an LSTM stack and a per-step dense head.

    Subclasses set their own constructor arguments and `get_config`; this class owns the layers, an explicit
    `build` (safe to call twice, so a reloaded model is built before its weights load) and `call`.
    """

    def __init__(
        self,
        hidden_units: Sequence[int],
        head_units: int,
        head_activation: str | None,
        use_cudnn: str | bool,
        prefix: str,
        unroll: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.unroll = bool(unroll)
        self.lstms = lstm_stack(hidden_units, use_cudnn, prefix, self.unroll)
        self.head = keras.layers.Dense(head_units, activation=head_activation, name=f"{prefix}_head")
        self.head_units = head_units

    def build(self, input_shape: Any) -> None:
        shape: tuple[Any, ...] = tuple(input_shape)
        for layer in self.lstms:
            if not layer.built:
                layer.build(shape)
            shape = (shape[0], shape[1], layer.units)
        if not self.head.built:
            self.head.build(shape)
        self.built = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        h = inputs
        for layer in self.lstms:
            h = layer(h, training=training)
        return self.head(h)

    def compute_output_shape(self, input_shape: Any) -> tuple[Any, ...]:
        shape = tuple(input_shape)
        return (shape[0], shape[1], self.head_units)
