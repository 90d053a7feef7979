"""netgan_tf: Net-GAN anomaly detection for multivariate time series (TensorFlow / Keras 3).

The public classes are imported lazily, so `import netgan_tf` (and `netgan --help`) does not load TensorFlow:

    from netgan_tf import AnomalyDetector, NetGAN, Generator, Discriminator, Encoder
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "AnomalyDetector": "netgan_tf.detector",
    "NetGAN": "netgan_tf.models",
    "Generator": "netgan_tf.models",
    "Discriminator": "netgan_tf.models",
    "Encoder": "netgan_tf.models",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'netgan_tf' has no attribute {name!r}")
