"""NetGAN: the generator, discriminator and (optional) encoder trained together by one custom `train_step`.

One training step on a batch of real windows x:

1. `d_steps` times: z ~ N(0, 1); D learns to tell x (label 1, or 1 - label_smoothing) from G(z) (label 0).
2. `g_steps` times: z ~ N(0, 1); G learns to make D call G(z) real. With the encoder on, E learns
   G(E(x)) ≈ x (reconstruction) and E(G(z)) ≈ z (latent cycle), and G also gets `reconstruction_weight` times the
   reconstruction error, which keeps G able to reproduce real windows (what latent inversion relies on). The
   adversarial game is unchanged: D never sees the reconstruction loss.

Latent noise is drawn with `tf.random.stateless_normal` from (seed, optimizer step, replica id), so it is
deterministic, differs between replicas, and continues where it stopped after a resumed `fit`.

Losses are per-replica means divided by the number of replicas (`tf.nn.compute_average_loss`): Keras sums
gradients across replicas, so the update equals the single-device update with the same global batch.
The `*_loss` metrics report the true mean loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from netgan_tf.errors import ConfigError
from netgan_tf.models._lstm import PACKAGE, check_positive, check_units
from netgan_tf.models.discriminator import Discriminator
from netgan_tf.models.encoder import Encoder
from netgan_tf.models.generator import Generator

_G_STREAM = 1_000_003  # offsets keep the generator's and the discriminator's noise streams apart
_E_STREAM = 2_000_003


def _bce_per_example(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Sigmoid cross-entropy averaged over time steps: [b, T, 1] -> [b]."""
    logits = tf.cast(logits, tf.float32)  # losses stay float32 under mixed precision
    loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(labels, tf.float32), logits=logits)
    return tf.reduce_mean(loss, axis=[1, 2])


def _mse_per_example(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.square(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)), axis=[1, 2])


def _replica_mean(per_example: tf.Tensor) -> tf.Tensor:
    """Loss to differentiate: per-replica sum / global batch (equals the plain mean on one device)."""
    return tf.nn.compute_average_loss(per_example)


@keras.saving.register_keras_serializable(package=PACKAGE)
class NetGAN(keras.Model):
    """LSTM-GAN for windows of multivariate time series (Net-GAN), with an optional encoder.

    Args:
        n_features: number of series per window.
        window: window length T.
        latent_dim: latent size per time step.
        generator_units: LSTM sizes of the generator.
        discriminator_units: LSTM sizes of the discriminator.
        encoder_units: LSTM sizes of the encoder.
        use_encoder: train an encoder E(x) -> z with the GAN (warm start for latent inversion).
        d_steps: discriminator updates per batch.
        g_steps: generator (and encoder) updates per batch.
        label_smoothing: real labels become 1 - label_smoothing for the discriminator.
        reconstruction_weight: weight of ||G(E(x)) - x||² in the generator loss (0 = pure adversarial G).
        cycle_weight: weight of ||E(G(z)) - z||² in the encoder loss.
        output_activation: generator output activation (tanh for min-max scaling to [-1, 1]).
        seed: seed of the latent noise streams.
        use_cudnn: passed to every LSTM ("auto", True, False).
        unroll: unroll every LSTM time loop (faster on CPU for short windows; disables cuDNN).

    Example:
        >>> import numpy as np, keras
        >>> model = NetGAN(n_features=3, window=8, latent_dim=2, generator_units=(8,),
        ...                discriminator_units=(8,), encoder_units=(8,))
        >>> model.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3),
        ...               e_optimizer=keras.optimizers.Adam(1e-3))
        >>> x = np.random.default_rng(0).uniform(-1, 1, (16, 8, 3)).astype("float32")
        >>> history = model.fit(x, batch_size=8, epochs=1, verbose=0)
        >>> sorted(history.history)[:3]
        ['cycle_loss', 'd_acc_fake', 'd_acc_real']
    """

    def __init__(
        self,
        n_features: int,
        window: int,
        latent_dim: int = 15,
        generator_units: Sequence[int] = (100,),
        discriminator_units: Sequence[int] = (100,),
        encoder_units: Sequence[int] = (100,),
        use_encoder: bool = True,
        d_steps: int = 1,
        g_steps: int = 1,
        label_smoothing: float = 0.0,
        reconstruction_weight: float = 1.0,
        cycle_weight: float = 0.1,
        output_activation: str = "tanh",
        seed: int = 0,
        use_cudnn: str | bool = "auto",
        unroll: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.n_features = check_positive(n_features, "n_features")
        self.window = check_positive(window, "window")
        self.latent_dim = check_positive(latent_dim, "latent_dim")
        self.generator_units = check_units(generator_units, "generator_units")
        self.discriminator_units = check_units(discriminator_units, "discriminator_units")
        self.encoder_units = check_units(encoder_units, "encoder_units")
        self.use_encoder = bool(use_encoder)
        self.d_steps = check_positive(d_steps, "d_steps")
        self.g_steps = check_positive(g_steps, "g_steps")
        if not 0.0 <= float(label_smoothing) < 0.5:
            raise ConfigError(f"label_smoothing must be in [0, 0.5), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)
        if float(reconstruction_weight) < 0 or float(cycle_weight) < 0:
            raise ConfigError("reconstruction_weight and cycle_weight must be >= 0")
        self.reconstruction_weight = float(reconstruction_weight)
        self.cycle_weight = float(cycle_weight)
        self.output_activation = output_activation
        self.seed = int(seed)
        self.use_cudnn = use_cudnn
        self.unroll = bool(unroll)
        sub: dict[str, Any] = {"use_cudnn": use_cudnn, "unroll": self.unroll}

        self.generator = Generator(
            n_features,
            latent_dim,
            self.generator_units,
            output_activation=output_activation,
            **sub,
            name="generator",
        )
        self.discriminator = Discriminator(n_features, self.discriminator_units, **sub, name="discriminator")
        self.encoder: Encoder | None = (
            Encoder(n_features, latent_dim, self.encoder_units, **sub, name="encoder") if self.use_encoder else None
        )
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_acc_real_tracker = keras.metrics.Mean(name="d_acc_real")
        self.d_acc_fake_tracker = keras.metrics.Mean(name="d_acc_fake")
        self.rec_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.cycle_loss_tracker = keras.metrics.Mean(name="cycle_loss")
        self.g_optimizer: keras.optimizers.Optimizer | None = None
        self.d_optimizer: keras.optimizers.Optimizer | None = None
        self.e_optimizer: keras.optimizers.Optimizer | None = None
        self.build((None, self.window, self.n_features))

    # ------------------------------------------------------------------ building and calling
    def build(self, input_shape: Any = None) -> None:
        """Builds G, D and E for windows of shape [batch, window, n_features] (safe to call twice)."""
        t = self.window
        self.generator.build((None, t, self.latent_dim))
        self.discriminator.build((None, t, self.n_features))
        if self.encoder is not None:
            self.encoder.build((None, t, self.n_features))
        self.built = True

    def get_build_config(self) -> dict[str, Any]:
        return {"input_shape": [None, self.window, self.n_features]}

    def build_from_config(self, config: dict[str, Any]) -> None:
        self.build(config.get("input_shape"))

    def call(self, inputs: Any, training: bool | None = None) -> dict[str, Any]:
        """Windows [b, T, n] -> discriminator logits, and (with the encoder) latent codes and reconstructions."""
        out: dict[str, Any] = {"discriminator_logits": self.discriminator(inputs, training=training)}
        if self.encoder is not None:
            z = self.encoder(inputs, training=training)
            out["latent"] = z
            out["reconstruction"] = self.generator(z, training=training)
        return out

    def sample_latent(self, batch_size: Any, seed: Any) -> tf.Tensor:
        """Stateless N(0, 1) latent sequences [batch_size, window, latent_dim] for a seed pair (int32 [2])."""
        shape = tf.stack([tf.cast(batch_size, tf.int32), self.window, self.latent_dim])
        return tf.random.stateless_normal(shape, seed=seed)

    def generate(self, batch_size: int, seed: int | None = None) -> tf.Tensor:
        """Samples `batch_size` windows (scaled units) from the generator with a fixed seed."""
        s = self.seed if seed is None else int(seed)
        return self.generator(self.sample_latent(batch_size, tf.constant([s, 0], tf.int32)), training=False)

    # ------------------------------------------------------------------ compile and its serialization
    def compile(  # type: ignore[override]
        self,
        g_optimizer: keras.optimizers.Optimizer | None = None,
        d_optimizer: keras.optimizers.Optimizer | None = None,
        e_optimizer: keras.optimizers.Optimizer | None = None,
        **kwargs: Any,
    ) -> None:
        """Sets the optimizers (Adam(1e-3, beta_1=0.5) where not given) and builds their slots now.

        Building the slots here, inside whatever strategy scope is active, keeps the replicated train step from
        creating variables lazily, and lets a reloaded `.keras` file restore the optimizer state.
        """
        kwargs.pop("optimizer", None)
        super().compile(optimizer=None, **kwargs)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(1e-3, beta_1=0.5)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(1e-3, beta_1=0.5)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        if self.encoder is not None:
            self.e_optimizer = e_optimizer or keras.optimizers.Adam(1e-3, beta_1=0.5)
            self.e_optimizer.build(self.encoder.trainable_variables)
        else:
            self.e_optimizer = None

    def get_compile_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer) if self.g_optimizer else None,
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer) if self.d_optimizer else None,
            "e_optimizer": keras.optimizers.serialize(self.e_optimizer) if self.e_optimizer else None,
        }
        return config

    def compile_from_config(self, config: dict[str, Any]) -> None:
        def load(key: str) -> keras.optimizers.Optimizer | None:
            return keras.optimizers.deserialize(config[key]) if config.get(key) else None

        self.compile(g_optimizer=load("g_optimizer"), d_optimizer=load("d_optimizer"), e_optimizer=load("e_optimizer"))

    # ------------------------------------------------------------------ training
    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        trackers = [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.d_acc_real_tracker,
            self.d_acc_fake_tracker,
        ]
        if self.encoder is not None:
            trackers += [self.rec_loss_tracker, self.cycle_loss_tracker]
        return trackers

    def _noise_seed(self, stream: int, step: Any) -> tf.Tensor:
        ctx = tf.distribute.get_replica_context()
        replica = ctx.replica_id_in_sync_group if ctx is not None else 0
        replicas = ctx.num_replicas_in_sync if ctx is not None else 1
        counter = tf.cast(step, tf.int64) * replicas + tf.cast(replica, tf.int64) + stream
        return tf.stack([tf.constant(self.seed, tf.int64), counter])

    @staticmethod
    def _unpack(data: Any) -> tf.Tensor:
        while isinstance(data, (tuple, list)):
            data = data[0]
        return tf.convert_to_tensor(data, tf.float32)

    def _check_compiled(self) -> None:
        if self.g_optimizer is None or self.d_optimizer is None:
            raise ConfigError("NetGAN.compile(g_optimizer=..., d_optimizer=...) must be called before fit")

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        # Keras raises its own ValueError before train_step runs; check first so the error is a ConfigError.
        self._check_compiled()
        data = args[0] if args else kwargs.get("x")
        if isinstance(data, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself; Keras would only warn
        return super().fit(*args, **kwargs)

    def _d_losses(self, x: tf.Tensor, fake: tf.Tensor, training: bool) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        # One discriminator call on [real; fake]: the same result as two calls, cheaper on CPUs.
        logits = self.discriminator(tf.concat([x, tf.cast(fake, x.dtype)], axis=0), training=training)
        real_logits, fake_logits = tf.split(logits, 2, axis=0)
        real_labels = tf.fill(tf.shape(real_logits), 1.0 - self.label_smoothing)
        per_example = _bce_per_example(real_labels, real_logits) + _bce_per_example(
            tf.zeros_like(fake_logits), fake_logits
        )
        return per_example, real_logits, fake_logits

    def _g_losses(self, x: tf.Tensor, z: tf.Tensor, training: bool) -> dict[str, tf.Tensor]:
        if self.encoder is None:
            fake = self.generator(z, training=training)
        else:
            # One generator call on [z; E(x)] gives both the fake windows and the reconstructions.
            z_real = tf.cast(self.encoder(x, training=training), z.dtype)
            fake, reconstruction = tf.split(
                self.generator(tf.concat([z, z_real], axis=0), training=training), 2, axis=0
            )
        fake_logits = self.discriminator(fake, training=training)
        adv = _bce_per_example(tf.ones_like(fake_logits), fake_logits)
        out = {"adv": adv, "g": adv}
        if self.encoder is not None:
            rec = _mse_per_example(x, reconstruction)
            cyc = _mse_per_example(z, self.encoder(fake, training=training))
            out.update(rec=rec, cyc=cyc, g=adv + self.reconstruction_weight * rec, e=rec + self.cycle_weight * cyc)
        return out

    def train_step(self, data: Any) -> dict[str, Any]:
        self._check_compiled()
        assert self.g_optimizer is not None and self.d_optimizer is not None
        x = self._unpack(data)
        batch = tf.shape(x)[0]

        for _ in range(self.d_steps):
            z = self.sample_latent(batch, self._noise_seed(0, self.d_optimizer.iterations))
            fake = self.generator(z, training=True)
            with tf.GradientTape() as tape:
                d_per_example, real_logits, fake_logits = self._d_losses(x, fake, training=True)
                d_loss = _replica_mean(d_per_example)
            grads = tape.gradient(self.d_optimizer.scale_loss(d_loss), self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(list(zip(grads, self.discriminator.trainable_variables)))

        for _ in range(self.g_steps):
            z = self.sample_latent(batch, self._noise_seed(_G_STREAM, self.g_optimizer.iterations))
            with tf.GradientTape(persistent=True) as tape:
                losses = self._g_losses(x, z, training=True)
                g_loss = _replica_mean(losses["g"])
                e_loss = _replica_mean(losses["e"]) if "e" in losses else None
            g_vars = self.generator.trainable_variables
            g_grads = tape.gradient(self.g_optimizer.scale_loss(g_loss), g_vars)
            self.g_optimizer.apply_gradients(list(zip(g_grads, g_vars)))
            if self.encoder is not None and self.e_optimizer is not None and e_loss is not None:
                e_vars = self.encoder.trainable_variables
                e_grads = tape.gradient(self.e_optimizer.scale_loss(e_loss), e_vars)
                self.e_optimizer.apply_gradients(list(zip(e_grads, e_vars)))
            del tape

        self._update_trackers(d_per_example, real_logits, fake_logits, losses)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data: Any) -> dict[str, Any]:
        x = self._unpack(data)
        batch = tf.shape(x)[0]
        # A fixed noise stream: validation losses are comparable from epoch to epoch.
        z = self.sample_latent(batch, tf.constant([self.seed, _E_STREAM], tf.int64))
        fake = self.generator(z, training=False)
        d_per_example, real_logits, fake_logits = self._d_losses(x, fake, training=False)
        losses = self._g_losses(x, z, training=False)
        self._update_trackers(d_per_example, real_logits, fake_logits, losses)
        return {m.name: m.result() for m in self.metrics}

    def _update_trackers(
        self,
        d_per_example: tf.Tensor,
        real_logits: tf.Tensor,
        fake_logits: tf.Tensor,
        losses: dict[str, tf.Tensor],
    ) -> None:
        self.d_loss_tracker.update_state(d_per_example)
        self.g_loss_tracker.update_state(losses["adv"])
        self.d_acc_real_tracker.update_state(tf.cast(real_logits > 0, tf.float32))
        self.d_acc_fake_tracker.update_state(tf.cast(fake_logits < 0, tf.float32))
        if "rec" in losses:
            self.rec_loss_tracker.update_state(losses["rec"])
            self.cycle_loss_tracker.update_state(losses["cyc"])

    # ------------------------------------------------------------------ serialization
    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            n_features=self.n_features,
            window=self.window,
            latent_dim=self.latent_dim,
            generator_units=list(self.generator_units),
            discriminator_units=list(self.discriminator_units),
            encoder_units=list(self.encoder_units),
            use_encoder=self.use_encoder,
            d_steps=self.d_steps,
            g_steps=self.g_steps,
            label_smoothing=self.label_smoothing,
            reconstruction_weight=self.reconstruction_weight,
            cycle_weight=self.cycle_weight,
            output_activation=self.output_activation,
            seed=self.seed,
            use_cudnn=self.use_cudnn,
            unroll=self.unroll,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> NetGAN:
        return cls(**config)
