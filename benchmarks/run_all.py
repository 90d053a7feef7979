"""`make bench`: runs the detection benchmark, the inversion grid, the throughput benchmark, the SavedModel serving
latency, the out-of-core scoring memory and the 1-vs-2-replica benchmarks, in that order, and prints their tables.
Order matters: detection trains one model per SMD machine (machine-1-4 through the `netgan train` CLI, which is the
issue-2 timing) and saves them; the grid reuses those models and throughput reuses that CLI timing instead of
training again.

Run: .venv/bin/python -m benchmarks.run_all [--quick] [--machines a,b]
     [--only detection,inversion_grid,throughput,serving_latency,memory,replicas]
"""

from __future__ import annotations

import argparse
import time

from benchmarks import RESULTS_DIR, log


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke-test sizes for every benchmark (not results)")
    p.add_argument("--machines", default=None, help="comma-separated SMD machines (default: all 4)")
    p.add_argument(
        "--only",
        default="detection,inversion_grid,throughput,serving_latency,memory,replicas",
        help="which benchmarks to run",
    )
    p.add_argument("--skip-skab", action="store_true", help="detection: SMD only")
    args = p.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    common = (["--quick"] if args.quick else []) + (["--machines", args.machines] if args.machines else [])
    t0 = time.perf_counter()
    tables: list[str] = []
    if "detection" in only:
        from benchmarks import detection

        log("=== detection (issue 3) ===")
        rec = detection.main([*common, *(["--skip-skab"] if args.skip_skab else [])])
        if rec is not None:
            tables.append(detection.markdown(rec))
    if "inversion_grid" in only:
        from benchmarks import inversion_grid

        log("=== inversion grid (issue 5) ===")
        rec = inversion_grid.main([*common, *([] if args.quick else ["--copy-plot"])])
        if rec is not None:
            tables.append(inversion_grid.markdown(rec))
    if "throughput" in only:
        from benchmarks import throughput

        log("=== throughput (issue 2) ===")
        rec = throughput.main([*(["--quick"] if args.quick else []), "--reuse-detection"])
        if rec is not None:
            tables.append(throughput.markdown(rec))
    if "serving_latency" in only:
        from benchmarks import serving_latency

        log("=== SavedModel serving latency (issue 4) ===")
        serving_latency.main(["--calls", "20", "--repeats", "2"] if args.quick else [])
    if "memory" in only:
        from benchmarks import memory

        log("=== out-of-core scoring memory (issue 7) ===")
        quick = ["--sizes", "20000,60000", "--chunk-rows", "10000", "--train-windows", "2000", "--name", "memory-quick"]
        memory.main(quick if args.quick else [])
    if "replicas" in only:
        from benchmarks import replicas

        log("=== 1 vs 2 replicas (issue 7) ===")
        replicas.main(["--epochs", "1", "--windows", "1024"] if args.quick else [])
    log(f"all benchmarks done in {time.perf_counter() - t0:.0f} s; results in {RESULTS_DIR}")
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
