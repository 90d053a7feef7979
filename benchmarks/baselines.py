"""Baselines computed in the same run as the Net-GAN detection benchmark (so every figure has a ratio beside it).

* PCA-SPE: min-max scaling fitted on train (constant columns: range 1), scikit-learn PCA keeping 95% of the train
  variance, score = squared prediction error (sum of squared residuals), threshold = q0.995 of the train scores.
* IsolationForest: scikit-learn, 100 trees, max_samples "auto", random_state 0, on the raw features; score =
  -score_samples (higher = more anomalous), threshold = q0.995 of the train scores.

Both follow the protocol of ../shared/benchmarks/peers-dev.md (one model per machine / file, train only).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

QUANTILE = 0.995


@dataclass
class BaselineScores:
    name: str
    train_scores: np.ndarray
    test_scores: np.ndarray
    threshold: float
    fit_s: float
    score_s: float


def _minmax(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    lo = train.min(axis=0)
    span = train.max(axis=0) - lo
    span = np.where(span > 0, span, 1.0)
    return [(a - lo) / span for a in (train, *others)]


def pca_spe(train: np.ndarray, test: np.ndarray, variance: float = 0.95, q: float = QUANTILE) -> BaselineScores:
    from sklearn.decomposition import PCA

    t0 = time.perf_counter()
    xtr, xte = _minmax(np.asarray(train, np.float64), np.asarray(test, np.float64))
    pca = PCA(n_components=variance, svd_solver="full").fit(xtr)

    def spe(x: np.ndarray) -> np.ndarray:
        rec = pca.inverse_transform(pca.transform(x))
        return np.sum((x - rec) ** 2, axis=1)

    train_scores = spe(xtr)
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    test_scores = spe(xte)
    score_s = time.perf_counter() - t1
    return BaselineScores("PCA-SPE", train_scores, test_scores, float(np.quantile(train_scores, q)), fit_s, score_s)


def isolation_forest(train: np.ndarray, test: np.ndarray, q: float = QUANTILE) -> BaselineScores:
    from sklearn.ensemble import IsolationForest

    t0 = time.perf_counter()
    forest = IsolationForest(n_estimators=100, random_state=0).fit(train)
    train_scores = -forest.score_samples(train)
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    test_scores = -forest.score_samples(test)
    score_s = time.perf_counter() - t1
    return BaselineScores(
        "IsolationForest", train_scores, test_scores, float(np.quantile(train_scores, q)), fit_s, score_s
    )


BASELINES = {"PCA-SPE": pca_spe, "IsolationForest": isolation_forest}


def run_all(train: np.ndarray, test: np.ndarray) -> dict[str, BaselineScores]:
    return {name: fn(train, test) for name, fn in BASELINES.items()}


def main() -> None:
    """Baselines alone on the SMD development machines (printed; detection.py records them with Net-GAN)."""
    from benchmarks import data_root_or_none, log
    from netgan_tf import metrics
    from netgan_tf.datasets import SMD_MACHINES, load_smd

    if data_root_or_none() is None:
        return
    for machine in SMD_MACHINES:
        train, test = load_smd(machine)
        y = test.pop("label").to_numpy()
        for name, res in run_all(train.to_numpy(np.float32), test.to_numpy(np.float32)).items():
            m = metrics.evaluate(y, res.test_scores, res.threshold)
            log(f"{machine} {name}: F1 {m['f1']:.3f} AUPRC {m['auprc']:.3f} alarm {100 * m['alarm_rate']:.1f}%")


if __name__ == "__main__":
    main()
