"""Tests for netgan_tf.metrics: tiny hand-computed cases pin every function."""

from __future__ import annotations

import math

import numpy as np
import pytest

from netgan_tf import metrics as m
from netgan_tf.errors import ConfigError, DataError

Y5 = [0, 1, 1, 0, 1]
P5 = [0, 1, 0, 1, 1]
# three segments [1,4) [6,8) [9,10); the first is hit at row 3, the second at row 7, the third missed
Y10 = [0, 1, 1, 1, 0, 0, 1, 1, 0, 1]
P10 = [0, 0, 0, 1, 0, 1, 0, 1, 0, 0]


def test_segments() -> None:
    assert m.segments(Y5) == [(1, 3), (4, 5)]
    assert m.segments(Y10) == [(1, 4), (6, 8), (9, 10)]
    assert m.segments([1, 1, 0, 1]) == [(0, 2), (3, 4)]
    assert m.segments([0, 0, 0]) == []
    assert m.segments([1, 1, 1]) == [(0, 3)]
    assert m.segments([]) == []


def test_confusion_and_pointwise() -> None:
    assert m.confusion_counts(Y5, P5) == {"tp": 2, "fp": 1, "fn": 1, "tn": 1}
    p, r, f1 = m.precision_recall_f1(Y5, P5)
    assert p == pytest.approx(2 / 3) and r == pytest.approx(2 / 3) and f1 == pytest.approx(2 / 3)
    assert m.false_alarm_rate(Y5, P5) == pytest.approx(1 / 2)
    assert m.missed_alarm_rate(Y5, P5) == pytest.approx(1 / 3)
    # booleans are accepted
    assert m.confusion_counts(np.array(Y5, bool), np.array(P5, bool)) == {"tp": 2, "fp": 1, "fn": 1, "tn": 1}


def test_pointwise_edge_cases_never_nan() -> None:
    # no positives, some flags
    assert m.precision_recall_f1([0, 0, 0], [0, 1, 0]) == (0.0, 0.0, 0.0)
    assert m.false_alarm_rate([0, 0, 0], [0, 1, 0]) == pytest.approx(1 / 3)
    assert m.missed_alarm_rate([0, 0, 0], [0, 1, 0]) == 0.0
    # no flags
    assert m.precision_recall_f1([0, 1, 1], [0, 0, 0]) == (0.0, 0.0, 0.0)
    assert m.missed_alarm_rate([0, 1, 1], [0, 0, 0]) == 1.0
    assert m.false_alarm_rate([0, 1, 1], [0, 0, 0]) == 0.0
    # all positives, all flagged
    assert m.precision_recall_f1([1, 1], [1, 1]) == (1.0, 1.0, 1.0)
    assert m.false_alarm_rate([1, 1], [1, 1]) == 0.0


@pytest.mark.parametrize(
    ("y", "p", "msg"),
    [
        ([0, 1], [0, 1, 1], "length"),
        ([0, 2], [0, 1], "0/1"),
        ([[0, 1]], [[0, 1]], "1-D"),
        ([0, math.nan], [0, 1], "0/1"),
        ([0, 1], [0, 0.5], "0/1"),
    ],
)
def test_label_validation(y: list, p: list, msg: str) -> None:
    with pytest.raises(DataError, match=msg):
        m.confusion_counts(y, p)


def test_score_validation() -> None:
    with pytest.raises(DataError, match="finite"):
        m.auroc([0, 1, 0], [0.1, math.nan, 0.3])
    with pytest.raises(DataError, match="length"):
        m.auprc([0, 1, 0], [0.1, 0.2])
    with pytest.raises(DataError, match="finite"):
        m.evaluate([0, 1], [0.0, math.nan], threshold=0.5)


def test_auroc_auprc_hand_computed() -> None:
    y = [0, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8]
    # positive/negative pairs ranked correctly: 3 of 4
    assert m.auroc(y, s) == pytest.approx(0.75)
    # ranking 0.8(+) 0.4(-) 0.35(+) 0.1(-): AP = 0.5 * 1 + 0.5 * 2/3
    assert m.auprc(y, s) == pytest.approx(5 / 6)
    assert math.isnan(m.auroc([0, 0], [0.1, 0.2]))
    assert math.isnan(m.auroc([1, 1], [0.1, 0.2]))
    assert math.isnan(m.auprc([0, 0], [0.1, 0.2]))
    assert m.auprc([1, 1], [0.1, 0.2]) == pytest.approx(1.0)


def test_oracle_best_f1_hand_computed() -> None:
    # thresholds .8 -> F1 2/3, .4 -> 1/2, .35 -> 4/5, .1 -> 2/3
    f1, thr = m.oracle_best_f1([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert f1 == pytest.approx(0.8)
    assert thr == pytest.approx(0.35)
    # ties in score: 0.5 flags rows 1, 2 and 3 together
    f1, thr = m.oracle_best_f1([0, 1, 0, 1], [0.1, 0.5, 0.5, 0.5])
    assert f1 == pytest.approx(0.8) and thr == 0.5


def test_oracle_best_f1_no_positives() -> None:
    f1, thr = m.oracle_best_f1([0, 0, 0], [0.1, 0.2, 0.3])
    assert f1 == 0.0
    assert thr > 0.3 and math.isfinite(thr)


@pytest.mark.parametrize("seed", range(5))
def test_oracle_best_f1_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    y = (rng.random(n) < 0.15).astype(int)
    # rounded scores create ties
    s = np.round(rng.random(n) + 0.6 * y, 2)
    best = max(m.precision_recall_f1(y, (s >= t).astype(int))[2] for t in np.unique(s))
    f1, thr = m.oracle_best_f1(y, s)
    assert f1 == pytest.approx(best)
    assert m.precision_recall_f1(y, (s >= thr).astype(int))[2] == pytest.approx(best)


def test_point_adjust_and_event_metrics() -> None:
    np.testing.assert_array_equal(m.point_adjust(Y5, P5), [0, 1, 1, 1, 1])
    # tp 3, fp 1, fn 0 -> P 3/4, R 1
    assert m.point_adjusted_f1(Y5, P5) == pytest.approx(6 / 7)
    assert m.event_recall(Y5, P5) == 1.0
    assert m.mean_detection_delay(Y5, P5) == 0.0

    np.testing.assert_array_equal(m.point_adjust(Y10, P10), [0, 1, 1, 1, 0, 1, 1, 1, 0, 0])
    assert m.event_recall(Y10, P10) == pytest.approx(2 / 3)
    # delays: segment [1,4) first flag at 3 -> 2; segment [6,8) first flag at 7 -> 1
    assert m.mean_detection_delay(Y10, P10) == pytest.approx(1.5)
    # adjusted: tp 5, fp 1, fn 1 -> F1 10/12
    assert m.point_adjusted_f1(Y10, P10) == pytest.approx(10 / 12)
    # point-wise F1 for comparison: tp 2, fp 1, fn 4 -> 4/9
    assert m.precision_recall_f1(Y10, P10)[2] == pytest.approx(4 / 9)


def test_event_metrics_edge_cases() -> None:
    assert math.isnan(m.event_recall([0, 0, 0], [1, 0, 0]))
    assert math.isnan(m.mean_detection_delay([0, 1, 1], [1, 0, 0]))
    assert m.event_recall([0, 1, 1], [1, 0, 0]) == 0.0
    np.testing.assert_array_equal(m.point_adjust([0, 0, 0], [1, 0, 1]), [1, 0, 1])
    np.testing.assert_array_equal(m.point_adjust([1, 1, 1], [0, 0, 0]), [0, 0, 0])
    np.testing.assert_array_equal(m.point_adjust([1, 1, 1], [0, 0, 1]), [1, 1, 1])
    assert m.mean_detection_delay([1, 1, 1], [0, 0, 1]) == 2.0


def test_evaluate_keys_and_values() -> None:
    y = [0, 0, 1, 1, 0]
    s = [0.1, 0.4, 0.35, 0.8, 0.2]
    out = m.evaluate(y, s, threshold=0.38)  # flags rows 1 and 3
    assert list(out) == list(m.METRIC_KEYS)
    assert set(out) == {
        "precision", "recall", "f1", "far", "mar", "auroc", "auprc", "oracle_best_f1",
        "oracle_best_threshold", "pa_f1_inflated", "event_recall", "mean_detection_delay",
        "n_rows", "n_anomalous", "alarm_rate", "threshold",
    }  # fmt: skip
    assert out["precision"] == pytest.approx(0.5)
    assert out["recall"] == pytest.approx(0.5)
    assert out["f1"] == pytest.approx(0.5)
    assert out["far"] == pytest.approx(1 / 3)
    assert out["mar"] == pytest.approx(0.5)
    assert out["auroc"] == pytest.approx(5 / 6)  # pairs: .35 beats .1,.2; .8 beats all three
    assert out["oracle_best_f1"] == pytest.approx(0.8)
    assert out["oracle_best_threshold"] == pytest.approx(0.35)
    # segment [2,4) hit at row 3 -> fully flagged; fp at row 1 stays: P 2/3, R 1
    assert out["pa_f1_inflated"] == pytest.approx(0.8)
    assert out["event_recall"] == 1.0
    assert out["mean_detection_delay"] == 1.0
    assert out["n_rows"] == 5.0 and out["n_anomalous"] == 2.0
    assert out["alarm_rate"] == pytest.approx(0.4)
    assert out["threshold"] == 0.38
    assert all(isinstance(v, float) for v in out.values())


def test_evaluate_explicit_flags() -> None:
    y = [0, 0, 1, 1, 0]
    s = [0.1, 0.4, 0.35, 0.8, 0.2]
    out = m.evaluate(y, s, threshold=0.9, flags=[0, 0, 1, 1, 0])
    assert out["f1"] == 1.0 and out["threshold"] == 0.9 and out["alarm_rate"] == pytest.approx(0.4)
    with pytest.raises(DataError, match="length"):
        m.evaluate(y, s, threshold=0.9, flags=[0, 1])
    with pytest.raises(ConfigError):
        m.evaluate(y, s, threshold=math.nan)


def test_format_report_labels() -> None:
    out = m.evaluate([0, 0, 1, 1, 0], [0.1, 0.4, 0.35, 0.8, 0.2], threshold=0.38)
    text = m.format_report(out)
    lines = text.splitlines()
    f1_line = next(line for line in lines if "precision" in line)
    assert "F1 0.5000" in f1_line and "point-adjusted F1 0.8000" in f1_line and "INFLATED" in f1_line
    oracle_lines = [line for line in lines if "0.8000 at threshold" in line]
    assert oracle_lines and "oracle" in oracle_lines[0].lower()
    assert "ORACLE" in text
    assert "AUROC" in text and "AUPRC" in text and "FAR" in text and "MAR" in text
    # NaN values print as n/a
    nan_text = m.format_report(m.evaluate([0, 0, 0], [0.1, 0.2, 0.3], threshold=0.25))
    assert "AUROC n/a" in nan_text
