"""Training windows/s with 1 vs 2 replicas (issue 7): MirroredStrategy over 2 logical CPU devices vs one device.

Each configuration runs in its own process (logical devices must be set before TensorFlow starts), default-sized
model (T=30, 38 features, latent 15, hidden 100, encoder on), global batch 64, median windows/s over the timed
epochs (the first, tracing, epoch excluded). On a 2-core machine two replicas share the same two cores, so this
measures the overhead of the replicated step rather than a speed-up; on several GPUs the same code path scales.

    python -m benchmarks.replicas [--epochs 3] [--windows 4096]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

CHILD = r"""
import json, statistics, sys, time
import numpy as np, tensorflow as tf, keras
replicas, epochs, windows = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from netgan_tf.training.trainer import TrainSettings, build_model
strategy = (tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if replicas == 2 else tf.distribute.get_strategy())
rng = np.random.default_rng(0)
x = rng.uniform(-0.9, 0.9, (windows, 30, 38)).astype("float32")
model = build_model(38, TrainSettings(window=30, unroll=True), strategy=strategy)
ds = tf.data.Dataset.from_tensor_slices(x).batch(64, drop_remainder=True).prefetch(2)
times = []
class T(keras.callbacks.Callback):
    def on_epoch_begin(self, e, logs=None): self.t = time.perf_counter()
    def on_epoch_end(self, e, logs=None): times.append(time.perf_counter() - self.t)
model.fit(ds, epochs=epochs + 1, verbose=0, callbacks=[T()])
n = (windows // 64) * 64
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "rates": [n / s for s in times[1:]]}))
"""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--windows", type=int, default=4096)
    args = p.parse_args(argv)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
    record: dict[str, Any] = {"loadavg_start": list(os.getloadavg()), "runs": []}
    for replicas in (1, 2):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(replicas), str(args.epochs), str(args.windows)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        run = json.loads(out.stdout.strip().splitlines()[-1])
        rates = sorted(run["rates"])
        run["median_windows_per_s"] = rates[len(rates) // 2]
        record["runs"].append(run)
        print(f"{run['replicas']} replica(s): {run['median_windows_per_s']:.0f} windows/s", flush=True)
    record["ratio_2_to_1"] = record["runs"][1]["median_windows_per_s"] / record["runs"][0]["median_windows_per_s"]
    record["loadavg_end"] = list(os.getloadavg())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "replicas.json").write_text(json.dumps(record, indent=2) + "\n")
    md = "\n".join(
        [
            "# Training throughput, 1 vs 2 replicas",
            "",
            "MirroredStrategy over 2 logical CPU devices vs the default strategy; default-sized model with the "
            "encoder, global batch 64; both share this machine's 2 cores.",
            f"Load average start/end: {record['loadavg_start']} / {record['loadavg_end']}.",
            "",
            "| replicas | windows/s (median) |",
            "|---|---|",
            *[f"| {r['replicas']} | {r['median_windows_per_s']:.0f} |" for r in record["runs"]],
            "",
            f"2 / 1 replicas: ×{record['ratio_2_to_1']:.2f}.",
            "",
        ]
    )
    (RESULTS / "replicas.md").write_text(md)
    print(md)
    return record


if __name__ == "__main__":
    main()
