"""Where a window becomes a score: the one scoring graph shared by the Python API, the CLI and the SavedModel.

For windows x (scaled units) [b, T, n]:

1. latent inversion (see `inversion.py`): z* from E(x) / zeros / seeded noise, refined by K Adam steps;
2. reconstruction residual r[b, t, f] = (x - G(z*))², divided per feature by that feature's mean residual on the
   training data (`feature_scale`), so a naturally noisy counter does not dominate;
3. reconstruction part  rec[b, t] = mean_f r[b, t, f] / feature_scale[f];
   discriminator part   dis[b, t] = 1 - sigmoid(D(x)[b, t])  (how fake D finds the data);
4. each part is standardised with its mean and standard deviation over the training windows, and
   score[b, t] = λ · (rec - rec_mean) / rec_std + (1 - λ) · (dis - dis_mean) / dis_std,
   so λ (`weight`) means the same on every dataset;
5. feature attribution a[b, t, f] = λ · r[b, t, f] / feature_scale[f] / n / rec_std: each feature's share of the
   reconstruction part of the score (non-negative; its sum over f is λ · rec / rec_std).

With the identity `ScoreNormalization` the graph returns the unnormalised parts, which is how the training
statistics are measured in the first place (`fit_normalization`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from netgan_tf.errors import ConfigError
from netgan_tf.scoring.inversion import INIT_CHOICES, initial_latent, invert_latent, window_mse

EPS = 1e-6


@dataclass
class InversionSettings:
    """How latent inversion runs: start (`init`), number of Adam steps K (`steps`), step size and seed."""

    init: str = "encoder"
    steps: int = 10
    learning_rate: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if self.init not in INIT_CHOICES:
            raise ConfigError(f"inversion init must be one of {INIT_CHOICES}, got {self.init!r}")
        if int(self.steps) < 0:
            raise ConfigError(f"inversion steps must be >= 0, got {self.steps}")
        if not float(self.learning_rate) > 0:
            raise ConfigError(f"inversion learning rate must be > 0, got {self.learning_rate}")
        self.steps = int(self.steps)
        self.learning_rate = float(self.learning_rate)
        self.seed = int(self.seed)


@dataclass
class ScoreNormalization:
    """Training statistics that make the score comparable across datasets (see the module docstring)."""

    weight: float = 1.0
    feature_scale: list[float] = field(default_factory=list)
    rec_mean: float = 0.0
    rec_std: float = 1.0
    dis_mean: float = 0.0
    dis_std: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.weight) <= 1.0:
            raise ConfigError(f"score weight λ must be in [0, 1], got {self.weight}")
        values = [self.rec_mean, self.rec_std, self.dis_mean, self.dis_std, *self.feature_scale]
        if not all(np.isfinite(float(v)) for v in values):
            raise ConfigError("score normalisation statistics must be finite")
        if self.rec_std <= 0 or self.dis_std <= 0 or any(s <= 0 for s in self.feature_scale):
            raise ConfigError("score normalisation scales must be > 0")

    @classmethod
    def identity(cls, n_features: int, weight: float = 1.0) -> ScoreNormalization:
        return cls(weight=weight, feature_scale=[1.0] * n_features)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoreNormalization:
        try:
            return cls(
                weight=float(d["weight"]),
                feature_scale=[float(v) for v in d["feature_scale"]],
                rec_mean=float(d["rec_mean"]),
                rec_std=float(d["rec_std"]),
                dis_mean=float(d["dis_mean"]),
                dis_std=float(d["dis_std"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"invalid score normalisation in detector.json: {exc}") from exc


def score_windows(
    model: Any, x: tf.Tensor, norm: ScoreNormalization, inversion: InversionSettings
) -> dict[str, tf.Tensor]:
    """Scores a batch of scaled windows x [b, T, n]; returns named tensors (see the module docstring).

    Outputs: those of `combine_parts`, plus `reconstruction` [b, T, n] (scaled units), `inversion_loss` [b]
    (window MSE after inversion) and `latent` (z*).
    """
    x = tf.convert_to_tensor(x, tf.float32)
    z0 = initial_latent(x, inversion.init, model.latent_dim, model.encoder, inversion.seed)
    z, _ = invert_latent(model.generator, x, z0, inversion.steps, inversion.learning_rate)
    reconstruction = tf.cast(model.generator(z, training=False), tf.float32)
    residual = tf.square(x - reconstruction)
    logits = tf.cast(tf.squeeze(model.discriminator(x, training=False), -1), tf.float32)
    out = combine_parts(residual, 1.0 - tf.sigmoid(logits), norm)
    out.update(reconstruction=reconstruction, inversion_loss=window_mse(x, reconstruction), latent=z)
    return out


def combine_parts(residual: Any, dis: Any, norm: ScoreNormalization) -> dict[str, tf.Tensor]:
    """Squared residuals [b, T, n] and discriminator parts [b, T] -> the normalised scores (module docstring).

    Returns `timestep_score`, `reconstruction_score` and `discriminator_score` (the two standardised parts,
    so timestep_score = λ·reconstruction_score + (1-λ)·discriminator_score), `feature_score` (attribution),
    `reconstruction_part` (rec before standardisation), `discriminator_part` and `residual`.
    """
    residual = tf.convert_to_tensor(residual, tf.float32)
    dis = tf.convert_to_tensor(dis, tf.float32)
    n = len(norm.feature_scale)
    weighted = residual / tf.constant(np.asarray(norm.feature_scale, np.float32).reshape(1, 1, n))
    rec = tf.reduce_mean(weighted, axis=-1)
    rec_s = (rec - norm.rec_mean) / norm.rec_std
    dis_s = (dis - norm.dis_mean) / norm.dis_std
    lam = float(norm.weight)
    return {
        "timestep_score": lam * rec_s + (1.0 - lam) * dis_s,
        "reconstruction_score": rec_s,
        "discriminator_score": dis_s,
        "feature_score": lam * weighted / (n * norm.rec_std),
        "reconstruction_part": rec,
        "discriminator_part": dis,
        "residual": residual,
    }


def feature_scale(residual_mean_per_feature: np.ndarray) -> list[float]:
    """Per-feature residual scale: the mean squared training residual of each feature.

    A feature whose training residual is tiny (e.g. a constant column) gets the floor 5% of the median feature
    residual, so that any deviation in it is visible but not unbounded.
    """
    r = np.asarray(residual_mean_per_feature, np.float64)
    floor = max(0.05 * float(np.median(r)), EPS)
    return [float(v) for v in np.maximum(r, floor)]


def fit_normalization(residual: np.ndarray, dis: np.ndarray, weight: float) -> ScoreNormalization:
    """Normalisation from the training windows' squared residuals [w, T, n] and discriminator parts [w, T]."""
    residual = np.asarray(residual, np.float32)
    scale = feature_scale(residual.reshape(-1, residual.shape[-1]).mean(axis=0))
    unit = ScoreNormalization(weight=weight, feature_scale=scale)
    rec = np.asarray(combine_parts(residual, dis, unit)["reconstruction_part"], np.float64)
    dis = np.asarray(dis, np.float64)
    return ScoreNormalization(
        weight=weight,
        feature_scale=scale,
        rec_mean=float(rec.mean()),
        rec_std=float(max(rec.std(), EPS)),
        dis_mean=float(dis.mean()),
        dis_std=float(max(dis.std(), EPS)),
    )
