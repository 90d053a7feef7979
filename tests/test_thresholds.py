"""Tests for netgan_tf.thresholds: quantile, POT, SPOT and the serialisable Threshold."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from netgan_tf.errors import ConfigError, DataError
from netgan_tf.thresholds import (
    SPOT,
    THRESHOLD_METHODS,
    Threshold,
    choose_threshold,
    pot_threshold,
    quantile_threshold,
)


def test_quantile_threshold_on_arange() -> None:
    assert quantile_threshold(np.arange(101), q=0.5) == pytest.approx(50.0)
    assert quantile_threshold(np.arange(101), q=0.99) == pytest.approx(99.0)
    # linear interpolation: 0.995 * 999 = 994.005
    assert quantile_threshold(np.arange(1000)) == pytest.approx(994.005)


def test_pot_hand_computed_exponential_fallback() -> None:
    # t = 0.98-quantile of 0..99 = 97.02; peaks 0.98, 1.98 (too few for a GPD fit -> exponential tail,
    # sigma = mean = 1.48); z = t - sigma * log(risk * n / N_t) = 97.02 + 1.48 * log(20)
    assert pot_threshold(np.arange(100.0)) == pytest.approx(97.02 + 1.48 * math.log(20.0))


def test_pot_exponential_tail_near_true_quantile() -> None:
    x = np.random.default_rng(0).exponential(1.0, 50_000)
    # P(X > z) = 1e-3  <=>  z = -log(1e-3) = 6.9078
    assert pot_threshold(x, risk=1e-3) == pytest.approx(-math.log(1e-3), abs=0.5)
    assert pot_threshold(x, risk=1e-4) == pytest.approx(-math.log(1e-4), abs=1.0)


def test_pot_gpd_tail_near_true_quantile() -> None:
    x = stats.genpareto.rvs(0.2, size=50_000, random_state=1)
    true = stats.genpareto.ppf(1 - 1e-3, 0.2)  # 14.9
    assert pot_threshold(x, risk=1e-3) == pytest.approx(true, rel=0.15)


@pytest.mark.parametrize(
    "scores",
    [
        np.ones(50),
        np.full(1000, -3.5),
        np.array([3.0]),
        np.array([0.0, 1.0]),
        np.array([0.0] * 99 + [1.0]),
        np.array([0.0] * 50 + [5.0] * 50),
        np.array([1e300, 1e300, 1e300]),
        np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0] * 20),
        np.r_[np.zeros(900), np.full(100, 7.0)],
    ],
)
def test_pot_never_nan_on_degenerate_inputs(scores: np.ndarray) -> None:
    z = pot_threshold(scores)
    assert math.isfinite(z)
    assert z > np.quantile(scores, 0.98)


def test_pot_constant_scores_flag_only_larger_values() -> None:
    z = pot_threshold(np.ones(100))
    assert not 1.0 >= z
    assert np.nextafter(1.0, 2.0) >= z


@pytest.mark.parametrize("seed", range(10))
def test_pot_finite_on_small_random_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_cauchy(rng.integers(1, 60))
    assert math.isfinite(pot_threshold(x))


def test_validation_errors() -> None:
    with pytest.raises(DataError, match="empty"):
        pot_threshold([])
    with pytest.raises(DataError, match="finite"):
        quantile_threshold([1.0, math.nan])
    with pytest.raises(DataError, match="finite"):
        choose_threshold([1.0, math.inf], "pot")
    for q in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ConfigError, match="q"):
            quantile_threshold([1.0, 2.0], q=q)
    for risk in (0.0, 1.0):
        with pytest.raises(ConfigError, match="risk"):
            pot_threshold([1.0, 2.0], risk=risk)
    with pytest.raises(ConfigError, match="init_quantile"):
        pot_threshold([1.0, 2.0], init_quantile=1.0)
    with pytest.raises(ConfigError, match="smaller than"):
        pot_threshold([1.0, 2.0], risk=0.05, init_quantile=0.98)
    with pytest.raises(ConfigError, match="unknown"):
        choose_threshold([1.0, 2.0], "median")
    with pytest.raises(ConfigError):
        SPOT(refit_every=0)


def test_spot_flags_injected_spike() -> None:
    rng = np.random.default_rng(3)
    train = rng.normal(size=3000)
    test = rng.normal(size=1000)
    test[400] = 12.0
    spot = SPOT(risk=1e-3).fit(train)
    assert spot.init_threshold_ == pytest.approx(pot_threshold(train))
    n_peaks_before = len(spot._state.peaks) if spot._state else -1
    thresholds, flags = spot.run(test)
    assert thresholds.shape == (1000,) and flags.shape == (1000,)
    assert flags.dtype == bool
    assert np.all(np.isfinite(thresholds))
    assert thresholds[0] == spot.init_threshold_
    assert flags[400]
    assert flags.sum() <= 10
    # the flagged spike never joined the peaks: every stored excess is below the spike's
    assert spot._state is not None
    assert max(spot._state.peaks) < 12.0 - spot.init_level_
    assert len(spot._state.peaks) > n_peaks_before
    # flags follow the threshold in force at each point
    np.testing.assert_array_equal(flags, test >= thresholds)


def test_spot_streams_in_chunks_and_refits() -> None:
    rng = np.random.default_rng(4)
    train, test = rng.exponential(size=2000), rng.exponential(size=600)
    whole = SPOT(refit_every=1).fit(train).run(test)
    chunked = SPOT(refit_every=1).fit(train)
    a = chunked.run(test[:250])
    b = chunked.run(test[250:])
    np.testing.assert_allclose(np.r_[a[0], b[0]], whole[0])
    np.testing.assert_array_equal(np.r_[a[1], b[1]], whole[1])


def test_spot_degenerate_and_unfitted() -> None:
    with pytest.raises(ConfigError, match="fit"):
        SPOT().run([1.0, 2.0])
    spot = SPOT().fit(np.zeros(100))
    thresholds, flags = spot.run([0.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(flags, [False, False, True, False])
    assert np.all(np.isfinite(thresholds))
    with pytest.raises(DataError):
        spot.run([0.0, math.nan])


def test_choose_threshold_methods() -> None:
    x = np.random.default_rng(5).exponential(size=5000)
    t_q = choose_threshold(x)
    assert t_q.method == "quantile" and t_q.value == quantile_threshold(x) and t_q.params == {"q": 0.995}
    t_p = choose_threshold(x, "pot", risk=1e-3)
    assert t_p.value == pytest.approx(pot_threshold(x))
    assert t_p.params["risk"] == 1e-3 and t_p.params["init_quantile"] == 0.98
    t_s = choose_threshold(x, "spot")
    assert t_s.method == "spot"
    assert t_s.value == pytest.approx(SPOT().fit(x).init_threshold_)
    assert set(THRESHOLD_METHODS) == {"quantile", "pot", "spot"}


def test_threshold_json_round_trip() -> None:
    x = np.random.default_rng(6).exponential(size=2000)
    for method in THRESHOLD_METHODS:
        thr = choose_threshold(x, method)
        back = Threshold.from_dict(json.loads(json.dumps(thr.to_dict())))
        assert back == thr
    assert Threshold.from_dict({"method": "quantile", "value": 3}) == Threshold("quantile", 3.0, {})


@pytest.mark.parametrize(
    "d",
    [
        {"method": "median", "value": 1.0},
        {"method": "pot", "value": math.inf},
        {"method": "pot", "value": math.nan},
        {"method": "pot", "value": "1.0"},
        {"method": "pot", "value": True},
        {"method": "pot"},
        {"value": 1.0},
        {"method": "pot", "value": 1.0, "params": {"risk": "high"}},
        {"method": "pot", "value": 1.0, "params": [1, 2]},
        [1, 2],
    ],
)
def test_threshold_from_dict_rejects(d: object) -> None:
    with pytest.raises(ConfigError):
        Threshold.from_dict(d)  # type: ignore[arg-type]
