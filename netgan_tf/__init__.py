"""netgan_tf: Net-GAN anomaly detection for multivariate time series (TensorFlow / Keras 3)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
