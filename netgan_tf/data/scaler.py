"""Per-feature affine scaling (min-max or z-score) fitted on training data, stored as plain JSON.

The scaler is one multiply-add per feature, ``scaled = x * mul + add``, so the same two vectors can be
baked into an exported serving graph. Constant columns never cause a division by zero: they get
``mul = 1`` and an ``add`` that maps the constant to the middle of the range (min-max) or to 0 (z-score).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from netgan_tf.errors import ConfigError, DataError

__all__ = ["SCALER_METHODS", "RunningMoments", "Scaler"]

SCALER_METHODS = ("minmax", "zscore")


def _check_range(feature_range: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in feature_range)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"feature_range must be two numbers (low, high), got {feature_range!r}") from exc
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        raise ConfigError(f"feature_range must be finite with low < high, got ({lo}, {hi})")
    return lo, hi


class Scaler:
    """Affine per-feature scaler: ``scaled = x * mul + add``.

    Args:
        method: ``"minmax"`` maps each feature's training min..max onto ``feature_range``;
            ``"zscore"`` maps each feature to mean 0 and standard deviation 1.
        feature_range: target range for ``"minmax"`` (ignored by ``"zscore"``).
    """

    def __init__(self, method: str = "minmax", feature_range: tuple[float, float] = (-1.0, 1.0)) -> None:
        if method not in SCALER_METHODS:
            raise ConfigError(f"unknown scaler method {method!r}; choose one of {', '.join(SCALER_METHODS)}")
        self.method = method
        self.feature_range = _check_range(feature_range)
        self.mul: np.ndarray | None = None
        self.add: np.ndarray | None = None

    def __repr__(self) -> str:
        fitted = f"n_features={self.n_features}" if self.is_fitted else "unfitted"
        return f"Scaler(method={self.method!r}, feature_range={self.feature_range}, {fitted})"

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` (or ``from_dict``) has set ``mul`` and ``add``."""
        return self.mul is not None and self.add is not None

    @property
    def n_features(self) -> int:
        """Number of features the scaler was fitted on."""
        if self.mul is None:
            raise ConfigError("the scaler is not fitted yet: call fit() first")
        return int(self.mul.shape[0])

    def fit(self, x: np.ndarray) -> Scaler:
        """Fit on ``x`` (``[..., n_features]``, at least one row); returns ``self``.

        Raises:
            DataError: ``x`` has no rows or features, or contains NaN/inf.
        """
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim < 2:
            raise DataError(f"scaler.fit expects an array [rows, features], got shape {arr.shape}")
        arr = arr.reshape(-1, arr.shape[-1])
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise DataError(f"scaler.fit needs at least one row and one feature, got shape {arr.shape}")
        finite = np.isfinite(arr)
        if not finite.all():
            row, col = (int(v) for v in np.argwhere(~finite)[0])
            raise DataError(
                f"scaler.fit got {int((~finite).sum())} NaN/inf value(s), first at row {row}, feature {col}"
            )

        return self._fit_stats(arr.min(axis=0), arr.max(axis=0), arr.mean(axis=0), arr.std(axis=0))

    def fit_moments(self, moments: RunningMoments) -> Scaler:
        """Fit from statistics accumulated piece by piece (out-of-core training); same result as `fit` on all the
        rows given to `moments.update`, up to float64 round-off in the mean and standard deviation."""
        if moments.count == 0:
            raise DataError("scaler.fit needs at least one row, got none")
        return self._fit_stats(moments.min, moments.max, moments.mean, moments.std)

    def _fit_stats(self, xmin: np.ndarray, xmax: np.ndarray, mean: np.ndarray, std: np.ndarray) -> Scaler:
        span = xmax - xmin
        # A column whose spread is below float32 resolution is constant (round-off must not become a huge scale).
        flat = span <= 8 * np.finfo(np.float32).eps * np.maximum(np.abs(xmin), np.abs(xmax))
        if self.method == "minmax":
            lo, hi = self.feature_range
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                mul = (hi - lo) / span
            constant = flat | ~(np.isfinite(mul) & (span > 0) & (mul != 0))
            mul = np.where(constant, 1.0, mul)
            add = np.where(constant, 0.5 * (lo + hi) - xmin, lo - xmin * mul)
        else:
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                mul = 1.0 / std
            constant = flat | ~(np.isfinite(mul) & (std > 0) & (mul != 0))
            mul = np.where(constant, 1.0, mul)
            add = np.where(constant, -mean, -mean * mul)

        mul32 = mul.astype(np.float32)
        add32 = add.astype(np.float32)
        if not (np.isfinite(mul32).all() and np.isfinite(add32).all() and (mul32 != 0).all()):
            bad = int(np.flatnonzero(~(np.isfinite(mul32) & np.isfinite(add32) & (mul32 != 0)))[0])
            raise DataError(f"scaler.fit: feature {bad} has values too large to scale in float32")
        self.mul = mul32
        self.add = add32
        return self

    def _check(self, x: np.ndarray, what: str) -> np.ndarray:
        if self.mul is None or self.add is None:
            raise ConfigError(f"scaler.{what} called before fit()")
        arr = np.asarray(x, dtype=np.float32)
        if arr.ndim == 0 or arr.shape[-1] != self.mul.shape[0]:
            got = "a scalar" if arr.ndim == 0 else f"{arr.shape[-1]} (shape {arr.shape})"
            raise DataError(f"scaler.{what}: expected {self.mul.shape[0]} features in the last axis, got {got}")
        return arr

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` (any leading shape, last axis = features); returns float32."""
        arr = self._check(x, "transform")
        assert self.mul is not None and self.add is not None
        return (arr * self.mul + self.add).astype(np.float32, copy=False)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        """Undo ``transform``; returns float32."""
        arr = self._check(x, "inverse_transform")
        assert self.mul is not None and self.add is not None
        return ((arr - self.add) / self.mul).astype(np.float32, copy=False)

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        """``fit(x)`` then ``transform(x)``."""
        return self.fit(x).transform(x)

    def to_dict(self) -> dict[str, Any]:
        """The fitted scaler as plain JSON types (lists of floats)."""
        if self.mul is None or self.add is None:
            raise ConfigError("cannot serialise an unfitted scaler: call fit() first")
        return {
            "method": self.method,
            "feature_range": [float(v) for v in self.feature_range],
            "mul": [float(v) for v in self.mul],
            "add": [float(v) for v in self.add],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scaler:
        """Rebuild a scaler written by :meth:`to_dict`.

        Raises:
            ConfigError: unknown method, missing keys, unequal lengths, non-finite values or ``mul == 0``.
        """
        if not isinstance(d, Mapping):
            raise ConfigError(f"scaler: expected a JSON object, got {type(d).__name__}")
        missing = [k for k in ("method", "mul", "add") if k not in d]
        if missing:
            raise ConfigError(f"scaler: missing key(s) {', '.join(missing)}")
        method = d["method"]
        if method not in SCALER_METHODS:
            raise ConfigError(f"scaler: unknown method {method!r}; expected one of {', '.join(SCALER_METHODS)}")
        feature_range = d.get("feature_range", (-1.0, 1.0))
        scaler = cls(method=str(method), feature_range=_check_range(feature_range))

        vectors: dict[str, np.ndarray] = {}
        for key in ("mul", "add"):
            value = d[key]
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
                raise ConfigError(f"scaler: '{key}' must be a list of numbers, got {type(value).__name__}")
            try:
                vec = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"scaler: '{key}' must be a list of numbers: {exc}") from exc
            if vec.ndim != 1 or vec.size == 0:
                raise ConfigError(f"scaler: '{key}' must be a non-empty flat list, got shape {vec.shape}")
            if not np.isfinite(vec).all() or not np.isfinite(vec.astype(np.float32)).all():
                raise ConfigError(f"scaler: '{key}' contains NaN/inf or values outside float32 range")
            vectors[key] = vec
        if vectors["mul"].shape != vectors["add"].shape:
            raise ConfigError(
                f"scaler: 'mul' and 'add' differ in length ({vectors['mul'].size} vs {vectors['add'].size})"
            )
        if (vectors["mul"].astype(np.float32) == 0).any():
            raise ConfigError("scaler: 'mul' contains 0, which cannot be inverted")
        scaler.mul = vectors["mul"].astype(np.float32)
        scaler.add = vectors["add"].astype(np.float32)
        return scaler


class RunningMoments:
    """Per-feature count, min, max, mean and variance of rows seen piece by piece (float64, Chan et al.'s
    pairwise merge), so a scaler can be fitted on a file that never fits in memory."""

    def __init__(self, n_features: int) -> None:
        self.count = 0
        self.min = np.full(n_features, np.inf)
        self.max = np.full(n_features, -np.inf)
        self.mean = np.zeros(n_features)
        self.m2 = np.zeros(n_features)

    def update(self, x: np.ndarray) -> None:
        """Adds rows x [k, n_features] (finite values)."""
        arr = np.asarray(x, np.float64)
        k = arr.shape[0]
        if k == 0:
            return
        np.minimum(self.min, arr.min(axis=0), out=self.min)
        np.maximum(self.max, arr.max(axis=0), out=self.max)
        mean_b = arr.mean(axis=0)
        m2_b = ((arr - mean_b) ** 2).sum(axis=0)
        total = self.count + k
        delta = mean_b - self.mean
        self.m2 += m2_b + delta * delta * (self.count * k / total)
        self.mean += delta * (k / total)
        self.count = total

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation (as numpy's default ``std``)."""
        return np.sqrt(self.m2 / max(self.count, 1))
