"""The Net-GAN generator: a latent sequence z [batch, T, latent_dim] becomes a window [batch, T, n_features]."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from netgan_tf.models._lstm import PACKAGE, LSTMSequenceModel, check_positive, check_units


@keras.saving.register_keras_serializable(package=PACKAGE)
class Generator(LSTMSequenceModel):
    """Stacked-LSTM generator G(z).

    Each time step of the latent sequence drives the LSTM stack; a dense head maps every hidden state to the
    feature values. The output activation matches the scaler's range (`tanh` for min-max to [-1, 1], `linear`
    for z-scored data).

    Args:
        n_features: number of series in a window.
        latent_dim: size of the latent vector at each time step.
        hidden_units: LSTM layer sizes, first to last.
        output_activation: activation of the output head.
        use_cudnn: passed to `keras.layers.LSTM` ("auto", True or False).
        unroll: unroll the LSTM time loop (faster on CPU for short windows).

    Example:
        >>> import numpy as np
        >>> g = Generator(n_features=3, latent_dim=4, hidden_units=(8,))
        >>> g.build((None, 10, 4))
        >>> g(np.zeros((2, 10, 4), "float32")).shape
        TensorShape([2, 10, 3])
    """

    def __init__(
        self,
        n_features: int,
        latent_dim: int = 15,
        hidden_units: Sequence[int] = (100,),
        output_activation: str = "tanh",
        use_cudnn: str | bool = "auto",
        unroll: bool = False,
        **kwargs: Any,
    ) -> None:
        units = check_units(hidden_units, "hidden_units")
        n_features = check_positive(n_features, "n_features")
        super().__init__(units, n_features, output_activation, use_cudnn, "generator", unroll, **kwargs)
        self.n_features = n_features
        self.latent_dim = check_positive(latent_dim, "latent_dim")
        self.hidden_units = units
        self.output_activation = output_activation
        self.use_cudnn = use_cudnn

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            n_features=self.n_features,
            latent_dim=self.latent_dim,
            hidden_units=list(self.hidden_units),
            output_activation=self.output_activation,
            use_cudnn=self.use_cudnn,
            unroll=self.unroll,
        )
        return config
