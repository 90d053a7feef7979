"""Tests for netgan_tf.datasets: the synthetic counter generator and the SKAB / SMD loaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netgan_tf.data.loading import load_table
from netgan_tf.datasets import default_data_root
from netgan_tf.datasets.skab import SKAB_FEATURES, load_skab
from netgan_tf.datasets.smd import SMD_MACHINES, load_smd, read_interpretation
from netgan_tf.datasets.synthetic import ANOMALY_KINDS, make_network_counters, write_csv
from netgan_tf.errors import ConfigError, DataError

# ---------------------------------------------------------------------------------------------- synthetic

_SMALL = {"n_train": 600, "n_test": 700, "period": 96, "n_anomalies": 8}


def test_synthetic_is_deterministic() -> None:
    a = make_network_counters(**_SMALL, seed=3)
    b = make_network_counters(**_SMALL, seed=3)
    pd.testing.assert_frame_equal(a.train, b.train)
    pd.testing.assert_frame_equal(a.test, b.test)
    assert a.anomalies == b.anomalies
    c = make_network_counters(**_SMALL, seed=4)
    assert not a.test[a.feature_names].equals(c.test[c.feature_names])


def test_synthetic_shapes_and_columns() -> None:
    data = make_network_counters(**_SMALL)
    assert len(data.feature_names) == 12
    assert len(set(data.feature_names)) == 12
    assert {"if_in_octets_eth0", "if_out_octets_eth0", "cpu_util", "http_req_rate"} <= set(data.feature_names)
    expected = [data.time_column, *data.feature_names, data.label_column]
    assert list(data.train.columns) == expected and list(data.test.columns) == expected
    assert data.train.shape == (600, 14) and data.test.shape == (700, 14)
    assert (data.train["label"] == 0).all()
    values = data.test[data.feature_names].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    # 5-minute spacing, test continuing right after train.
    times = pd.concat([data.train["timestamp"], data.test["timestamp"]]).reset_index(drop=True)
    assert (pd.to_datetime(times).diff().dropna() == pd.Timedelta("5min")).all()


def test_synthetic_more_features_adds_interfaces() -> None:
    data = make_network_counters(**_SMALL, n_features=17)
    assert len(data.feature_names) == 17 == len(set(data.feature_names))
    assert "if_in_octets_eth1" in data.feature_names
    with pytest.raises(ConfigError):
        make_network_counters(n_features=11)


def test_synthetic_counters_are_correlated() -> None:
    data = make_network_counters(**_SMALL)
    corr = data.train[data.feature_names].corr().to_numpy()
    idx = data.feature_names.index
    assert corr[idx("if_in_octets_eth0"), idx("if_out_octets_eth0")] > 0.8
    assert corr[idx("if_in_octets_eth0"), idx("if_in_packets_eth0")] > 0.8
    assert corr[idx("http_req_rate"), idx("cpu_util")] > 0.8


def test_synthetic_anomalies_kinds_ranges_and_labels() -> None:
    data = make_network_counters(**_SMALL)
    anomalies = data.anomalies
    assert len(anomalies) == 8
    assert {a.kind for a in anomalies} == set(ANOMALY_KINDS)
    ordered = sorted(anomalies, key=lambda a: a.start)
    for prev, cur in zip(ordered, ordered[1:]):
        assert prev.end <= cur.start  # non-overlapping
    expected = np.zeros(len(data.test), dtype=np.int64)
    for a in anomalies:
        assert a.start >= 100 and a.end <= len(data.test)
        assert a.feature in data.feature_names
        if a.kind == "spike":
            assert 1 <= a.end - a.start <= 3
        else:
            assert 20 <= a.end - a.start <= 60
        expected[a.start : a.end] = 1
    np.testing.assert_array_equal(data.test["label"].to_numpy(), expected)


def test_synthetic_anomalies_are_visible_and_local() -> None:
    # Same seed without anomalies: the same series, so the difference is exactly the injections.
    clean = make_network_counters(**{**_SMALL, "n_anomalies": 0})
    data = make_network_counters(**_SMALL)
    assert (clean.test["label"] == 0).all() and clean.anomalies == []
    pd.testing.assert_frame_equal(clean.train, data.train)
    diff = (data.test[data.feature_names] - clean.test[clean.feature_names]).to_numpy()
    touched = np.zeros(diff.shape, dtype=bool)
    for a in data.anomalies:
        col = data.feature_names.index(a.feature)
        touched[a.start : a.end, col] = True
        seg = data.test[a.feature].to_numpy()[a.start : a.end]
        scale = float(data.train[a.feature].max())
        change = float(np.mean(np.abs(diff[a.start : a.end, col])))
        assert change > 0.15 * scale, a  # several noise standard deviations (noise = 0.05 of scale)
        if a.kind == "flatline":
            assert np.ptp(seg) == 0.0
        elif a.kind == "spike":
            assert seg.max() > clean.test[a.feature].to_numpy()[a.start : a.end].max()
        elif a.kind == "correlation_break":
            train = data.train[a.feature]
            assert seg.min() >= 0.8 * train.min() - 0.1 * scale and seg.max() <= 1.1 * train.max()
    assert (diff[~touched] == 0).all()  # nothing outside the recorded anomalies changed


def test_write_csv_round_trip(tmp_path: Path) -> None:
    data = make_network_counters(**_SMALL)
    train_path, test_path = write_csv(data, tmp_path / "out")
    assert train_path.name == "train.csv" and test_path.name == "test.csv"
    table = load_table(test_path, time_column="timestamp", label_column="label")
    assert table.feature_names == data.feature_names
    np.testing.assert_allclose(table.values, data.test[data.feature_names].to_numpy(), rtol=1e-6)
    assert table.labels is not None
    np.testing.assert_array_equal(table.labels, data.test["label"].to_numpy())


def test_synthetic_rejects_bad_sizes() -> None:
    with pytest.raises(ConfigError, match="too short"):
        make_network_counters(n_train=100, n_test=300, n_anomalies=12)


# ---------------------------------------------------------------------------------------------- loaders

_ROOT = default_data_root()
needs_data = pytest.mark.skipif(
    _ROOT is None or not _ROOT.is_dir(),
    reason="development data not found: set NETGAN_DATA or place it at ../shared/data",
)


def test_default_data_root_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NETGAN_DATA", str(tmp_path))
    assert default_data_root() == tmp_path
    with pytest.raises(DataError, match="NETGAN_DATA") as info:
        load_smd("machine-1-4")
    assert str(tmp_path / "smd") in str(info.value)


def test_missing_smd_machine_names_path(tmp_path: Path) -> None:
    (tmp_path / "smd").mkdir()
    with pytest.raises(DataError, match="machine-9-9-train.csv.gz") as info:
        load_smd("machine-9-9", root=tmp_path)
    assert "NETGAN_DATA" in str(info.value)


@pytest.mark.data
@needs_data
def test_smd_machine_1_4() -> None:
    train, test = load_smd("machine-1-4")
    assert train.shape == (23706, 38)
    assert list(train.columns) == [f"m{k}" for k in range(38)]
    assert test.shape == (23707, 39)
    assert list(test.columns) == [*(f"m{k}" for k in range(38)), "label"]
    assert int(test["label"].sum()) == 720


@pytest.mark.data
@needs_data
def test_smd_all_machines_and_interpretation() -> None:
    expected_anomalous = {"machine-1-4": 720, "machine-2-2": 2833, "machine-2-5": 980, "machine-3-4": 977}
    expected_segments = {"machine-1-4": 12, "machine-2-2": 11, "machine-2-5": 21, "machine-3-4": 8}
    for machine in SMD_MACHINES:
        _, test = load_smd(machine)
        labels = test["label"].to_numpy()
        assert int(labels.sum()) == expected_anomalous[machine]
        spans = read_interpretation(machine)
        assert len(spans) == expected_segments[machine]
        assert spans == sorted(spans)
        covered = np.zeros_like(labels)
        for start, end, columns in spans:
            covered[start:end] = 1
            assert columns and all(c in test.columns for c in columns)
        np.testing.assert_array_equal(covered, labels)  # half-open, 0-based ranges match the labels
    first = read_interpretation("machine-1-4")[0]
    assert first == (385, 417, ["m11", "m14", "m15"])


@pytest.mark.data
@needs_data
def test_skab_split() -> None:
    files = load_skab()
    assert len(files) == 34
    names = [f.name for f in files]
    assert names[0] == "valve1/0" and "valve2/3" in names and "other/14" in names
    assert not any("anomaly-free" in n for n in names)
    for f in files:
        assert f.feature_names == list(SKAB_FEATURES)
        assert len(f.train) == 400
        assert list(f.train.columns) == ["datetime", *SKAB_FEATURES]
        assert list(f.test.columns) == ["datetime", *SKAB_FEATURES, "anomaly"]
        assert f.test["anomaly"].dtype.kind == "i" and set(f.test["anomaly"].unique()) <= {0, 1}
    assert sum(len(f.test) for f in files) == 23801
    assert sum(int(f.test["anomaly"].sum()) for f in files) == 12771
    assert sum(len(f.train) + len(f.test) for f in files) == 37401
