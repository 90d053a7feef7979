"""Exception types raised by netgan_tf. The CLI turns each into a one-line message, never a traceback."""

from __future__ import annotations


class NetGANError(Exception):
    """Base class for every error netgan_tf raises on purpose."""


class DataError(NetGANError, ValueError):
    """Input data is unusable: missing/non-numeric columns, NaN/inf, too few rows, ...

    The message names the file (when known), the column and the row.
    """


class ConfigError(NetGANError, ValueError):
    """A run directory, detector.json or option value is invalid."""


class TrainingError(NetGANError, RuntimeError):
    """Training could not continue (e.g. NaN losses)."""


class ServingError(NetGANError, RuntimeError):
    """A TensorFlow Serving request failed (connection, unknown model, shape mismatch)."""
