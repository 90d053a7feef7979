"""Tests for netgan_tf.data.scaler.Scaler."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from netgan_tf.data.scaler import Scaler
from netgan_tf.errors import ConfigError, DataError


def _data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal([5.0, -3.0, 100.0], [1.0, 0.1, 20.0], size=(200, 3))


def test_minmax_maps_train_range_to_feature_range() -> None:
    x = _data()
    scaler = Scaler("minmax", (-1.0, 1.0)).fit(x)
    y = scaler.transform(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.min(axis=0), -1.0, atol=1e-5)
    np.testing.assert_allclose(y.max(axis=0), 1.0, atol=1e-5)
    y01 = Scaler("minmax", (0.0, 1.0)).fit(x).transform(x)
    np.testing.assert_allclose(y01.min(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(y01.max(axis=0), 1.0, atol=1e-5)


def test_zscore_gives_mean_0_std_1() -> None:
    x = _data()
    y = Scaler("zscore").fit(x).transform(x)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=0), 1.0, atol=1e-4)


@pytest.mark.parametrize("method", ["minmax", "zscore"])
def test_round_trip_and_leading_shape(method: str) -> None:
    x = _data()
    scaler = Scaler(method).fit(x)
    windows = x[:60].reshape(5, 4, 3, 3)[..., 0, :]  # [5, 4, 3]: any leading shape
    y = scaler.transform(windows)
    assert y.shape == (5, 4, 3)
    np.testing.assert_allclose(scaler.inverse_transform(y), windows, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(y, windows * scaler.mul + scaler.add, rtol=1e-5, atol=1e-5)
    assert scaler.n_features == 3


def test_constant_column_has_no_nan() -> None:
    x = _data()
    x[:, 1] = 7.0
    mm = Scaler("minmax", (0.0, 2.0)).fit(x)
    y = mm.transform(x)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y[:, 1], 1.0)  # the middle of the range
    assert mm.mul is not None and mm.mul[1] == 1.0
    zs = Scaler("zscore").fit(x)
    y = zs.transform(x)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y[:, 1], 0.0)
    np.testing.assert_allclose(zs.inverse_transform(y)[:, 1], 7.0)


@pytest.mark.parametrize("method", ["minmax", "zscore"])
def test_json_round_trip(method: str) -> None:
    x = _data()
    scaler = Scaler(method, (0.0, 1.0)).fit(x)
    text = json.dumps(scaler.to_dict())
    again = Scaler.from_dict(json.loads(text))
    assert again.method == method
    assert again.feature_range == (0.0, 1.0)
    np.testing.assert_array_equal(again.mul, scaler.mul)
    np.testing.assert_array_equal(again.add, scaler.add)
    np.testing.assert_array_equal(again.transform(x), scaler.transform(x))


@pytest.mark.parametrize(
    "change",
    [
        {"method": "robust"},
        {"mul": [1.0, 2.0]},
        {"mul": [1.0, 0.0, 1.0]},
        {"add": [0.0, float("nan"), 0.0]},
        {"mul": "1,2,3"},
        {"mul": []},
    ],
)
def test_from_dict_rejects(change: dict[str, Any]) -> None:
    d = Scaler().fit(_data()).to_dict()
    d.update(change)
    with pytest.raises(ConfigError):
        Scaler.from_dict(d)


def test_from_dict_rejects_missing_key() -> None:
    d = Scaler().fit(_data()).to_dict()
    del d["add"]
    with pytest.raises(ConfigError, match="add"):
        Scaler.from_dict(d)


def test_fit_rejects_non_finite() -> None:
    x = _data()
    x[3, 2] = np.nan
    with pytest.raises(DataError, match="NaN"):
        Scaler().fit(x)


def test_transform_before_fit() -> None:
    with pytest.raises(ConfigError, match="fit"):
        Scaler().transform(_data())
    with pytest.raises(ConfigError):
        Scaler().to_dict()


def test_wrong_feature_count() -> None:
    scaler = Scaler().fit(_data())
    with pytest.raises(DataError, match=r"expected 3 .*got 2"):
        scaler.transform(np.zeros((4, 2)))
    with pytest.raises(DataError, match=r"expected 3 .*got 5"):
        scaler.inverse_transform(np.zeros((2, 4, 5)))


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ConfigError):
        Scaler("robust")
    with pytest.raises(ConfigError):
        Scaler("minmax", (1.0, 1.0))
