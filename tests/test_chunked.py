"""Out-of-core scoring: overlapping segments give exactly the rows of a whole-file run, written incrementally."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netgan_tf.cli import main
from netgan_tf.data.segments import iter_segments
from netgan_tf.datasets.synthetic import make_network_counters, write_csv
from netgan_tf.detector import AnomalyDetector
from netgan_tf.errors import ConfigError


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[AnomalyDetector, Path, Path]:
    data = make_network_counters(n_train=500, n_test=430, n_anomalies=3, seed=4)
    train, test = write_csv(data, tmp_path_factory.mktemp("data"))
    run = tmp_path_factory.mktemp("run")
    det = AnomalyDetector(window=10, epochs=1, hidden=8, latent_dim=3, inversion_steps=3, verbose=0)
    det.fit(train, time_column="timestamp", label_column="label", run_dir=run)
    return det, run, test


def test_segments_own_every_row_once() -> None:
    frame = pd.DataFrame({"a": np.arange(1000.0)})
    owned = []
    for seg in iter_segments(frame, window=10, chunk_rows=120):
        assert seg.frame["a"].iloc[0] == seg.start
        owned.append(seg.frame["a"].to_numpy()[seg.own])
    np.testing.assert_array_equal(np.concatenate(owned), np.arange(1000.0))
    with pytest.raises(ConfigError, match="twice the window"):
        list(iter_segments(frame, window=10, chunk_rows=15))


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_chunked_scores_equal_whole_file(fitted: tuple[AnomalyDetector, Path, Path], tmp_path: Path, mode: str) -> None:
    det, _, test = fitted
    whole = det.score(test, mode=mode, label_column="label", attribution=True)
    out = tmp_path / "chunked.csv"
    scores, flags, labels = det.score_to_csv(
        test, out, chunk_rows=60, mode=mode, label_column="label", attribution=True
    )
    chunked = pd.read_csv(out)
    assert len(chunked) == len(whole) == 430
    np.testing.assert_allclose(chunked["score"], whole["score"], atol=1e-5)
    np.testing.assert_allclose(scores, whole["score"], atol=1e-5)
    np.testing.assert_array_equal(flags, whole["is_anomaly"])
    np.testing.assert_array_equal(labels, whole["label"])
    assert list(chunked["top_features"]) == list(whole["top_features"])
    assert list(chunked["timestamp"]) == [str(t) for t in whole["timestamp"]]


def test_cli_chunk_rows(fitted: tuple[AnomalyDetector, Path, Path], tmp_path: Path) -> None:
    _, run, test = fitted
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["score", str(run), str(test), "--out", str(a), "--quiet", "--label-column", "label"]) == 0
    args = ["score", str(run), str(test), "--out", str(b), "--quiet", "--label-column", "label", "--chunk-rows", "50"]
    assert main(args) == 0
    np.testing.assert_allclose(pd.read_csv(a)["score"], pd.read_csv(b)["score"], atol=1e-5)
    assert main([*args[:-2], "--chunk-rows", "5"]) == 2  # too small for two windows: one-line error
