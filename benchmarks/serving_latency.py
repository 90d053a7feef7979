"""Latency and throughput of the exported SavedModel (issue 4), through `tf.saved_model.load` in one process.

Default-sized model (T=30, 38 features, latent 15, hidden 100) trained for one epoch on synthetic counters (latency
does not depend on how well it is trained), exported with `netgan_tf.export.export_detector`, then:
- batch 1: p50 / p99 latency over `--calls` requests after warm-up, for `serving_default` and `score_fast`;
- batch 256: windows/s (median of `--repeats` calls).

    python -m benchmarks.serving_latency [--calls 60] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"score_fast_b1_p50_ms": 10.0, "serving_default_b1_p50_ms": 60.0, "score_fast_b256_windows_per_s": 3000.0}


def measure(calls: int = 60, repeats: int = 5) -> dict[str, Any]:
    import tensorflow as tf

    from netgan_tf.datasets.synthetic import make_network_counters
    from netgan_tf.detector import AnomalyDetector
    from netgan_tf.export import export_detector

    load_start = os.getloadavg()
    data = make_network_counters(n_train=1200, n_test=400, n_features=38, n_anomalies=2, seed=0)
    det = AnomalyDetector(window=30, epochs=1, verbose=0)
    det.fit(data.train, time_column="timestamp", label_column="label")
    base = Path(tempfile.mkdtemp(prefix="netgan-latency-"))
    path = export_detector(det, base, name="netgan")
    loaded = tf.saved_model.load(str(path))
    values = data.test[det.features].to_numpy(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(values, 30, axis=0).transpose(0, 2, 1)
    batch256 = tf.constant(np.ascontiguousarray(windows[:256]))
    result: dict[str, Any] = {
        "model": {"window": 30, "n_features": 38, "latent_dim": 15, "hidden": 100},
        "inversion": {"serving_default": vars(det.options.inversion), "score_fast": "encoder start, 0 steps"},
        "calls": calls,
        "repeats": repeats,
    }
    for name in ("serving_default", "score_fast"):
        fn = loaded.signatures[name]
        one = tf.constant(np.ascontiguousarray(windows[:1]))
        for _ in range(3):
            fn(values=one)
            fn(values=batch256)
        lat = []
        for i in range(calls):
            x = tf.constant(np.ascontiguousarray(windows[i % len(windows)][None]))
            t0 = time.perf_counter()
            fn(values=x)["score"].numpy()
            lat.append(1000 * (time.perf_counter() - t0))
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(values=batch256)["score"].numpy()
            rates.append(256 / (time.perf_counter() - t0))
        result[f"{name}_b1_p50_ms"] = float(np.percentile(lat, 50))
        result[f"{name}_b1_p99_ms"] = float(np.percentile(lat, 99))
        result[f"{name}_b256_windows_per_s"] = float(statistics.median(rates))
    result["loadavg_start_end"] = [list(load_start), list(os.getloadavg())]
    result["targets"] = TARGETS
    return result


def to_markdown(r: dict[str, Any]) -> str:
    rows = [
        "| signature | batch-1 p50 ms | batch-1 p99 ms | batch-256 windows/s |",
        "|---|---|---|---|",
    ]
    for name in ("serving_default", "score_fast"):
        rows.append(
            f"| `{name}` | {r[f'{name}_b1_p50_ms']:.1f} | {r[f'{name}_b1_p99_ms']:.1f} | "
            f"{r[f'{name}_b256_windows_per_s']:.0f} |"
        )
    met = [
        f"- `{k}`: {r[k]:.1f} (target {'≤' if 'ms' in k else '≥'} {v:g}: "
        f"{'met' if (r[k] <= v if 'ms' in k else r[k] >= v) else 'MISSED'})"
        for k, v in TARGETS.items()
    ]
    return (
        "# SavedModel serving latency\n\n"
        "Default-sized model (T=30, 38 features, latent 15, hidden 100), loaded with `tf.saved_model.load`, one "
        "process on this 2-core machine; `serving_default` inverts with the detector's defaults (encoder start, "
        f"K={r['inversion']['serving_default']['steps']}), `score_fast` with the encoder start only.\n"
        f"Load average start/end: {r['loadavg_start_end']}.\n\n" + "\n".join(rows) + "\n\n" + "\n".join(met) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--calls", type=int, default=60)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    print("serving latency: training a default-sized model for one epoch and exporting it ...", flush=True)
    r = measure(args.calls, args.repeats)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serving_latency.json").write_text(json.dumps(r, indent=2) + "\n")
    md = to_markdown(r)
    (RESULTS / "serving_latency.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
