"""Choosing a `tf.distribute` strategy by name: auto, default, mirrored, multiworker, tpu."""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf

from netgan_tf.errors import ConfigError

STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")


def resolve_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns the strategy for `name`.

    auto: TPUStrategy on a Colab/Cloud TPU runtime, MirroredStrategy over the visible GPUs when there are two or more,
    otherwise the default (single-device) strategy. multiworker reads `TF_CONFIG` as TensorFlow documents it.
    """
    if name not in STRATEGIES:
        raise ConfigError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "auto":
        if os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME"):
            name = "tpu"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ConfigError("strategy 'multiworker' needs the TF_CONFIG environment variable (cluster and task)")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        _fix_keras_multiworker_metrics()
        return strategy
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as exc:
        raise ConfigError(f"strategy 'tpu' requested but no TPU could be reached: {exc}") from exc


def _fix_keras_multiworker_metrics() -> None:
    """Works around a Keras 3 bug that makes every `fit`/`evaluate` under MultiWorkerMirroredStrategy fail.

    Keras reduces the logs of a train/test step with `strategy.reduce("MEAN", v, axis=0)` in multi-worker mode, which
    raises "Invalid reduction dimension 0 for input with 0 dimensions" for scalar metrics (tensorflow/tensorflow#72388).
    Scalars are all-reduced with `axis=None` instead (the mean over workers); everything else goes to Keras unchanged.
    Applied once, and only when a MultiWorkerMirroredStrategy is created; a Keras without that function is left alone.
    """
    try:
        from keras.src.backend.tensorflow import trainer as keras_trainer
    except ImportError:  # pragma: no cover - another Keras layout
        return
    original = getattr(keras_trainer, "reduce_per_replica", None)
    multi_worker = getattr(keras_trainer, "_collective_all_reduce_multi_worker", None)
    if original is None or multi_worker is None or getattr(original, "_netgan_fixed", False):
        return

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if (
            reduction in ("auto", "mean")
            and not isinstance(strategy, tf.distribute.TPUStrategy)
            and multi_worker(strategy)
        ):

            def reduce(v: Any) -> Any:
                parts = strategy.experimental_local_results(v)  # (v,) for a plain tensor
                if all(getattr(getattr(x, "shape", None), "rank", None) == 0 for x in parts):
                    return strategy.reduce("MEAN", v, axis=None)
                return original(v, strategy, reduction)

            return tf.nest.map_structure(reduce, values)
        return original(values, strategy, reduction)

    reduce_per_replica._netgan_fixed = True  # type: ignore[attr-defined]
    keras_trainer.reduce_per_replica = reduce_per_replica
