"""Evaluation metrics for point-wise anomaly labels (numpy; scikit-learn only for AUROC / AP).

Evaluation protocol of this project:

* **Headline:** point-wise precision / recall / F1 (plus SKAB's FAR and MAR) at a threshold that was
  chosen from *training* scores only (see :mod:`netgan_tf.thresholds`).
* **Threshold-free:** AUROC and AUPRC (average precision) of the raw scores.
* **Oracle:** :func:`oracle_best_f1` scans every threshold on the *test* scores and uses the test labels;
  it is an upper bound, never a result, and every key / report line that carries it says ``oracle``.
* **Inflated:** point-adjusted F1 (:func:`point_adjusted_f1`) credits a whole labelled segment as soon as
  one of its rows is flagged. It is known to overstate detectors (even random ones), so it is only ever
  reported right beside point-wise F1 and is named ``pa_f1_inflated``.

All functions take 1-D arrays of equal length. Labels and flags must be 0/1 (or boolean); scores must be
finite. Anything else raises :class:`~netgan_tf.errors.DataError` with a message naming the argument.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, roc_auc_score

from netgan_tf.errors import ConfigError, DataError

__all__ = [
    "auprc",
    "auroc",
    "confusion_counts",
    "evaluate",
    "event_recall",
    "false_alarm_rate",
    "format_report",
    "mean_detection_delay",
    "missed_alarm_rate",
    "oracle_best_f1",
    "point_adjust",
    "point_adjusted_f1",
    "precision_recall_f1",
    "segments",
]

METRIC_KEYS: tuple[str, ...] = (
    "precision",
    "recall",
    "f1",
    "far",
    "mar",
    "auroc",
    "auprc",
    "oracle_best_f1",
    "oracle_best_threshold",
    "pa_f1_inflated",
    "event_recall",
    "mean_detection_delay",
    "n_rows",
    "n_anomalous",
    "alarm_rate",
    "threshold",
)
"""The keys :func:`evaluate` returns, in order."""


# --------------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------------
def _as_binary(x: npt.ArrayLike, name: str) -> np.ndarray:
    """Return ``x`` as a 1-D int8 array of 0/1 values, or raise DataError."""
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.int8)
    if arr.size and not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{name} must be numeric 0/1 values, got dtype {arr.dtype}")
    if arr.size:
        bad = ~np.isin(arr, (0, 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{name} must contain only 0/1, found {arr[i]!r} at row {i}")
    return arr.astype(np.int8)


def _as_scores(x: npt.ArrayLike, name: str = "scores") -> np.ndarray:
    """Return ``x`` as a 1-D float64 array of finite values, or raise DataError."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric: {exc}") from exc
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{name} must be finite, found {arr[i]} at row {i} ({int(bad.sum())} bad rows)")
    return arr


def _same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise DataError(f"{name_a} and {name_b} differ in length: {a.shape[0]} vs {b.shape[0]}")


def _pair(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = _as_binary(y_true, "y_true")
    p = _as_binary(y_pred, "y_pred")
    _same_length(y, p, "y_true", "y_pred")
    return y, p


def _segment_ids(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment bookkeeping for a validated 0/1 array.

    Returns ``(starts, ends, ids)``: half-open segment bounds and, per row, ``1 + index`` of the
    segment the row belongs to (0 for normal rows).
    """
    padded = np.concatenate(([0], y.astype(np.int8), [0]))
    change = np.diff(padded)
    starts = np.flatnonzero(change == 1)
    ends = np.flatnonzero(change == -1)
    is_start = np.zeros(y.shape[0], dtype=np.int64)
    is_start[starts] = 1
    ids = np.cumsum(is_start) * y
    return starts, ends, ids


# --------------------------------------------------------------------------------------------------
# point-wise metrics
# --------------------------------------------------------------------------------------------------
def segments(y_true: npt.ArrayLike) -> list[tuple[int, int]]:
    """Half-open ``[start, end)`` row ranges of the runs of 1s in ``y_true``."""
    y = _as_binary(y_true, "y_true")
    starts, ends, _ = _segment_ids(y)
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def confusion_counts(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> dict[str, int]:
    """Point-wise confusion counts ``{"tp", "fp", "fn", "tn"}``."""
    y, p = _pair(y_true, y_pred)
    yb, pb = y.astype(bool), p.astype(bool)
    return {
        "tp": int(np.count_nonzero(yb & pb)),
        "fp": int(np.count_nonzero(~yb & pb)),
        "fn": int(np.count_nonzero(yb & ~pb)),
        "tn": int(np.count_nonzero(~yb & ~pb)),
    }


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else 0.0


def precision_recall_f1(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> tuple[float, float, float]:
    """Point-wise precision, recall and F1. Each is 0.0 where its denominator is 0 (never NaN)."""
    c = confusion_counts(y_true, y_pred)
    precision = _ratio(c["tp"], c["tp"] + c["fp"])
    recall = _ratio(c["tp"], c["tp"] + c["fn"])
    f1 = _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"])
    return precision, recall, f1


def false_alarm_rate(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """SKAB's FAR: ``FP / (FP + TN)``, the share of normal rows flagged (0.0 when there are none)."""
    c = confusion_counts(y_true, y_pred)
    return _ratio(c["fp"], c["fp"] + c["tn"])


def missed_alarm_rate(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """SKAB's MAR: ``FN / (FN + TP)``, the share of anomalous rows missed (0.0 when there are none)."""
    c = confusion_counts(y_true, y_pred)
    return _ratio(c["fn"], c["fn"] + c["tp"])


# --------------------------------------------------------------------------------------------------
# threshold-free metrics
# --------------------------------------------------------------------------------------------------
def _labels_scores(y_true: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = _as_binary(y_true, "y_true")
    s = _as_scores(scores, "scores")
    _same_length(y, s, "y_true", "scores")
    return y, s


def auroc(y_true: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    y, s = _labels_scores(y_true, scores)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.shape[0]:
        return math.nan
    return float(roc_auc_score(y, s))


def auprc(y_true: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Area under the precision-recall curve as average precision; NaN when there are no positives."""
    y, s = _labels_scores(y_true, scores)
    if int(y.sum()) == 0:
        return math.nan
    return float(average_precision_score(y, s))


def oracle_best_f1(y_true: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[float, float]:
    """ORACLE: the best point-wise F1 over every threshold on these scores, and that threshold.

    Uses the test labels to pick the threshold, so it is an upper bound, not a result. Flag rule is
    ``score >= threshold``; candidate thresholds are the distinct score values. Among equally good
    thresholds the highest (fewest alarms) is returned. With no positive labels the best F1 is 0.0 and
    the threshold returned lies just above the largest score (nothing flagged). Computed in
    ``O(n log n)`` by sorting, without a loop over thresholds.
    """
    y, s = _labels_scores(y_true, scores)
    if y.shape[0] == 0:
        raise DataError("oracle_best_f1 needs at least one row")
    n_pos = int(y.sum())
    if n_pos == 0:
        return 0.0, float(np.nextafter(s.max(), np.inf))
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    tp = np.cumsum(y[order], dtype=np.int64)
    # last position of each run of equal scores: flagging at threshold s_sorted[i] flags rows 0..i
    last = np.flatnonzero(np.append(s_sorted[1:] != s_sorted[:-1], True))
    tp_at = tp[last]
    flagged = last + 1
    f1 = 2.0 * tp_at / (flagged + n_pos)
    best = int(np.argmax(f1))
    return float(f1[best]), float(s_sorted[last[best]])


# --------------------------------------------------------------------------------------------------
# segment / event metrics
# --------------------------------------------------------------------------------------------------
def point_adjust(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> np.ndarray:
    """Point adjustment: every labelled segment with at least one flag becomes fully flagged.

    Flags outside labelled segments are kept as they are. Returns an int8 0/1 array.
    """
    y, p = _pair(y_true, y_pred)
    _, _, ids = _segment_ids(y)
    hits = np.bincount(ids, weights=(p * y).astype(np.float64))
    hit_rows = (y == 1) & (hits[ids] > 0)
    return np.where(hit_rows, 1, p).astype(np.int8)


def point_adjusted_f1(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """INFLATED: point-wise F1 after :func:`point_adjust`. Only report it next to point-wise F1."""
    adjusted = point_adjust(y_true, y_pred)
    return precision_recall_f1(y_true, adjusted)[2]


def _detected_first_rows(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(starts, detected_segment_index, first_flag_row)`` for the detected segments."""
    starts, _, ids = _segment_ids(y)
    hit_rows = np.flatnonzero((y == 1) & (p == 1))
    seg, first_pos = np.unique(ids[hit_rows], return_index=True)
    return starts, seg - 1, hit_rows[first_pos]


def event_recall(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Share of labelled segments with at least one flagged row; NaN when there are no segments."""
    y, p = _pair(y_true, y_pred)
    starts, detected, _ = _detected_first_rows(y, p)
    if starts.size == 0:
        return math.nan
    return float(detected.size) / float(starts.size)


def mean_detection_delay(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Mean number of rows from a segment's start to its first flagged row, over detected segments.

    A segment flagged on its first row has delay 0. NaN when no segment is detected.
    """
    y, p = _pair(y_true, y_pred)
    starts, detected, first = _detected_first_rows(y, p)
    if detected.size == 0:
        return math.nan
    return float(np.mean(first - starts[detected]))


# --------------------------------------------------------------------------------------------------
# everything at once
# --------------------------------------------------------------------------------------------------
def evaluate(
    y_true: npt.ArrayLike,
    scores: npt.ArrayLike,
    threshold: float,
    flags: npt.ArrayLike | None = None,
) -> dict[str, float]:
    """All metrics of the evaluation protocol, keyed as in :data:`METRIC_KEYS`.

    ``threshold`` should come from training data. ``flags`` defaults to ``scores >= threshold``; pass
    explicit flags (e.g. from :class:`netgan_tf.thresholds.SPOT`, whose threshold moves) to override,
    in which case ``threshold`` is only recorded. ``oracle_best_*`` use the test labels and
    ``pa_f1_inflated`` is point-adjusted; neither is a headline number.
    """
    y, s = _labels_scores(y_true, scores)
    try:
        thr = float(threshold)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"threshold must be a number, got {threshold!r}") from exc
    if math.isnan(thr):
        raise ConfigError("threshold is NaN")
    if flags is None:
        f = (s >= thr).astype(np.int8)
    else:
        f = _as_binary(flags, "flags")
        _same_length(y, f, "y_true", "flags")
    n = int(y.shape[0])
    precision, recall, f1 = precision_recall_f1(y, f)
    if n:
        oracle_f1, oracle_thr = oracle_best_f1(y, s)
    else:
        oracle_f1, oracle_thr = math.nan, math.nan
    out: dict[str, float] = {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "far": false_alarm_rate(y, f),
        "mar": missed_alarm_rate(y, f),
        "auroc": auroc(y, s),
        "auprc": auprc(y, s),
        "oracle_best_f1": oracle_f1,
        "oracle_best_threshold": oracle_thr,
        "pa_f1_inflated": point_adjusted_f1(y, f),
        "event_recall": event_recall(y, f),
        "mean_detection_delay": mean_detection_delay(y, f),
        "n_rows": float(n),
        "n_anomalous": float(int(y.sum())),
        "alarm_rate": float(f.mean()) if n else 0.0,
        "threshold": thr,
    }
    return out


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    v = float(value)
    if math.isnan(v):
        return "n/a"
    return f"{v:.{digits}f}" if math.isfinite(v) else str(v)


def format_report(metrics: dict[str, float]) -> str:
    """Human-readable multi-line report of :func:`evaluate`'s output.

    Point-adjusted F1 is printed on the point-wise F1 line and marked INFLATED; the oracle best F1 gets
    its own section marked ORACLE. Missing or NaN values print as ``n/a``.
    """
    g = metrics.get
    n_rows = g("n_rows")
    n_anom = g("n_anomalous")
    rows_txt = "n/a" if n_rows is None else str(int(n_rows))
    anom_txt = "n/a" if n_anom is None else str(int(n_anom))
    if n_rows and n_anom is not None:
        anom_txt += f" ({100.0 * float(n_anom) / float(n_rows):.2f}%)"
    alarm = g("alarm_rate")
    alarm_txt = "n/a" if alarm is None or math.isnan(alarm) else f"{100.0 * alarm:.2f}%"
    delay = g("mean_detection_delay")
    delay_txt = _fmt(delay, 2) + ("" if delay is None or math.isnan(delay) else " rows")
    lines = [
        f"rows: {rows_txt}   anomalous rows: {anom_txt}   alarm rate: {alarm_txt}",
        f"threshold (from training scores): {_fmt(g('threshold'), 6)}",
        "Point-wise (headline):",
        f"  precision {_fmt(g('precision'))}   recall {_fmt(g('recall'))}   F1 {_fmt(g('f1'))}"
        f"   | point-adjusted F1 {_fmt(g('pa_f1_inflated'))} (INFLATED, not comparable to F1)",
        f"  false alarm rate (FAR) {_fmt(g('far'))}   missed alarm rate (MAR) {_fmt(g('mar'))}",
        "Threshold-free:",
        f"  AUROC {_fmt(g('auroc'))}   AUPRC (average precision) {_fmt(g('auprc'))}",
        "Events (labelled segments):",
        f"  event recall {_fmt(g('event_recall'))}   mean detection delay {delay_txt}",
        "ORACLE (threshold picked on the test labels; an upper bound, not a result):",
        f"  oracle best F1 {_fmt(g('oracle_best_f1'))} at threshold {_fmt(g('oracle_best_threshold'), 6)}",
    ]
    return "\n".join(lines)
