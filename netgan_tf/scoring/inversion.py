"""Latent inversion: find z so that G(z) reproduces each window, in the graph, batched over windows.

`invert_latent` runs a fixed number of hand-written Adam steps inside a bounded `tf.while_loop`. z and the Adam
moments are loop tensors, so no variable is created per call and concurrent calls (TF Serving runs requests in
parallel) share no state. Each window's loss depends only on its own z, so the gradient of the summed loss gives
every window its own update: the result does not depend on how windows are batched.

The start is deterministic: the encoder's E(x), zeros, or one seeded stateless-random latent sequence shared by
all windows (so a window's start does not depend on its position in the batch). The best z seen so far is kept
for every window, so the reconstruction error never rises with the number of steps.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from netgan_tf.errors import ConfigError

INIT_CHOICES = ("encoder", "zeros", "random")


def initial_latent(x: tf.Tensor, init: str, latent_dim: int, encoder: Any = None, seed: int = 0) -> tf.Tensor:
    """The starting latent sequence [b, T, latent_dim] for windows x [b, T, n]."""
    shape = tf.shape(x)
    if init == "encoder":
        if encoder is None:
            raise ConfigError("inversion init 'encoder' needs a model trained with use_encoder=True")
        return tf.cast(encoder(x, training=False), tf.float32)
    if init == "zeros":
        return tf.zeros(tf.stack([shape[0], shape[1], latent_dim]), tf.float32)
    if init == "random":
        one = tf.random.stateless_normal(tf.stack([1, shape[1], latent_dim]), seed=[int(seed), 7919])
        return tf.tile(one, tf.stack([shape[0], 1, 1]))
    raise ConfigError(f"inversion init must be one of {INIT_CHOICES}, got {init!r}")


def window_mse(x: tf.Tensor, reconstruction: tf.Tensor) -> tf.Tensor:
    """Mean squared error per window: [b, T, n] x2 -> [b]."""
    return tf.reduce_mean(tf.square(x - reconstruction), axis=[1, 2])


def invert_latent(
    generator: Any,
    x: tf.Tensor,
    z0: tf.Tensor,
    steps: int,
    learning_rate: float = 0.05,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Refines z0 by `steps` Adam steps on ||G(z) - x||²; returns (best z per window, its MSE per window).

    Args:
        generator: callable z [b, T, L] -> windows [b, T, n] (the NetGAN generator).
        x: windows to reproduce, in scaled units, float32 [b, T, n].
        z0: starting latent sequences [b, T, L].
        steps: number of Adam steps K (0 returns z0 and its error).
        learning_rate, beta_1, beta_2, epsilon: Adam settings of the latent search.
    """
    if int(steps) < 0:
        raise ConfigError(f"inversion steps must be >= 0, got {steps}")
    x = tf.convert_to_tensor(x, tf.float32)
    z0 = tf.convert_to_tensor(z0, tf.float32)
    lr = tf.constant(learning_rate, tf.float32)
    b1 = tf.constant(beta_1, tf.float32)
    b2 = tf.constant(beta_2, tf.float32)

    def loss_and_grad(z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(z)
            per_window = window_mse(x, generator(z, training=False))
            total = tf.reduce_sum(per_window)
        return per_window, tape.gradient(total, z)

    def body(
        i: tf.Tensor, z: tf.Tensor, m: tf.Tensor, v: tf.Tensor, best_z: tf.Tensor, best_loss: tf.Tensor
    ) -> tuple[tf.Tensor, ...]:
        loss, grad = loss_and_grad(z)
        better = loss < best_loss
        best_z = tf.where(better[:, None, None], z, best_z)
        best_loss = tf.minimum(loss, best_loss)
        t = tf.cast(i + 1, tf.float32)
        m = b1 * m + (1.0 - b1) * grad
        v = b2 * v + (1.0 - b2) * tf.square(grad)
        m_hat = m / (1.0 - tf.pow(b1, t))
        v_hat = v / (1.0 - tf.pow(b2, t))
        z = z - lr * m_hat / (tf.sqrt(v_hat) + epsilon)
        return i + 1, z, m, v, best_z, best_loss

    inf = tf.fill(tf.shape(x)[:1], tf.constant(float("inf"), tf.float32))
    zeros = tf.zeros_like(z0)
    _, z, _, _, best_z, best_loss = tf.while_loop(
        lambda i, *_: i < steps,
        body,
        (tf.constant(0), z0, zeros, zeros, z0, inf),
        maximum_iterations=int(steps),
    )
    final_loss = window_mse(x, generator(z, training=False))
    better = final_loss < best_loss
    return tf.where(better[:, None, None], z, best_z), tf.minimum(final_loss, best_loss)
