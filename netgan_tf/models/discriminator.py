"""The Net-GAN discriminator: a window [batch, T, n_features] becomes per-time-step real/fake logits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from netgan_tf.models._lstm import PACKAGE, LSTMSequenceModel, check_positive, check_units


@keras.saving.register_keras_serializable(package=PACKAGE)
class Discriminator(LSTMSequenceModel):
    """Stacked-LSTM discriminator D(x) with one logit per time step (MAD-GAN / Net-GAN style).

    A positive logit means "looks real". `window_logit` averages the per-step logits into one window-level logit;
    `fake_probability` turns logits into the anomaly-oriented score 1 - sigmoid(logit).

    Args:
        n_features: number of series in a window.
        hidden_units: LSTM layer sizes, first to last.
        use_cudnn: passed to `keras.layers.LSTM` ("auto", True or False).
        unroll: unroll the LSTM time loop (faster on CPU for short windows).

    Example:
        >>> import numpy as np
        >>> d = Discriminator(n_features=3, hidden_units=(8,))
        >>> d.build((None, 10, 3))
        >>> d(np.zeros((2, 10, 3), "float32")).shape
        TensorShape([2, 10, 1])
    """

    def __init__(
        self,
        n_features: int,
        hidden_units: Sequence[int] = (100,),
        use_cudnn: str | bool = "auto",
        unroll: bool = False,
        **kwargs: Any,
    ) -> None:
        units = check_units(hidden_units, "hidden_units")
        super().__init__(units, 1, None, use_cudnn, "discriminator", unroll, **kwargs)
        self.n_features = check_positive(n_features, "n_features")
        self.hidden_units = units
        self.use_cudnn = use_cudnn

    def window_logit(self, x: Any) -> Any:
        """Mean of the per-step logits: [batch, T, n] -> [batch]."""
        return ops.mean(ops.squeeze(self(x), -1), axis=-1)

    @staticmethod
    def fake_probability(logits: Any) -> Any:
        """Anomaly-oriented discriminator score: 1 - sigmoid(logit), in [0, 1]."""
        return 1.0 - ops.sigmoid(logits)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            n_features=self.n_features,
            hidden_units=list(self.hidden_units),
            use_cudnn=self.use_cudnn,
            unroll=self.unroll,
        )
        return config
