"""Training and scoring throughput (issue 2).

* `netgan_tf.bench.run_throughput`: training windows/s (median over the timed epochs; the first, tracing, epoch
  is excluded) for T=30, 38 features, latent 15, hidden 100, batch 64 on synthetic windows, and scoring windows/s
  with K=10 inversion; with use_encoder True (the default) and False, in the same run.
* The wall time of a default `netgan train <machine-1-4 train csv.gz> --out <tmp> --quiet` (subprocess). When the
  detection benchmark of the same `make bench` already timed exactly that command (it trains machine-1-4 through
  the CLI), that figure is reused with `--reuse-detection` instead of training a second time; otherwise it is run.

Targets (2 shared cores): ≥ 1,500 training windows/s; `netgan train` on one SMD machine < 5 minutes.

Run: .venv/bin/python -m benchmarks.throughput [--quick] [--epochs 5] [--windows 4096] [--reuse-detection]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import (
    RESULTS_DIR,
    data_root_or_none,
    finish_record,
    fmt,
    log,
    machine_info,
    ratio,
    start_record,
    table,
    write_results,
)

NAME = "throughput"
TARGET_WPS = 1500
TARGET_TRAIN_S = 300


def markdown(record: dict[str, Any]) -> str:
    lines = [
        f"# Throughput ({record.get('started', '')})",
        "",
        f"Command: `{record['command']}`  ",
        f"Load average start/end: {record.get('loadavg_start')} / {record.get('loadavg_end')} on "
        f"{record['machine']['cpus']} shared cores (other jobs were running: read ratios, not absolutes).",
        "",
    ]
    rows = []
    base = record["runs"].get("use_encoder=True")
    for key, r in record["runs"].items():
        rows.append(
            [
                key,
                r["config"]["unroll"],
                fmt(r["train_windows_per_s_median"], 0),
                ", ".join(fmt(v, 0) for v in r["train_windows_per_s_all"]),
                ratio(r["train_windows_per_s_median"], base["train_windows_per_s_median"]) if base else "–",
                fmt(r.get("score_windows_per_s_encoder_k10"), 0),
                fmt(r.get("score_windows_per_s_random_k10"), 0),
                f"≥ {TARGET_WPS}: {'meets' if r['train_windows_per_s_median'] >= TARGET_WPS else 'MISSES'}",
            ]
        )
    lines.append(
        table(
            [
                "model",
                "unrolled LSTMs",
                "train windows/s (median)",
                "per epoch",
                "÷ default",
                "score windows/s, encoder K=10",
                "score windows/s, random K=10",
                "target",
            ],
            rows,
        )
    )
    c = record["config"]
    lines += [
        "",
        f"Synthetic windows: {c['windows']} per epoch, {c['epochs']} timed epochs (+1 untimed), T=30, 38 features, "
        "latent 15, hidden 100, batch 64.",
    ]
    cli = record.get("cli_train")
    if cli:
        verdict = "meets" if cli["wall_s"] < TARGET_TRAIN_S else "MISSES"
        lines += [
            "",
            f"`{cli['command']}`: **{cli['wall_s']:.0f} s** wall"
            + (f", {cli['cpu_s']:.0f} s CPU" if "cpu_s" in cli else "")
            + f" ({cli['source']}; target < {TARGET_TRAIN_S} s: {verdict}). "
            f"{cli.get('stdout', '')}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke test: 1 timed epoch of 512 windows, no CLI training")
    p.add_argument("--epochs", type=int, default=4, help="timed epochs per configuration")
    p.add_argument("--windows", type=int, default=4096, help="synthetic windows per epoch")
    p.add_argument("--machines", default="machine-1-4", help="SMD machine for the `netgan train` timing")
    p.add_argument("--skip-cli", action="store_true", help="do not time `netgan train`")
    p.add_argument(
        "--reuse-detection",
        action="store_true",
        help="take the `netgan train` time from benchmarks/results/detection.json when it holds one",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.windows, args.skip_cli = 1, 512, True
    from netgan_tf.bench import run_throughput

    t0 = time.perf_counter()
    record = start_record(NAME, argv)
    record["machine"] = machine_info()
    record["config"] = {"epochs": args.epochs, "windows": args.windows}
    record["runs"] = {}
    for use_encoder in (True, False):
        log(f"run_throughput(use_encoder={use_encoder}, epochs={args.epochs}, windows={args.windows})")
        r = run_throughput(epochs=args.epochs, windows=args.windows, use_encoder=use_encoder)
        r.pop("machine", None)
        record["runs"][f"use_encoder={use_encoder}"] = r
        log(
            f"  train {r['train_windows_per_s_median']:.0f} windows/s "
            f"(epochs: {', '.join(f'{v:.0f}' for v in r['train_windows_per_s_all'])})"
        )
    machine = args.machines.split(",")[0]
    if not args.skip_cli and data_root_or_none() is not None:
        det_json = RESULTS_DIR / "detection.json"
        reused = None
        if args.reuse_detection and det_json.is_file():
            det = json.loads(det_json.read_text(encoding="utf-8"))
            ct = det.get("smd", {}).get("machines", {}).get(machine, {}).get("cli_train")
            if ct and not det.get("args", {}).get("epochs"):
                reused = {**ct, "source": f"timed by the detection benchmark, {det.get('started')}"}
        if reused is None:
            from benchmarks.detection import cli_train_time

            with tempfile.TemporaryDirectory(prefix="netgan-bench-train-") as tmp:
                reused = {**cli_train_time(machine, Path(tmp) / machine, None), "source": "timed in this run"}
        record["cli_train"] = reused
    finish_record(record, t0)
    md = markdown(record)
    write_results(NAME + ("-quick" if args.quick else ""), record, md)
    print(md)
    return record


if __name__ == "__main__":
    main()
