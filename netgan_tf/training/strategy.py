"""Choosing a `tf.distribute` strategy by name: auto, default, mirrored, multiworker, tpu."""

from __future__ import annotations

import os

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
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as exc:
        raise ConfigError(f"strategy 'tpu' requested but no TPU could be reached: {exc}") from exc
