"""`netgan demo` / `make demo`: the whole job on the built-in synthetic network counters."""

from __future__ import annotations

import os
import time
from pathlib import Path

from netgan_tf import metrics
from netgan_tf.datasets.synthetic import make_network_counters, write_csv
from netgan_tf.detector import AnomalyDetector
from netgan_tf.plotting import plot_scores
from netgan_tf.rundir import atomic_write, check_writable


def run_demo(out: str | os.PathLike[str], epochs: int = 12, seed: int = 0, export: bool = True) -> int:
    """Generates data, trains, scores the test part, prints metrics, writes a plot and (optionally) exports."""
    small = os.environ.get("NETGAN_SMALL") == "1"
    root = check_writable(out)
    data = make_network_counters(
        n_train=1500 if small else 4000, n_test=800 if small else 2000, n_anomalies=6 if small else 12, seed=seed
    )
    train_csv, test_csv = write_csv(data, root / "data")
    print(f"[1/4] synthetic network counters: {len(data.feature_names)} features; train {train_csv}, test {test_csv}")

    run_dir = root / "run"
    t0 = time.perf_counter()
    detector = AnomalyDetector(window=30, epochs=2 if small else epochs, seed=seed, hidden=32 if small else 100)
    detector.fit(
        train_csv, time_column=data.time_column, label_column=data.label_column, run_dir=run_dir, overwrite=True
    )
    print(f"[2/4] trained in {time.perf_counter() - t0:.0f} s; run directory {run_dir}")

    scores = detector.score(test_csv, label_column=data.label_column, time_column=data.time_column)
    scores_csv = root / "scores.csv"
    atomic_write(scores_csv, lambda tmp: scores.to_csv(tmp, index=False), suffix=".csv")
    labels = scores[data.label_column].to_numpy()
    result = metrics.evaluate(
        labels, scores["score"].to_numpy(), detector.thresholds["batch"].value, flags=scores["is_anomaly"]
    )
    print(f"[3/4] scored {len(scores)} test rows -> {scores_csv}")
    print(metrics.format_report(result))
    plot = root / "scores.png"
    values = data.test[detector.features].to_numpy(dtype=float)
    plot_scores(plot, values, detector.features, scores, labels, title="netgan_tf demo: synthetic network counters")
    print(f"      plot: {plot}")

    if export:
        try:
            from netgan_tf.export import export_detector
        except ImportError:
            print("[4/4] export skipped: netgan_tf.export is not available")
            return 0
        path = export_detector(detector, Path(root) / "export", name="netgan")
        print(f"[4/4] SavedModel for TensorFlow Serving: {path}")
    return 0
