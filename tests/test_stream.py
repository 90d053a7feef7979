"""Out-of-core training (issue 7): a file read in segments gives the scaler, the training and validation windows
and the calibration of the in-memory path, and the streaming score parts equal the per-window reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netgan_tf.cli import main
from netgan_tf.data.scaler import RunningMoments, Scaler
from netgan_tf.data.stream import WindowStream
from netgan_tf.data.windows import usable_windows, window_starts
from netgan_tf.datasets.synthetic import make_network_counters, write_csv
from netgan_tf.detector import AnomalyDetector
from netgan_tf.errors import ConfigError, DataError
from netgan_tf.scoring.aggregate import windows_to_rows
from netgan_tf.scoring.series import NormalizationStats, SeriesParts
from netgan_tf.scoring.window_scores import combine_parts, fit_normalization


def _labelled_frame(n: int = 700, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    frame = pd.DataFrame(
        {
            "ts": t,
            "a": np.sin(t / 17.0) + 0.1 * rng.standard_normal(n),
            "b": 100.0 + 5 * rng.standard_normal(n),
            "flat": np.full(n, 3.0),
        }
    )
    label = np.zeros(n, np.int8)
    label[[i for i in (40, 41, 42, 333, 600) if i < n]] = 1
    frame["label"] = label
    return frame


def test_running_moments_match_numpy() -> None:
    x = np.random.default_rng(1).normal(5.0, 3.0, (1000, 3))
    m = RunningMoments(3)
    for piece in np.array_split(x, [7, 300, 301, 999]):
        m.update(piece)
    assert m.count == 1000
    np.testing.assert_allclose(m.mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(m.std, x.std(0), rtol=1e-10)
    np.testing.assert_array_equal(m.min, x.min(0))
    np.testing.assert_array_equal(m.max, x.max(0))
    for method in ("minmax", "zscore"):
        a, b = Scaler(method).fit(x), Scaler(method).fit_moments(m)
        np.testing.assert_allclose(a.mul, b.mul, rtol=1e-6)
        np.testing.assert_allclose(a.add, b.add, rtol=1e-6, atol=1e-6)
    with pytest.raises(DataError, match="at least one row"):
        Scaler().fit_moments(RunningMoments(3))


def test_normalization_stats_equal_fit_normalization() -> None:
    rng = np.random.default_rng(2)
    residual = rng.gamma(2.0, 0.01, (50, 6, 4)).astype(np.float32)
    residual[:, :, 3] *= 40  # one noisy feature
    dis = rng.uniform(0, 1, (50, 6)).astype(np.float32)
    stats = NormalizationStats(4)
    for lo, hi in ((0, 3), (3, 4), (4, 50)):
        stats.update(residual[lo:hi], dis[lo:hi])
    got, want = stats.result(0.7), fit_normalization(residual, dis, 0.7)
    np.testing.assert_allclose(got.feature_scale, want.feature_scale, rtol=1e-6)
    for key in ("rec_mean", "rec_std", "dis_mean", "dis_std"):
        assert getattr(got, key) == pytest.approx(getattr(want, key), rel=1e-5), key
    with pytest.raises(ConfigError, match="no training window"):
        NormalizationStats(4).result(1.0)


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_row_aggregates_equal_per_window_reference(mode: str) -> None:
    """Folding windows into row aggregates (score_series) gives the scores of aggregating per-window scores."""
    rng = np.random.default_rng(3)
    n_rows, T, n = 40, 6, 3
    residual = rng.gamma(2.0, 0.1, (n_rows - T + 1, T, n))
    dis = rng.uniform(0, 1, (n_rows - T + 1, T))
    norm = fit_normalization(residual, dis, 0.6)
    reference = windows_to_rows(
        combine_parts(residual, dis, norm)["timestep_score"].numpy(), np.arange(len(dis)), n_rows, mode
    )
    parts = SeriesParts(
        {m: windows_to_rows(residual, np.arange(len(dis)), n_rows, m) for m in ("batch", "streaming")},
        {m: windows_to_rows(dis, np.arange(len(dis)), n_rows, m) for m in ("batch", "streaming")},
    )
    np.testing.assert_allclose(parts.rows(norm, mode).score, reference, rtol=1e-5, atol=1e-5)


def test_usable_windows() -> None:
    exclude = np.zeros(10, bool)
    exclude[4] = True
    np.testing.assert_array_equal(usable_windows(10, 3, exclude), [1, 1, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(usable_windows(10, 3, None), np.ones(8, bool))
    assert usable_windows(2, 3, None).size == 0


@pytest.mark.parametrize(("stride", "split"), [(1, 0.0), (3, 0.2)])
def test_stream_windows_equal_in_memory(stride: int, split: float) -> None:
    frame = _labelled_frame()
    T = 8
    stream = WindowStream(
        frame, window=T, stride=stride, chunk_rows=50, validation_split=split, time_column="ts", label_column="label"
    )
    summary = stream.summarize()
    assert summary.features == ["a", "b", "flat"]
    assert summary.n_rows == 700 and summary.n_normal_rows == 695
    values = frame[["a", "b", "flat"]].to_numpy(np.float32)
    exclude = frame["label"].to_numpy().astype(bool)
    scaler = Scaler().fit(values[~exclude])
    streamed = Scaler().fit_moments(summary.moments)
    np.testing.assert_allclose(streamed.mul, scaler.mul, rtol=1e-6)
    np.testing.assert_allclose(streamed.add, scaler.add, rtol=1e-6, atol=1e-6)

    x = scaler.transform(values)
    cut = summary.cut
    assert cut == int(round(700 * (1 - split)))
    for validation, lo in ((False, 0), (True, cut)):
        hi = cut if not validation else 700
        if hi - lo < T:
            continue
        starts = lo + window_starts(hi - lo, T, stride, exclude=exclude[lo:hi])
        want = x[starts[:, None] + np.arange(T)]
        blocks = list(stream.iter_windows(scaler, validation=validation))
        got = np.concatenate(blocks)
        np.testing.assert_array_equal(got, want)
        assert len(got) == (summary.n_val_windows if validation else summary.n_train_windows)
    # shuffled: same windows in another order
    shuffled = np.concatenate(list(stream.iter_windows(scaler, seed=5)))
    plain = np.concatenate(list(stream.iter_windows(scaler)))
    assert not np.array_equal(shuffled, plain)
    np.testing.assert_array_equal(
        np.sort(shuffled.reshape(len(shuffled), -1), 0), np.sort(plain.reshape(len(plain), -1), 0)
    )

    train_ds, val_ds = stream.datasets(scaler, batch_size=16, seed=0)
    n_batches = int(train_ds.cardinality())
    assert n_batches == -(-summary.n_train_windows // 16)
    assert sum(int(b.shape[0]) for b in train_ds) == summary.n_train_windows
    assert (val_ds is None) == (split == 0.0)


def test_stream_errors(tmp_path: Path) -> None:
    frame = _labelled_frame(200)
    with pytest.raises(ConfigError, match="drop"):
        WindowStream(frame, window=8, chunk_rows=50, fill="drop")
    with pytest.raises(ConfigError, match="twice the window"):
        WindowStream(frame, window=8, chunk_rows=10)
    bad = frame.copy()
    bad.loc[130, "b"] = np.nan
    with pytest.raises(DataError, match=r"segment from data row .*column 'b'"):
        WindowStream(bad, window=8, chunk_rows=50, time_column="ts", label_column="label").summarize()
    with pytest.raises(DataError, match="at least 8 rows"):
        WindowStream(frame.iloc[:5], window=8, chunk_rows=50, time_column="ts", label_column="label").summarize()
    all_bad = frame.assign(label=1)
    with pytest.raises(DataError, match="labelled anomalous"):
        WindowStream(all_bad, window=8, chunk_rows=50, time_column="ts", label_column="label").summarize()


@pytest.fixture(scope="module")
def counters(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = make_network_counters(n_train=600, n_test=300, n_anomalies=2, seed=6)
    return write_csv(data, tmp_path_factory.mktemp("counters"))


def test_chunked_fit_calibrates_like_in_memory(counters: tuple[Path, Path]) -> None:
    train, _ = counters
    det = AnomalyDetector(window=10, epochs=1, hidden=8, latent_dim=3, inversion_steps=2, verbose=0)
    det.fit(train, time_column="timestamp", label_column="label", chunk_rows=100)
    assert det.info["chunk_rows"] == 100 and det.info["calibration_rows"] == det.info["train_rows"] - 0
    frame = pd.read_csv(train)
    x = det.scaler.transform(frame[det.features].to_numpy(np.float32))
    streamed_norm, streamed_scores = det.normalization, dict(det.train_scores)
    det._calibrate(x, frame["label"].to_numpy().astype(bool))
    for key in ("rec_mean", "rec_std", "dis_mean", "dis_std"):
        assert getattr(streamed_norm, key) == pytest.approx(getattr(det.normalization, key), rel=1e-4), key
    for mode in ("batch", "streaming"):
        np.testing.assert_allclose(streamed_scores[mode], det.train_scores[mode], rtol=1e-4, atol=1e-4)

    # A sample: evenly spread segments owning about 200 of the 600 rows (at most one segment more).
    det2 = AnomalyDetector(window=10, epochs=1, hidden=8, latent_dim=3, inversion_steps=0, verbose=0)
    det2.fit(train, time_column="timestamp", label_column="label", chunk_rows=100, calibration_rows=200)
    assert 150 <= det2.info["calibration_rows"] <= 200 + 2 * 100 < det.info["calibration_rows"]
    with pytest.raises(ConfigError, match="calibration rows"):
        det2.fit(train, time_column="timestamp", chunk_rows=100, calibration_rows=3)


def test_cli_train_chunk_rows(counters: tuple[Path, Path], tmp_path: Path) -> None:
    train, test = counters
    run = tmp_path / "run"
    args = ["train", str(train), "--out", str(run), "--time-column", "timestamp", "--label-column", "label"]
    args += ["--window", "10", "--epochs", "2", "--hidden", "8", "--latent-dim", "3", "--inversion-steps", "1"]
    assert main([*args, "--chunk-rows", "120", "--calibration-rows", "1000", "--quiet"]) == 0
    det = AnomalyDetector.load(run)
    assert det.info["epochs_completed"] == 2
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == [0, 1]
    out = tmp_path / "scores.csv"
    assert main(["score", str(run), str(test), "--out", str(out), "--label-column", "label", "--quiet"]) == 0
    assert len(pd.read_csv(out)) == 300
    assert main([*args, "--out", str(tmp_path / "r2"), "--chunk-rows", "5", "--quiet"]) == 2
