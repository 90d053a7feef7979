"""Tests for netgan_tf.scoring.aggregate on a hand-worked 6-row, T=3 example."""

from __future__ import annotations

import numpy as np
import pytest

from netgan_tf.errors import ConfigError, DataError
from netgan_tf.scoring.aggregate import AGGREGATION_MODES, feature_shares, top_k_features, windows_to_rows

# 6 rows, T = 3, stride 1: window w covers rows w, w+1, w+2
VALUES = np.array(
    [
        [1.0, 2.0, 3.0],  # rows 0 1 2
        [4.0, 5.0, 6.0],  # rows 1 2 3
        [7.0, 8.0, 9.0],  # rows 2 3 4
        [10.0, 11.0, 12.0],  # rows 3 4 5
    ]
)
STARTS = np.array([0, 1, 2, 3])
# row 0: 1 | row 1: (2+4)/2 | row 2: (3+5+7)/3 | row 3: (6+8+10)/3 | row 4: (9+11)/2 | row 5: 12
BATCH = [1.0, 3.0, 5.0, 8.0, 10.0, 12.0]
# rows 0, 1 warm up from window 0 (values 1, 2); row r >= 2 takes the last step of window r-2
STREAMING = [1.0, 2.0, 3.0, 6.0, 9.0, 12.0]


def test_modes() -> None:
    assert AGGREGATION_MODES == ("batch", "streaming")


def test_batch_hand_worked() -> None:
    out = windows_to_rows(VALUES, STARTS, 6)
    assert out.shape == (6,)
    np.testing.assert_allclose(out, BATCH)


def test_streaming_hand_worked_with_warm_up() -> None:
    out = windows_to_rows(VALUES, STARTS, 6, mode="streaming")
    assert out.shape == (6,)
    np.testing.assert_allclose(out, STREAMING)


@pytest.mark.parametrize("mode", AGGREGATION_MODES)
def test_k_dim_values(mode: str) -> None:
    values = np.stack([VALUES, 10 * VALUES, -VALUES], axis=-1)  # [4, 3, 3]
    out = windows_to_rows(values, STARTS, 6, mode=mode)
    expected = np.array(BATCH if mode == "batch" else STREAMING)
    assert out.shape == (6, 3)
    np.testing.assert_allclose(out, np.stack([expected, 10 * expected, -expected], axis=-1))


def test_batch_stride_two() -> None:
    # 5 rows, T = 3, starts 0 and 2: row 2 is covered by both windows
    out = windows_to_rows([[1.0, 2.0, 3.0], [5.0, 6.0, 7.0]], [0, 2], 5)
    np.testing.assert_allclose(out, [1.0, 2.0, 4.0, 6.0, 7.0])


def test_single_window() -> None:
    np.testing.assert_allclose(windows_to_rows([[1.0, 2.0, 3.0]], [0], 3), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(windows_to_rows([[1.0, 2.0, 3.0]], [0], 3, mode="streaming"), [1.0, 2.0, 3.0])


def test_windows_to_rows_errors() -> None:
    with pytest.raises(ConfigError, match="covered"):
        windows_to_rows([[1.0, 2.0, 3.0], [5.0, 6.0, 7.0]], [0, 3], 7)  # row 6 uncovered
    with pytest.raises(ConfigError, match="covered"):
        windows_to_rows([[1.0, 2.0], [5.0, 6.0]], [0, 3], 5)  # row 2 uncovered
    with pytest.raises(ConfigError, match="stride-1"):
        windows_to_rows([[1.0, 2.0, 3.0], [5.0, 6.0, 7.0]], [0, 2], 5, mode="streaming")
    with pytest.raises(ConfigError, match="one entry per window"):
        windows_to_rows(VALUES, [0, 1, 2], 6)
    with pytest.raises(ConfigError, match="shape"):
        windows_to_rows(np.ones(6), STARTS, 6)
    with pytest.raises(ConfigError, match=r"\[0, n_rows - T\]"):
        windows_to_rows(VALUES, [0, 1, 2, 4], 6)
    with pytest.raises(ConfigError, match="shorter"):
        windows_to_rows(VALUES, STARTS, 2)
    with pytest.raises(ConfigError, match="integer"):
        windows_to_rows(VALUES, [0.0, 0.5, 2.0, 3.0], 6)
    with pytest.raises(ConfigError, match="mode"):
        windows_to_rows(VALUES, STARTS, 6, mode="online")


def test_top_k_features_ordering_and_ties() -> None:
    names = ["cpu_util", "http_5xx_rate", "tcp_conn", "disk_io"]
    att = np.array(
        [
            [0.1, 0.5, 0.3, 0.2],
            [3.0, 2.0, 1.0, 0.0],
            [0.2, 0.5, 0.5, 0.5],  # three-way tie: column order decides
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    assert top_k_features(att, names) == [
        "http_5xx_rate;tcp_conn;disk_io",
        "cpu_util;http_5xx_rate;tcp_conn",
        "http_5xx_rate;tcp_conn;disk_io",
        "cpu_util;http_5xx_rate;tcp_conn",
    ]
    assert top_k_features(att[:1], names, k=1) == ["http_5xx_rate"]
    assert top_k_features(att[:1], names, k=10) == ["http_5xx_rate;tcp_conn;disk_io;cpu_util"]


def test_top_k_features_errors() -> None:
    with pytest.raises(ConfigError, match="names"):
        top_k_features(np.ones((2, 3)), ["a", "b"])
    with pytest.raises(ConfigError, match=";"):
        top_k_features(np.ones((2, 2)), ["a;b", "c"])
    with pytest.raises(ConfigError, match="k"):
        top_k_features(np.ones((2, 2)), ["a", "b"], k=0)
    with pytest.raises(DataError):
        top_k_features(np.array([[1.0, np.nan]]), ["a", "b"])


def test_feature_shares() -> None:
    out = feature_shares(np.array([[1.0, 3.0], [0.0, 0.0], [2.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.25, 0.75], [0.5, 0.5], [1.0, 0.0]])
    with pytest.raises(DataError, match="non-negative"):
        feature_shares(np.array([[1.0, -1.0]]))
    with pytest.raises(ConfigError):
        feature_shares(np.ones(3))
