"""The encoder E(x): a window [batch, T, n_features] becomes the generator's latent sequence [batch, T, latent_dim].

E gives latent inversion a learned warm start, so a few refinement steps replace hundreds of gradient steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from netgan_tf.models._lstm import PACKAGE, LSTMSequenceModel, check_positive, check_units


@keras.saving.register_keras_serializable(package=PACKAGE)
class Encoder(LSTMSequenceModel):
    """Stacked-LSTM encoder with a linear latent head.

    Args:
        n_features: number of series in a window.
        latent_dim: size of the generator's latent vector at each time step.
        hidden_units: LSTM layer sizes, first to last.
        use_cudnn: passed to `keras.layers.LSTM` ("auto", True or False).
        unroll: unroll the LSTM time loop (faster on CPU for short windows).

    Example:
        >>> import numpy as np
        >>> e = Encoder(n_features=3, latent_dim=4, hidden_units=(8,))
        >>> e.build((None, 10, 3))
        >>> e(np.zeros((2, 10, 3), "float32")).shape
        TensorShape([2, 10, 4])
    """

    def __init__(
        self,
        n_features: int,
        latent_dim: int = 15,
        hidden_units: Sequence[int] = (100,),
        use_cudnn: str | bool = "auto",
        unroll: bool = False,
        **kwargs: Any,
    ) -> None:
        units = check_units(hidden_units, "hidden_units")
        latent_dim = check_positive(latent_dim, "latent_dim")
        super().__init__(units, latent_dim, None, use_cudnn, "encoder", unroll, **kwargs)
        self.n_features = check_positive(n_features, "n_features")
        self.latent_dim = latent_dim
        self.hidden_units = units
        self.use_cudnn = use_cudnn

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            n_features=self.n_features,
            latent_dim=self.latent_dim,
            hidden_units=list(self.hidden_units),
            use_cudnn=self.use_cudnn,
            unroll=self.unroll,
        )
        return config
