"""Peak memory of out-of-core training and scoring (issue 7) on generated CSVs of growing size.

For each size in `--sizes` (default 500,000 and 5,000,000 rows × 38 columns) it writes a CSV block by block, then
runs in a child process each and reads that child's peak RSS (ru_maxrss):

* `netgan train FILE --chunk-rows N --epochs 1 --stride S --calibration-rows M`: one pass for the scaler, one
  epoch that reads the whole file (the stride S = rows / `--train-windows` keeps the number of windows, i.e. the
  compute, the same for every size; memory does not depend on it), and calibration on M evenly spread rows;
* `netgan score RUN FILE --chunk-rows N`: every row of the file scored and written.

Memory should not grow with the file: the figure is the ratio of the largest to the smallest file's peak (issue
target: within 1.5×, and under 2 GB). `--inversion-steps` defaults to 0 (encoder start only) and `--hidden` to 32 so
that 5 million rows are scored in well under an hour here; inversion steps and LSTM width change the time, not
the per-segment memory, which is dominated by the segment (N rows) and TensorFlow itself. The same children are
timed, so rows/s are reported too (2 shared cores: indicative only).

    python -m benchmarks.memory [--sizes 500000,5000000] [--chunk-rows 20000] [--hidden 32] [--skip-train]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def write_counters(path: Path, rows: int, n_features: int = 38, seed: int = 0, block: int = 100_000) -> None:
    """A CSV of `rows` × `n_features` seasonal counters, written block by block (never whole in memory)."""
    rng = np.random.default_rng(seed)
    phases = rng.uniform(0, 2 * np.pi, n_features)
    for start in range(0, rows, block):
        t = np.arange(start, min(rows, start + block))[:, None]
        values = 1 + np.sin(2 * np.pi * t / 1440 + phases) + 0.05 * rng.standard_normal((len(t), n_features))
        frame = pd.DataFrame(values.astype(np.float32), columns=[f"m{i}" for i in range(n_features)])
        frame.to_csv(path, mode="w" if start == 0 else "a", header=start == 0, index=False, float_format="%.5f")


def peak_rss_mb(cmd: list[str]) -> tuple[float, float, int]:
    """Runs `cmd` in a child process; returns (peak RSS MB of that child, wall s, exit code)."""
    code = (
        "import resource, subprocess, sys, json; r = subprocess.run(sys.argv[1:]).returncode; "
        "print(json.dumps([resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r]))"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if out.returncode != 0 or not out.stdout.strip():
        sys.stderr.write(out.stderr[-2000:])
        return float("nan"), wall, out.returncode or 1
    kb, rc = json.loads(out.stdout.strip().splitlines()[-1])
    if rc:
        sys.stderr.write(out.stderr[-2000:])
    return kb / 1024.0, wall, int(rc)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="500000,5000000", help="comma-separated row counts")
    p.add_argument("--chunk-rows", type=int, default=20_000, help="--chunk-rows of train and score")
    p.add_argument("--train-windows", type=int, default=20_000, help="training windows per epoch (sets the stride)")
    p.add_argument("--calibration-rows", type=int, default=100_000)
    p.add_argument("--inversion-steps", type=int, default=0)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--skip-train", action="store_true", help="score only (a model trained on 5,000 rows)")
    p.add_argument("--name", default="memory")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="netgan-memory-"))
    netgan = str(Path(sys.executable).with_name("netgan"))
    common = ["--hidden", str(args.hidden), "--inversion-steps", str(args.inversion_steps), "--quiet"]
    record: dict[str, Any] = {**vars(args), "loadavg_start": list(os.getloadavg()), "runs": []}
    if args.skip_train:
        small = work / "train.csv"
        write_counters(small, 5_000, seed=1)
        subprocess.run([netgan, "train", str(small), "--out", str(work / "run"), "--epochs", "1", *common], check=True)
    for rows in sizes:
        data = work / f"data_{rows}.csv"
        t0 = time.perf_counter()
        write_counters(data, rows, seed=2)
        print(f"{rows:>10,} rows: wrote {data.stat().st_size / 2**20:,.0f} MB in {time.perf_counter() - t0:.0f} s")
        run = work / "run" if args.skip_train else work / f"run_{rows}"
        entry: dict[str, Any] = {"rows": rows, "file_mb": data.stat().st_size / 2**20}
        if not args.skip_train:
            stride = max(1, rows // args.train_windows)
            cmd = [netgan, "train", str(data), "--out", str(run), "--epochs", "1", "--stride", str(stride), *common]
            cmd += ["--chunk-rows", str(args.chunk_rows), "--calibration-rows", str(args.calibration_rows)]
            mb, wall, rc = peak_rss_mb(cmd)
            entry["train"] = {"peak_rss_mb": mb, "wall_s": wall, "exit_code": rc, "stride": stride}
            print(f"{rows:>10,} rows: train peak RSS {mb:,.0f} MB, {wall:.0f} s, exit {rc}", flush=True)
        cmd = [netgan, "score", str(run), str(data), "--out", str(work / f"scores_{rows}.csv"), *common[2:]]
        cmd += ["--chunk-rows", str(args.chunk_rows)]
        mb, wall, rc = peak_rss_mb(cmd)
        entry["score"] = {"peak_rss_mb": mb, "wall_s": wall, "exit_code": rc, "rows_per_s": rows / wall}
        print(f"{rows:>10,} rows: score peak RSS {mb:,.0f} MB, {wall:.0f} s ({rows / wall:,.0f} rows/s), exit {rc}")
        record["runs"].append(entry)
        data.unlink()
        (work / f"scores_{rows}.csv").unlink(missing_ok=True)
    record["loadavg_end"] = list(os.getloadavg())
    for job in ("train", "score"):
        peaks = [r[job]["peak_rss_mb"] for r in record["runs"] if job in r]
        if peaks:
            record[f"{job}_ratio_largest_to_smallest"] = peaks[-1] / peaks[0]
            record[f"{job}_max_peak_mb"] = max(peaks)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [
        "# Out-of-core training and scoring memory",
        "",
        f"Generated 38-column CSVs; `--chunk-rows {args.chunk_rows}`; model T=30, latent 15, hidden {args.hidden}; "
        f"inversion steps {args.inversion_steps}. Train: 1 epoch of about {args.train_windows:,} windows spread over "
        f"the whole file (stride = rows / {args.train_windows:,}), calibration on {args.calibration_rows:,} rows. "
        "Peak RSS (ru_maxrss) of each `netgan` process.",
        f"Load average start/end: {[round(v, 1) for v in record['loadavg_start']]} / "
        f"{[round(v, 1) for v in record['loadavg_end']]}.",
        "",
        "| rows | CSV MB | train peak RSS MB | train wall s | score peak RSS MB | score wall s | score rows/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in record["runs"]:
        tr = r.get("train", {})
        tr_cells = f"{tr['peak_rss_mb']:,.0f} | {tr['wall_s']:.0f}" if tr else "– | –"
        sc = r["score"]
        lines.append(
            f"| {r['rows']:,} | {r['file_mb']:,.0f} | {tr_cells} | {sc['peak_rss_mb']:,.0f} | {sc['wall_s']:.0f} | "
            f"{sc['rows_per_s']:,.0f} |"
        )
    lines.append("")
    for job in ("train", "score"):
        if f"{job}_ratio_largest_to_smallest" in record:
            lines.append(
                f"{job}: largest / smallest file peak ×{record[f'{job}_ratio_largest_to_smallest']:.2f} "
                f"(target ≤ 1.5); highest peak {record[f'{job}_max_peak_mb']:,.0f} MB (target < 2,048)."
            )
    lines.append("")
    (RESULTS / f"{args.name}.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return record


if __name__ == "__main__":
    main()
