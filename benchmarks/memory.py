"""Peak memory of out-of-core scoring (issue 7): `netgan score --chunk-rows` on generated CSVs of growing size.

Generates 38-column CSVs of `--sizes` rows (default 100,000 and 400,000), trains one default-sized detector for one
epoch on 5,000 rows, then runs `netgan score RUN FILE --chunk-rows N` for each file in a child process and reads its
peak RSS (ru_maxrss). Memory should not grow with the file: the ratio of the largest to the smallest file's peak is
the figure (issue target: within 1.5x). `--inversion-steps` defaults to 0 (encoder start only) so the run fits in
minutes here; the inversion steps change the time, not the memory per segment.

    python -m benchmarks.memory [--sizes 100000,400000] [--chunk-rows 10000] [--inversion-steps 0]
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
    kb, rc = json.loads(out.stdout.strip().splitlines()[-1])
    return kb / 1024.0, wall, int(rc)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100000,400000", help="comma-separated row counts")
    p.add_argument("--chunk-rows", type=int, default=10_000)
    p.add_argument("--inversion-steps", type=int, default=0)
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="netgan-memory-"))
    netgan = str(Path(sys.executable).with_name("netgan"))
    train = work / "train.csv"
    write_counters(train, 5_000, seed=1)
    run = work / "run"
    subprocess.run([netgan, "train", str(train), "--out", str(run), "--epochs", "1", "--quiet"], check=True)
    record: dict[str, Any] = {
        "chunk_rows": args.chunk_rows,
        "inversion_steps": args.inversion_steps,
        "loadavg_start": list(os.getloadavg()),
        "runs": [],
    }
    for rows in sizes:
        data = work / f"data_{rows}.csv"
        write_counters(data, rows, seed=2)
        cmd = [netgan, "score", str(run), str(data), "--out", str(work / f"scores_{rows}.csv"), "--quiet"]
        cmd += ["--chunk-rows", str(args.chunk_rows), "--inversion-steps", str(args.inversion_steps)]
        mb, wall, rc = peak_rss_mb(cmd)
        record["runs"].append({"rows": rows, "peak_rss_mb": mb, "wall_s": wall, "exit_code": rc})
        print(f"{rows:>10,} rows: peak RSS {mb:,.0f} MB, {wall:.0f} s, exit {rc}", flush=True)
        data.unlink()
    peaks = [r["peak_rss_mb"] for r in record["runs"]]
    record["ratio_largest_to_smallest"] = peaks[-1] / peaks[0]
    record["loadavg_end"] = list(os.getloadavg())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [
        "# Out-of-core scoring memory",
        "",
        f"`netgan score --chunk-rows {args.chunk_rows} --inversion-steps {args.inversion_steps}` on generated "
        "38-column CSVs; default-sized model (T=30, latent 15, hidden 100); peak RSS of the scoring process.",
        f"Load average start/end: {record['loadavg_start']} / {record['loadavg_end']}.",
        "",
        "| rows | peak RSS MB | wall s |",
        "|---|---|---|",
        *[f"| {r['rows']:,} | {r['peak_rss_mb']:,.0f} | {r['wall_s']:.0f} |" for r in record["runs"]],
        "",
        f"Largest / smallest peak: ×{record['ratio_largest_to_smallest']:.2f} (target ≤ 1.5).",
        "",
    ]
    (RESULTS / "memory.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return record


if __name__ == "__main__":
    main()
