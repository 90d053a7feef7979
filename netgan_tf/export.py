"""SavedModel export of a trained detector for TensorFlow Serving.

`export_detector(detector_or_run_dir, base_dir)` writes ``BASE/NAME/VERSION/``::

    saved_model.pb, variables/           the graph and the weights
    assets.extra/netgan.json             features, window, scaler, threshold, normalisation, versions, signatures
    assets.extra/tf_serving_warmup_requests   PredictionLog records TF Serving replays at load time
                                              (needs tensorflow-serving-api; skipped with a warning without it)

The served graph does the whole job: it takes RAW values, applies the training scaler (constants in the graph), runs
the latent inversion in a bounded `tf.while_loop` (the same `score_windows` the Python API uses), standardises the
score with the training statistics and compares it with the streaming threshold chosen at training time.

Signatures (the public contract, documented in export/README.md):

* ``serving_default`` and ``score_fast``: ``values`` float32 [batch, T, n] (raw) -> ``score`` [b],
  ``timestep_score`` [b, T], ``feature_score`` [b, n], ``discriminator_score`` [b], ``reconstruction_error`` [b],
  ``reconstruction`` [b, T, n] (raw units), ``inversion_loss`` [b], ``is_anomaly`` [b] (bool).
  ``score_fast`` uses the cheapest inversion the model supports (encoder start, `fast_steps` refinement steps).
* ``generate``: ``latent`` float32 [b, T, latent_dim] -> ``values`` [b, T, n] (raw units).
* ``discriminate``: ``values`` float32 [b, T, n] (raw) -> ``discriminator_score`` [b, T], ``logits`` [b, T].

The model is rebuilt with ``use_cudnn=False`` and the trained weights copied in, so no cuDNN-only op
(``CudnnRNN*``) reaches the graph and the export serves on CPU-only TensorFlow Serving whatever device trained it.
No function keeps state in variables: z and the Adam moments of the inversion are loop tensors, so concurrent
requests share nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from netgan_tf.errors import ConfigError

if TYPE_CHECKING:
    import tensorflow as tf

    from netgan_tf.detector import AnomalyDetector
    from netgan_tf.models import NetGAN

__all__ = [
    "METADATA_FILE",
    "SCORE_OUTPUTS",
    "SIGNATURES",
    "WARMUP_FILE",
    "export_detector",
    "next_version",
    "serving_model",
]

METADATA_FILE = "netgan.json"
WARMUP_FILE = "tf_serving_warmup_requests"
ASSETS_EXTRA = "assets.extra"
METADATA_SCHEMA_VERSION = 1

#: Output names of `serving_default` and `score_fast`, in documentation order.
SCORE_OUTPUTS: tuple[str, ...] = (
    "score",
    "timestep_score",
    "feature_score",
    "discriminator_score",
    "reconstruction_error",
    "reconstruction",
    "inversion_loss",
    "is_anomaly",
)
#: Signature names of an export.
SIGNATURES: tuple[str, ...] = ("serving_default", "score_fast", "generate", "discriminate")
_FAST_STEPS_NO_ENCODER = 5
_WARMUP_BATCHES = (1, 8)
_VERSION_RE = re.compile(r"^[0-9]+$")


# ------------------------------------------------------------------------------------------------ versions
def existing_versions(model_dir: str | os.PathLike[str]) -> list[int]:
    """The numeric version folders of `model_dir` (the ones TensorFlow Serving would load), sorted."""
    d = Path(model_dir)
    if not d.is_dir():
        return []
    return sorted(int(p.name) for p in d.iterdir() if p.is_dir() and _VERSION_RE.match(p.name))


def next_version(model_dir: str | os.PathLike[str]) -> int:
    """The next integer after the highest existing numeric version folder (1 when there is none)."""
    versions = existing_versions(model_dir)
    return versions[-1] + 1 if versions else 1


# ------------------------------------------------------------------------------------------------ model rebuild
def serving_model(model: NetGAN) -> NetGAN:
    """A float32 copy of `model` with every LSTM built with ``use_cudnn=False`` (same weights, same `unroll`).

    The LSTM weight layout does not depend on `use_cudnn`, so the weights copy one to one. The copy is not
    compiled: no optimizer variable reaches the export.
    """
    import keras

    from netgan_tf.models import NetGAN

    config = dict(model.get_config())
    config.update(use_cudnn=False, dtype="float32", unroll=bool(model.unroll))
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")  # a mixed-precision run still serves in float32
    try:
        copy = NetGAN.from_config(config)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    pairs: list[tuple[Any, Any]] = [(copy.generator, model.generator), (copy.discriminator, model.discriminator)]
    if model.encoder is not None:
        if copy.encoder is None:  # pragma: no cover - same config, same structure
            raise ConfigError("the rebuilt model lost its encoder")
        pairs.append((copy.encoder, model.encoder))
    for target, source in pairs:
        target.set_weights([np.asarray(w, np.float32) for w in source.get_weights()])
    return copy


# ------------------------------------------------------------------------------------------------ graph
class _ServingGraph:
    """The four endpoint functions of an export, closed over one rebuilt model and the detector's constants."""

    def __init__(self, detector: AnomalyDetector, model: NetGAN, fast_steps: int) -> None:
        import tensorflow as tf

        from netgan_tf.scoring.window_scores import InversionSettings

        assert detector.scaler is not None and detector.normalization is not None
        assert detector.scaler.mul is not None and detector.scaler.add is not None
        self.model = model
        self.norm = detector.normalization
        self.inversion = detector.options.inversion
        inv = self.inversion
        if model.encoder is not None:
            self.fast_inversion = InversionSettings("encoder", int(fast_steps), inv.learning_rate, inv.seed)
        else:
            init = "zeros" if inv.init == "encoder" else inv.init
            steps = min(inv.steps, _FAST_STEPS_NO_ENCODER)
            self.fast_inversion = InversionSettings(init, steps, inv.learning_rate, inv.seed)
        self.threshold = float(detector.thresholds["streaming"].value)
        self.window = int(model.window)
        self.n_features = int(model.n_features)
        self.latent_dim = int(model.latent_dim)
        self.mul = np.asarray(detector.scaler.mul, np.float32).reshape(1, 1, -1)
        self.add = np.asarray(detector.scaler.add, np.float32).reshape(1, 1, -1)
        values_spec = tf.TensorSpec([None, self.window, self.n_features], tf.float32, name="values")
        latent_spec = tf.TensorSpec([None, self.window, self.latent_dim], tf.float32, name="latent")

        @tf.function(input_signature=[values_spec])
        def serving_default(values: tf.Tensor) -> dict[str, tf.Tensor]:
            return self._score(values, self.inversion)

        @tf.function(input_signature=[values_spec])
        def score_fast(values: tf.Tensor) -> dict[str, tf.Tensor]:
            return self._score(values, self.fast_inversion)

        @tf.function(input_signature=[latent_spec])
        def generate(latent: tf.Tensor) -> dict[str, tf.Tensor]:
            latent = tf.debugging.assert_all_finite(latent, "latent must be finite: it contains NaN or inf")
            scaled = tf.cast(self.model.generator(latent, training=False), tf.float32)
            return {"values": self._unscale(scaled)}

        @tf.function(input_signature=[values_spec])
        def discriminate(values: tf.Tensor) -> dict[str, tf.Tensor]:
            logits = self._logits(self._scale(values))
            dis = ((1.0 - tf.sigmoid(logits)) - self.norm.dis_mean) / self.norm.dis_std
            return {"discriminator_score": dis, "logits": logits}

        self.functions: dict[str, Any] = {
            "serving_default": serving_default,
            "score_fast": score_fast,
            "generate": generate,
            "discriminate": discriminate,
        }

    def _scale(self, values: tf.Tensor) -> tf.Tensor:
        import tensorflow as tf

        values = tf.debugging.assert_all_finite(
            values, "values must be finite: the request contains NaN or inf (fill or drop those rows first)"
        )
        return values * tf.constant(self.mul) + tf.constant(self.add)

    def _unscale(self, scaled: tf.Tensor) -> tf.Tensor:
        import tensorflow as tf

        return (scaled - tf.constant(self.add)) / tf.constant(self.mul)

    def _logits(self, scaled: tf.Tensor) -> tf.Tensor:
        import tensorflow as tf

        return tf.cast(tf.squeeze(self.model.discriminator(scaled, training=False), -1), tf.float32)

    def _score(self, values: tf.Tensor, inversion: Any) -> dict[str, tf.Tensor]:
        import tensorflow as tf

        from netgan_tf.scoring.window_scores import score_windows

        scaled = self._scale(values)
        out = score_windows(self.model, scaled, self.norm, inversion)
        score = out["timestep_score"][:, -1]
        return {
            "score": score,
            "timestep_score": out["timestep_score"],
            "feature_score": out["feature_score"][:, -1, :],
            "discriminator_score": out["discriminator_score"][:, -1],
            "reconstruction_error": tf.reduce_mean(out["residual"][:, -1, :], axis=-1),
            "reconstruction": self._unscale(out["reconstruction"]),
            "inversion_loss": out["inversion_loss"],
            "is_anomaly": score >= tf.constant(self.threshold, tf.float32),
        }


# ------------------------------------------------------------------------------------------------ metadata
def _tensor_doc(dtype: str, shape: list[int | None]) -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape}


def signature_table(window: int, n_features: int, latent_dim: int) -> dict[str, dict[str, Any]]:
    """The documented signatures: name -> {"inputs": {...}, "outputs": {...}} with dtypes and shapes (None: batch)."""
    t, n = window, n_features
    score_outputs = {
        "score": _tensor_doc("float32", [None]),
        "timestep_score": _tensor_doc("float32", [None, t]),
        "feature_score": _tensor_doc("float32", [None, n]),
        "discriminator_score": _tensor_doc("float32", [None]),
        "reconstruction_error": _tensor_doc("float32", [None]),
        "reconstruction": _tensor_doc("float32", [None, t, n]),
        "inversion_loss": _tensor_doc("float32", [None]),
        "is_anomaly": _tensor_doc("bool", [None]),
    }
    values = {"values": _tensor_doc("float32", [None, t, n])}
    return {
        "serving_default": {"inputs": values, "outputs": score_outputs},
        "score_fast": {"inputs": values, "outputs": dict(score_outputs)},
        "generate": {
            "inputs": {"latent": _tensor_doc("float32", [None, t, latent_dim])},
            "outputs": {"values": _tensor_doc("float32", [None, t, n])},
        },
        "discriminate": {
            "inputs": values,
            "outputs": {
                "discriminator_score": _tensor_doc("float32", [None, t]),
                "logits": _tensor_doc("float32", [None, t]),
            },
        },
    }


def _metadata(detector: AnomalyDetector, graph: _ServingGraph, name: str, version: int) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    import netgan_tf

    assert detector.scaler is not None and detector.normalization is not None
    streaming = detector.thresholds["streaming"]
    table = signature_table(graph.window, graph.n_features, graph.latent_dim)
    return {
        "schema_version": METADATA_SCHEMA_VERSION,
        "model_name": name,
        "version": version,
        "features": list(detector.features),
        "window": graph.window,
        "n_features": graph.n_features,
        "latent_dim": graph.latent_dim,
        "scaler": detector.scaler.to_dict(),
        "threshold": {
            "value": float(streaming.value),
            "method": streaming.method,
            "mode": "streaming",
            "rule": "is_anomaly = score >= value"
            + (" (fixed; SPOT's adaptive updates are not served)" if streaming.method == "spot" else ""),
            "params": dict(streaming.params),
        },
        "score": {
            "weight": float(detector.normalization.weight),
            "normalization": detector.normalization.to_dict(),
            "aggregation": "streaming: the score of a window is its last step; warm-up rows use window 0's steps",
        },
        "inversion": {
            "serving_default": asdict(graph.inversion),
            "score_fast": asdict(graph.fast_inversion),
        },
        "signatures": [{"name": k, **v} for k, v in table.items()],
        "cudnn": False,
        "unroll": bool(graph.model.unroll),
        "package_version": netgan_tf.__version__,
        "tensorflow_version": str(tf.__version__),
        "keras_version": str(keras.__version__),
    }


def _warmup_windows(graph: _ServingGraph, batch: int) -> np.ndarray:
    """Plausible raw windows: the middle of the training range with a small deterministic wiggle."""
    rng = np.random.default_rng(batch)
    scaled = rng.uniform(-0.5, 0.5, (batch, graph.window, graph.n_features)).astype(np.float32)
    return ((scaled - graph.add) / graph.mul).astype(np.float32)


def write_warmup(path: Path, graph: _ServingGraph, name: str) -> int:
    """Writes the TFRecord of PredictionLog warm-up requests; returns the number of records."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    count = 0
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature in ("serving_default", "score_fast"):
            for batch in _WARMUP_BATCHES:
                request = predict_pb2.PredictRequest(
                    model_spec=model_pb2.ModelSpec(name=name, signature_name=signature)
                )
                request.inputs["values"].CopyFrom(tf.make_tensor_proto(_warmup_windows(graph, batch)))
                log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
                writer.write(log.SerializeToString())
                count += 1
    return count


# ------------------------------------------------------------------------------------------------ export
def _have_serving_api() -> bool:
    try:
        import tensorflow_serving.apis.prediction_log_pb2  # noqa: F401
    except ImportError:
        warnings.warn(
            "tensorflow-serving-api is not installed: the export gets no warm-up requests "
            "(pip install 'netgan_tf[serving]', or --no-deps tensorflow-serving-api beside tensorflow-cpu)",
            stacklevel=3,
        )
        return False
    return True


def _as_detector(detector: AnomalyDetector | str | os.PathLike[str]) -> AnomalyDetector:
    from netgan_tf.detector import AnomalyDetector

    if isinstance(detector, AnomalyDetector):
        detector._require_fitted()
        return detector
    if isinstance(detector, (str, os.PathLike)):
        return AnomalyDetector.load(detector)
    raise ConfigError(f"expected an AnomalyDetector or a run directory, got {type(detector).__name__}")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ConfigError(
            f"model name must be letters, digits, '_', '.' or '-' (not starting with those), got {name!r}"
        )
    return name


def export_detector(
    detector: AnomalyDetector | str | os.PathLike[str],
    base_dir: str | os.PathLike[str],
    name: str = "netgan",
    version: int | None = None,
    fast_steps: int = 0,
) -> Path:
    """Exports a fitted detector (or a run directory) as ``base_dir/name/version/`` for TensorFlow Serving.

    Args:
        detector: a fitted `AnomalyDetector`, or a run directory to load one from.
        base_dir: the model base folder (what TF Serving's ``--model_base_path`` points at, minus ``name``).
        name: the model name (the folder under ``base_dir``, and MODEL_NAME for TF Serving).
        version: the version folder; default: one more than the highest existing version (1 if none).
        fast_steps: refinement steps of `score_fast` after the encoder's start (models without an encoder use
            ``min(steps, 5)`` steps from the configured start instead).

    Returns:
        The written version folder.

    Raises:
        ConfigError: the detector is not fitted, the version exists already (never overwritten), bad arguments, or
            the folder cannot be written. A failed export leaves no half-written version behind.
    """
    det = _as_detector(detector)
    name = _check_name(name)
    if isinstance(fast_steps, bool) or not isinstance(fast_steps, (int, np.integer)) or int(fast_steps) < 0:
        raise ConfigError(f"fast_steps must be an integer >= 0, got {fast_steps!r}")
    model_dir = Path(base_dir) / name
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {model_dir}: {exc.strerror or exc}") from exc
    if version is None:
        version = next_version(model_dir)
    elif isinstance(version, bool) or not isinstance(version, (int, np.integer)) or int(version) < 1:
        raise ConfigError(f"version must be a positive integer, got {version!r}")
    version = int(version)
    final = model_dir / str(version)
    if final.exists():
        raise ConfigError(f"{final} exists already: an export version is never overwritten (choose another version)")

    import keras

    assert det.model is not None
    graph = _ServingGraph(det, serving_model(det.model), int(fast_steps))
    tmp = Path(tempfile.mkdtemp(prefix=f".export-{version}-", dir=model_dir))
    try:
        archive = keras.export.ExportArchive()
        archive.track(graph.model)
        for signature in SIGNATURES:
            archive.add_endpoint(signature, graph.functions[signature])
        archive.write_out(str(tmp), verbose=False)
        extra = tmp / ASSETS_EXTRA
        extra.mkdir(exist_ok=True)
        meta = _metadata(det, graph, name, version)
        meta["warmup_requests"] = write_warmup(extra / WARMUP_FILE, graph, name) if _have_serving_api() else 0
        (extra / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if final.exists():
            raise ConfigError(f"{final} appeared during the export: an export version is never overwritten")
        os.rename(tmp, final)
    except ConfigError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ConfigError(f"cannot write the export {final}: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_metadata(version_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads ``assets.extra/netgan.json`` of an export version folder."""
    path = Path(version_dir) / ASSETS_EXTRA / METADATA_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data
