"""The scoring graph: latent inversion, score combination, normalisation (small hand-checked cases)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from netgan_tf.errors import ConfigError
from netgan_tf.models import NetGAN
from netgan_tf.scoring.inversion import initial_latent, invert_latent, window_mse
from netgan_tf.scoring.window_scores import (
    InversionSettings,
    ScoreNormalization,
    combine_parts,
    feature_scale,
    fit_normalization,
    score_windows,
)


@pytest.fixture(scope="module")
def trained() -> NetGAN:
    """A small NetGAN trained briefly on smooth periodic windows (its generator has learnt a useful manifold)."""
    keras.utils.set_random_seed(3)
    t = np.arange(40)[None, :, None] + np.arange(64)[:, None, None] * 0.7
    phases = np.array([0.0, 1.3, 2.1])[None, None, :]
    x = (0.7 * np.sin(2 * np.pi * t / 20 + phases)).astype("float32")
    model = NetGAN(
        n_features=3,
        window=12,
        latent_dim=3,
        generator_units=(16,),
        discriminator_units=(16,),
        encoder_units=(16,),
        unroll=True,
        seed=3,
    )
    model.compile(
        g_optimizer=keras.optimizers.Adam(3e-3, beta_1=0.5),
        d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        e_optimizer=keras.optimizers.Adam(3e-3, beta_1=0.5),
    )
    model.fit(x[:, :12, :], batch_size=16, epochs=40, verbose=0, shuffle=False)
    return model


def test_inversion_cuts_error_on_generator_samples_tenfold(trained: NetGAN) -> None:
    """Windows the generator itself produced are reachable: K steps from a random start find them."""
    target = trained.generator(trained.sample_latent(32, tf.constant([11, 5])), training=False)
    z0 = initial_latent(target, "random", trained.latent_dim, seed=1)
    start = window_mse(target, trained.generator(z0, training=False)).numpy()
    _, after = invert_latent(trained.generator, target, z0, steps=200, learning_rate=0.05)
    ratio = float(np.mean(start) / np.mean(after.numpy()))
    assert ratio >= 10.0, f"inversion reduced the error only {ratio:.1f}x"


def test_inversion_error_never_rises_with_k(trained: NetGAN) -> None:
    x = trained.generate(16, seed=4) + tf.random.stateless_normal([16, 12, 3], seed=[1, 2]) * 0.05
    z0 = initial_latent(x, "zeros", trained.latent_dim)
    errors = [invert_latent(trained.generator, x, z0, k, 0.1)[1].numpy() for k in (0, 1, 3, 10, 30)]
    for before, after in zip(errors, errors[1:]):
        assert np.all(after <= before + 1e-7)
    assert errors[-1].mean() < errors[0].mean()


def test_encoder_start_beats_random_start_at_k0(trained: NetGAN) -> None:
    t = np.arange(12)[None, :, None] + np.arange(16)[:, None, None] * 1.3
    x = tf.constant((0.7 * np.sin(2 * np.pi * t / 20 + np.array([0.0, 1.3, 2.1]))).astype("float32"))
    enc = invert_latent(trained.generator, x, initial_latent(x, "encoder", 3, trained.encoder), 0)[1].numpy()
    rnd = invert_latent(trained.generator, x, initial_latent(x, "random", 3, seed=0), 0)[1].numpy()
    assert enc.mean() < rnd.mean()


def test_inversion_result_does_not_depend_on_batching(trained: NetGAN) -> None:
    x = trained.generate(8, seed=9)
    settings = InversionSettings("random", 5, 0.05, 0)
    norm = ScoreNormalization.identity(3)
    whole = score_windows(trained, x, norm, settings)["timestep_score"].numpy()
    parts = np.concatenate([score_windows(trained, x[i : i + 3], norm, settings)["timestep_score"] for i in (0, 3, 6)])
    np.testing.assert_allclose(whole, parts, atol=1e-5)


def test_scores_identical_across_two_runs(trained: NetGAN) -> None:
    x = trained.generate(6, seed=2)
    settings = InversionSettings("random", 4, 0.05, 7)
    norm = ScoreNormalization.identity(3)
    a = score_windows(trained, x, norm, settings)
    b = score_windows(trained, x, norm, settings)
    for key in ("timestep_score", "feature_score", "reconstruction"):
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


def test_initial_latent_choices(trained: NetGAN) -> None:
    x = tf.zeros([4, 12, 3])
    assert np.all(initial_latent(x, "zeros", 3).numpy() == 0)
    r = initial_latent(x, "random", 3, seed=5).numpy()
    np.testing.assert_array_equal(r[0], r[3])  # one shared start, whatever the batch position
    with pytest.raises(ConfigError, match="use_encoder"):
        initial_latent(x, "encoder", 3, encoder=None)
    with pytest.raises(ConfigError, match="must be one of"):
        initial_latent(x, "learned", 3)


def test_combine_parts_hand_computed() -> None:
    # one window, two steps, two features
    residual = np.array([[[0.5, 1.0], [2.0, 4.0]]], np.float32)
    dis = np.array([[0.25, 0.75]], np.float32)
    norm = ScoreNormalization(
        weight=0.5, feature_scale=[0.5, 2.0], rec_mean=1.0, rec_std=2.0, dis_mean=0.5, dis_std=0.5
    )
    out = {k: v.numpy() for k, v in combine_parts(residual, dis, norm).items()}
    # weighted residual: [[1.0, 0.5], [4.0, 2.0]] -> rec = [0.75, 3.0]
    np.testing.assert_allclose(out["reconstruction_part"], [[0.75, 3.0]])
    np.testing.assert_allclose(out["reconstruction_score"], [[-0.125, 1.0]])
    np.testing.assert_allclose(out["discriminator_score"], [[-0.5, 0.5]])
    np.testing.assert_allclose(out["timestep_score"], [[-0.3125, 0.75]])
    # attribution: λ * weighted / (n * rec_std) = 0.5 * w / 4
    np.testing.assert_allclose(out["feature_score"], [[[0.125, 0.0625], [0.5, 0.25]]])


def test_feature_scale_floor_and_fit_normalization() -> None:
    assert feature_scale(np.array([1.0, 2.0, 0.0])) == [1.0, 2.0, 0.05]
    residual = np.ones((10, 4, 2), np.float32)
    residual[:, :, 1] = 3.0
    dis = np.linspace(0, 1, 40, dtype=np.float32).reshape(10, 4)
    norm = fit_normalization(residual, dis, 0.3)
    assert norm.feature_scale == [1.0, 3.0]
    assert norm.rec_mean == pytest.approx(1.0)
    assert norm.dis_mean == pytest.approx(0.5)
    assert norm.dis_std == pytest.approx(float(dis.std()), rel=1e-5)
    assert norm.weight == 0.3


def test_normalization_and_settings_validation() -> None:
    with pytest.raises(ConfigError):
        ScoreNormalization(weight=1.5)
    with pytest.raises(ConfigError):
        ScoreNormalization(rec_std=0.0)
    with pytest.raises(ConfigError):
        ScoreNormalization.from_dict({"weight": 0.5})
    with pytest.raises(ConfigError):
        InversionSettings(init="nope")
    with pytest.raises(ConfigError):
        InversionSettings(steps=-1)
    norm = ScoreNormalization(weight=0.2, feature_scale=[1.0, 2.0], rec_mean=0.1, rec_std=0.3)
    assert ScoreNormalization.from_dict(norm.to_dict()) == norm
