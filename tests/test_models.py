"""Tests for the Keras models: Generator, Discriminator and Encoder through the shared `ModelTestBase`, and the
structure of NetGAN (outputs, build, config, argument checks). Training is in test_netgan_training.py."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
from model_test_base import COMMON_BAD_INIT_KWARGS, ModelTestBase, init_arg_names, normalise, run_docstring_example

from netgan_tf.errors import ConfigError
from netgan_tf.models import Discriminator, Encoder, Generator, NetGAN

# ---------------------------------------------------------------------------------------------- sub-models


class LSTMModelTest(ModelTestBase):
    """Checks common to the LSTM sequence models, on top of the generic ones."""

    def test_options_reach_the_layers(self) -> None:
        model = self.make_model()
        units = list(self.init_kwargs["hidden_units"])
        assert [layer.units for layer in model.lstms] == units
        assert all(layer.return_sequences for layer in model.lstms)
        assert all(layer.unroll == self.init_kwargs["unroll"] for layer in model.lstms)
        assert all(layer.use_cudnn == self.init_kwargs["use_cudnn"] for layer in model.lstms)
        assert model.head.units == self.output_dim
        # kernel, recurrent kernel and bias per LSTM layer; kernel and bias of the head
        assert len(model.trainable_weights) == 3 * len(units) + 2

    def test_hidden_units_accepts_an_int(self) -> None:
        model = self.make_model(hidden_units=6)
        assert [layer.units for layer in model.lstms] == [6]
        assert model.get_config()["hidden_units"] == [6]


class TestGenerator(LSTMModelTest):
    model_cls = Generator
    init_kwargs: dict[str, Any] = {
        "n_features": 3,
        "latent_dim": 4,
        "hidden_units": (8, 5),
        "output_activation": "linear",
        "use_cudnn": False,
        "unroll": True,
    }
    input_shape = (None, 8, 4)
    output_dim = 3
    bad_init_kwargs = [*COMMON_BAD_INIT_KWARGS, {"latent_dim": 0}]

    def test_tanh_output_is_bounded(self, rng: np.random.Generator) -> None:
        model = self.make_model(output_activation="tanh")
        y = np.asarray(model(10.0 * self.make_inputs(rng, batch=16)))
        assert np.all(np.abs(y) <= 1.0)


class TestDiscriminator(LSTMModelTest):
    model_cls = Discriminator
    init_kwargs: dict[str, Any] = {"n_features": 3, "hidden_units": (8, 5), "use_cudnn": False, "unroll": True}
    input_shape = (None, 8, 3)
    output_dim = 1

    def test_window_logit_and_fake_probability(self, rng: np.random.Generator) -> None:
        model = self.make_model()
        x = self.make_inputs(rng, batch=4)
        logits = np.asarray(model(x))
        window = np.asarray(model.window_logit(x))
        assert window.shape == (4,)
        np.testing.assert_allclose(window, logits[..., 0].mean(axis=1), rtol=1e-6, atol=1e-7)
        p = np.asarray(Discriminator.fake_probability(np.array([-50.0, 0.0, 50.0], "float32")))
        np.testing.assert_allclose(p, [1.0, 0.5, 0.0], atol=1e-6)


class TestEncoder(LSTMModelTest):
    model_cls = Encoder
    init_kwargs: dict[str, Any] = {
        "n_features": 3,
        "latent_dim": 4,
        "hidden_units": (8, 5),
        "use_cudnn": False,
        "unroll": True,
    }
    input_shape = (None, 8, 3)
    output_dim = 4
    bad_init_kwargs = [*COMMON_BAD_INIT_KWARGS, {"latent_dim": 0}]


# ---------------------------------------------------------------------------------------------- NetGAN structure

NON_DEFAULT_NETGAN: dict[str, Any] = {
    "n_features": 3,
    "window": 6,
    "latent_dim": 2,
    "generator_units": (8, 4),
    "discriminator_units": (5,),
    "encoder_units": (7,),
    "use_encoder": True,
    "d_steps": 2,
    "g_steps": 3,
    "label_smoothing": 0.1,
    "reconstruction_weight": 0.5,
    "cycle_weight": 0.2,
    "output_activation": "linear",
    "seed": 11,
    "use_cudnn": False,
    "unroll": True,
}


@pytest.mark.parametrize("use_encoder", [True, False])
def test_netgan_call_outputs(tiny_netgan: Any, rng: np.random.Generator, use_encoder: bool) -> None:
    model = tiny_netgan(compile=False, use_encoder=use_encoder, latent_dim=3)
    x = rng.uniform(-1, 1, (5, 8, 2)).astype("float32")
    out = model(x)
    if not use_encoder:
        assert set(out) == {"discriminator_logits"}
        assert tuple(out["discriminator_logits"].shape) == (5, 8, 1)
        return
    assert set(out) == {"discriminator_logits", "latent", "reconstruction"}
    assert tuple(out["discriminator_logits"].shape) == (5, 8, 1)
    assert tuple(out["latent"].shape) == (5, 8, 3)
    assert tuple(out["reconstruction"].shape) == (5, 8, 2)
    # The outputs are those of the sub-models.
    np.testing.assert_array_equal(np.asarray(out["discriminator_logits"]), np.asarray(model.discriminator(x)))
    np.testing.assert_array_equal(np.asarray(out["latent"]), np.asarray(model.encoder(x)))
    np.testing.assert_allclose(
        np.asarray(out["reconstruction"]), np.asarray(model.generator(model.encoder(x))), rtol=0, atol=1e-7
    )


@pytest.mark.parametrize("use_encoder", [True, False])
def test_netgan_is_built_at_construction(tiny_netgan: Any, use_encoder: bool) -> None:
    model = tiny_netgan(compile=False, use_encoder=use_encoder)
    assert model.built and model.generator.built and model.discriminator.built
    # three sub-models of one LSTM layer (3 weights) and a dense head (2 weights) each
    assert len(model.weights) == (15 if use_encoder else 10)
    assert model.generator.weights[0].shape == (2, 4 * 8)  # latent_dim -> 4 gates x 8 units
    assert model.discriminator.weights[0].shape == (2, 4 * 8)
    if use_encoder:
        assert model.encoder is not None and model.encoder.built
    else:
        assert model.encoder is None


def test_netgan_build_config_round_trip(tiny_netgan: Any) -> None:
    model = tiny_netgan(compile=False, window=6, n_features=3)
    build_config = model.get_build_config()
    assert normalise(build_config) == {"input_shape": [None, 6, 3]}
    clone = NetGAN.from_config(model.get_config())
    clone.build_from_config(build_config)
    clone.build_from_config(build_config)  # twice is safe
    assert normalise(clone.get_build_config()) == normalise(build_config)
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


def test_netgan_config_round_trip() -> None:
    model = NetGAN(**NON_DEFAULT_NETGAN)
    config = model.get_config()
    missing = [name for name in init_arg_names(NetGAN) if name not in config]
    assert not missing, f"get_config() lacks constructor arguments {missing}"
    for name, value in NON_DEFAULT_NETGAN.items():
        assert config[name] == normalise(value), name
    clone = NetGAN.from_config(config)
    assert clone.get_config() == config
    assert clone.d_steps == 2 and clone.g_steps == 3 and clone.label_smoothing == pytest.approx(0.1)
    assert clone.generator.get_config()["output_activation"] == "linear"
    assert [layer.units for layer in clone.generator.lstms] == [8, 4]


def test_netgan_registered_under_package() -> None:
    assert keras.saving.get_registered_name(NetGAN) == "netgan_tf>NetGAN"
    assert keras.saving.get_registered_object("netgan_tf>NetGAN") is NetGAN


def test_netgan_without_encoder(tiny_netgan: Any) -> None:
    model = tiny_netgan(compile=False, use_encoder=False)
    assert model.encoder is None
    model.compile(
        g_optimizer=keras.optimizers.Adam(1e-3),
        d_optimizer=keras.optimizers.Adam(1e-3),
        e_optimizer=keras.optimizers.Adam(1e-3),
    )
    assert model.e_optimizer is None
    assert [m.name for m in model.metrics] == ["d_loss", "g_loss", "d_acc_real", "d_acc_fake"]
    assert model.get_compile_config()["e_optimizer"] is None


def test_netgan_compile_builds_optimizers(tiny_netgan: Any) -> None:
    model = tiny_netgan(compile=False)
    model.compile()  # default optimizers
    for opt, sub in [
        (model.g_optimizer, model.generator),
        (model.d_optimizer, model.discriminator),
        (model.e_optimizer, model.encoder),
    ]:
        assert isinstance(opt, keras.optimizers.Adam)
        assert opt.built
        # iteration, learning rate, and two Adam slots per trainable variable
        assert len(opt.variables) == 2 + 2 * len(sub.trainable_variables)
    assert model.g_optimizer is not model.d_optimizer


@pytest.mark.parametrize(
    "bad",
    [
        {"label_smoothing": -0.1},
        {"label_smoothing": 0.5},
        {"label_smoothing": 1.0},
        {"d_steps": 0},
        {"g_steps": 0},
        {"window": 0},
        {"n_features": 0},
        {"latent_dim": 0},
        {"generator_units": []},
        {"discriminator_units": [0]},
        {"encoder_units": []},
        {"reconstruction_weight": -1.0},
        {"cycle_weight": -0.5},
        {"use_cudnn": "x"},
    ],
)
def test_netgan_bad_arguments_raise_config_error(bad: dict[str, Any]) -> None:
    kwargs = {**NON_DEFAULT_NETGAN, **bad}
    with pytest.raises(ConfigError):
        NetGAN(**kwargs)


def test_netgan_label_smoothing_in_range_is_accepted() -> None:
    assert NetGAN(**{**NON_DEFAULT_NETGAN, "label_smoothing": 0.0}).label_smoothing == 0.0
    assert NetGAN(**{**NON_DEFAULT_NETGAN, "label_smoothing": 0.49}).label_smoothing == pytest.approx(0.49)


def test_netgan_generate_is_seeded(tiny_netgan: Any) -> None:
    model = tiny_netgan(compile=False, seed=5)
    a = np.asarray(model.generate(6, seed=1))
    assert a.shape == (6, 8, 2)
    assert np.all(np.abs(a) <= 1.0)  # tanh output
    np.testing.assert_array_equal(a, np.asarray(model.generate(6, seed=1)))
    assert not np.allclose(a, np.asarray(model.generate(6, seed=2)))
    # no seed: the model's own seed
    np.testing.assert_array_equal(np.asarray(model.generate(6)), np.asarray(model.generate(6, seed=5)))


def test_netgan_docstring_example_runs() -> None:
    run_docstring_example(NetGAN)
