"""Inversion grid (issue 5): quality and cost of latent inversion, init ∈ {random, zeros, encoder} × K steps.

One model per SMD machine is trained once (or loaded from the detection benchmark's run directories) and reused
for every (init, K). For each (init, K) the score normalisation and the q0.995 threshold are recalibrated from
TRAIN scores computed with that same inversion, exactly as `AnomalyDetector._calibrate` does, then the test rows
are scored: mean AUPRC and point-wise F1 at the train threshold over the machines, and scoring throughput
(windows/s, this process, after a warm-up call so tracing is not timed).

Label-free subsampling (K=200 over 23k windows ×2 per machine is hours on 2 shared cores): windows start every
`--stride` rows (default 90 = 3 × T) on train and on test. Each sampled window's 30 rows get that window's
per-step scores (with stride ≥ T every covered row is covered once, so this equals the `batch` aggregation on those
rows); metrics use the covered test rows only (a systematic third of the test rows at stride 90). The sampling uses
no labels. The default setting (encoder, K=10) is also scored at full stride 1 in the detection benchmark, so the
effect of the subsampling can be read off there.

Run: .venv/bin/python -m benchmarks.inversion_grid [--machines ...] [--quick] [--stride 60] [--ks 0,5,10,...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

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

NAME = "inversion_grid"
INITS = ("random", "zeros", "encoder")
KS = (0, 5, 10, 25, 50, 100, 200)
DEFAULT_MODEL_DIR = Path("/tmp/netgan-bench/models")


def sampled_starts(n_rows: int, window: int, stride: int) -> np.ndarray:
    return np.arange(0, n_rows - window + 1, stride, dtype=np.int64)


def window_fn(model: Any, inversion: Any) -> Any:
    """The traced scoring function of `score_series` for one inversion setting (traced once, reused)."""
    from netgan_tf.scoring.series import make_window_fn
    from netgan_tf.scoring.window_scores import ScoreNormalization

    return make_window_fn(model, ScoreNormalization.identity(model.n_features), inversion)


def run_sampled(
    model: Any, x: np.ndarray, starts: np.ndarray, fn: Any, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray, float]:
    """Residuals [w, T, n] and discriminator parts [w, T] of the windows at `starts`; seconds (warm-up excluded)."""
    import tensorflow as tf

    T = model.window
    windows = x[starts[:, None] + np.arange(T)[None, :]].astype(np.float32)  # [w, T, n]
    fn(tf.constant(windows[:8]))  # trace outside the timing
    res, dis = [], []
    t0 = time.perf_counter()
    for i in range(0, len(windows), batch_size):
        out = fn(tf.constant(windows[i : i + batch_size]))
        res.append(out["residual"].numpy())
        dis.append(out["discriminator_part"].numpy())
    return np.concatenate(res), np.concatenate(dis), time.perf_counter() - t0


def load_or_train(machine: str, train: Any, args: argparse.Namespace) -> Any:
    from netgan_tf.detector import AnomalyDetector

    run = Path(args.model_dir) / machine
    if args.wait and not args.quick:
        t0 = time.perf_counter()
        while not (run / "detector.json").is_file() and time.perf_counter() - t0 < args.wait:
            time.sleep(10)
    if not args.quick and (run / "detector.json").is_file():
        log(f"{machine}: reusing the model in {run}")
        return AnomalyDetector.load(run), "loaded"
    det = AnomalyDetector(epochs=args.epochs, verbose=0)
    log(f"{machine}: training a model (epochs={args.epochs or 'auto'}) on {len(train)} rows")
    t0 = time.perf_counter()
    det.fit(train)
    log(f"{machine}: trained in {time.perf_counter() - t0:.0f} s")
    if not args.quick:
        det.save(run)
    return det, "trained"


def run_machine(machine: str, args: argparse.Namespace, grid: list[tuple[str, int]]) -> dict[str, Any]:
    from netgan_tf import metrics
    from netgan_tf.datasets import load_smd
    from netgan_tf.scoring.window_scores import InversionSettings, combine_parts, fit_normalization
    from netgan_tf.thresholds import choose_threshold

    train, test = load_smd(machine)
    if args.quick:
        train, test = train.iloc[:3000], test.iloc[:3000]
    det, origin = load_or_train(machine, train, args)
    model = det.model
    T = model.window
    y_all = test.pop("label").to_numpy()
    x_tr = det.scaler.transform(train[det.features].to_numpy(np.float64))
    x_te = det.scaler.transform(test[det.features].to_numpy(np.float64))
    st_tr = sampled_starts(len(x_tr), T, args.stride)
    st_te = sampled_starts(len(x_te), T, args.stride)
    y = y_all[st_te[:, None] + np.arange(T)[None, :]].ravel()
    out: dict[str, Any] = {
        "model": origin,
        "train_windows": int(len(st_tr)),
        "test_windows": int(len(st_te)),
        "test_rows_covered": int(y.size),
        "anomaly_ratio_covered": float(y.mean()),
        "grid": {},
    }
    lr = det.options.inversion.learning_rate
    for init, k in grid:
        inv = InversionSettings(init, k, lr, det.options.inversion.seed)
        fn = window_fn(model, inv)
        res_tr, dis_tr, _ = run_sampled(model, x_tr, st_tr, fn)
        norm = fit_normalization(res_tr, dis_tr, det.options.weight)
        train_scores = np.asarray(combine_parts(res_tr, dis_tr, norm)["timestep_score"]).ravel()
        thr = choose_threshold(train_scores, "quantile", q=det.options.threshold_q).value
        res_te, dis_te, sec = run_sampled(model, x_te, st_te, fn)
        parts = combine_parts(res_te, dis_te, norm)
        scores = np.asarray(parts["timestep_score"]).ravel()
        m = metrics.evaluate(y, scores, thr)
        entry = {
            "auprc": float(m["auprc"]),
            "f1": float(m["f1"]),
            "precision": float(m["precision"]),
            "recall": float(m["recall"]),
            "alarm_rate": float(m["alarm_rate"]),
            "auroc": float(m["auroc"]),
            "oracle_best_f1": float(m["oracle_best_f1"]),
            "auprc_reconstruction_part": float(metrics.auprc(y, np.asarray(parts["reconstruction_score"]).ravel())),
            "windows_per_s": len(st_te) / sec,
            "inversion_mse_test_mean": float(res_te.mean()),
            "inversion_mse_train_mean": float(res_tr.mean()),
        }
        for lam in args.lambdas:
            # same inversion outputs, other weight λ: only the normalisation and the threshold change
            nl = fit_normalization(res_tr, dis_tr, lam)
            thr_l = choose_threshold(
                np.asarray(combine_parts(res_tr, dis_tr, nl)["timestep_score"]).ravel(),
                "quantile",
                q=det.options.threshold_q,
            ).value
            sc_l = np.asarray(combine_parts(res_te, dis_te, nl)["timestep_score"]).ravel()
            ml = metrics.evaluate(y, sc_l, thr_l)
            entry.setdefault("by_lambda", {})[f"{lam:g}"] = {
                "auprc": float(ml["auprc"]),
                "f1": float(ml["f1"]),
                "alarm_rate": float(ml["alarm_rate"]),
                "oracle_best_f1": float(ml["oracle_best_f1"]),
            }
        out["grid"][f"{init}/{k}"] = entry
        log(
            f"{machine} {init:>7} K={k:<3}: AUPRC {entry['auprc']:.3f} F1 {entry['f1']:.3f} "
            f"alarm {100 * entry['alarm_rate']:.1f}% mse {entry['inversion_mse_test_mean']:.4f} "
            f"{entry['windows_per_s']:.0f} windows/s"
        )
    return out


def summarise(per: dict[str, Any], grid: list[tuple[str, int]]) -> dict[str, Any]:
    mean: dict[str, Any] = {}
    for init, k in grid:
        key = f"{init}/{k}"
        vals = [per[m]["grid"][key] for m in per if key in per[m]["grid"]]
        if not vals:
            continue
        mean[key] = {
            f: float(np.mean([v[f] for v in vals]))
            for f in ("auprc", "f1", "alarm_rate", "auroc", "oracle_best_f1", "inversion_mse_test_mean")
        }
        mean[key]["windows_per_s_median"] = float(np.median([v["windows_per_s"] for v in vals]))
        mean[key]["machines"] = len(vals)
    target: dict[str, Any] = {}
    ref = mean.get("random/200")
    if ref:
        cands = {k: v for k, v in mean.items() if k.startswith("encoder/") and int(k.split("/")[1]) <= 10}
        target["random_k200_auprc"] = ref["auprc"]
        target["random_k200_windows_per_s"] = ref["windows_per_s_median"]
        target["candidates"] = {
            k: {
                "auprc": v["auprc"],
                "auprc_ok": v["auprc"] >= ref["auprc"],
                "speedup": v["windows_per_s_median"] / ref["windows_per_s_median"],
                "speedup_ok": v["windows_per_s_median"] / ref["windows_per_s_median"] >= 20,
            }
            for k, v in cands.items()
        }
        target["met"] = any(c["auprc_ok"] and c["speedup_ok"] for c in target["candidates"].values())
    return {"mean": mean, "target": target}


def plot(record: dict[str, Any], path: Path, dpi: int = 80) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no plot")
        return None
    mean = record["summary"]["mean"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), dpi=dpi)
    for metric, ax, label in ((("auprc"), axes[0], "mean AUPRC"), ("f1", axes[1], "mean F1 @ train q0.995")):
        for init, marker in zip(INITS, ("o", "s", "^"), strict=True):
            pts = sorted(
                ((int(k.split("/")[1]), v) for k, v in mean.items() if k.startswith(init + "/")), key=lambda p: p[0]
            )
            if not pts:
                continue
            xs = [v["windows_per_s_median"] for _, v in pts]
            ys = [v[metric] for _, v in pts]
            ax.plot(xs, ys, marker=marker, label=init)
            for (kk, _), xv, yv in zip(pts, xs, ys, strict=True):
                ax.annotate(f"K={kk}", (xv, yv), fontsize=6, xytext=(2, 2), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("windows/s scored (log; cost decreases →)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    n = len(record["machines"])
    fig.suptitle(
        f"Latent inversion: quality vs cost, SMD ({n} machine(s)), stride-{record['settings']['stride']} windows",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    log(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return path


def markdown(record: dict[str, Any]) -> str:
    s = record["settings"]
    mean = record["summary"]["mean"]
    lines = [
        f"# Inversion grid ({record.get('started', '')})",
        "",
        f"Command: `{record['command']}`  ",
        f"Machines: {', '.join(record['machines'])}; models: {s['models']}; windows every {s['stride']} rows on train "
        f"(calibration) and test (label-free systematic sample, {s['test_rows_covered']:,} test rows covered); "
        f"threshold/normalisation recalibrated from train scores per (init, K); inversion lr {s['lr']}.  ",
        f"Load average start/end: {record.get('loadavg_start')} / {record.get('loadavg_end')}; "
        "2 shared cores, one process.",
        "",
    ]
    rnd = mean.get("random/200")
    rows = []
    for init in INITS:
        for k in record["settings"]["ks"]:
            v = mean.get(f"{init}/{k}")
            if v is None:
                continue
            rows.append(
                [
                    init,
                    k,
                    fmt(v["auprc"]),
                    fmt(v["f1"]),
                    fmt(100 * v["alarm_rate"], 1),
                    fmt(v["auroc"]),
                    fmt(v["inversion_mse_test_mean"], 4),
                    fmt(v["windows_per_s_median"], 0),
                    ratio(v["windows_per_s_median"], rnd["windows_per_s_median"], 1) if rnd else "–",
                    ratio(v["auprc"], rnd["auprc"]) if rnd else "–",
                ]
            )
    lines.append(
        table(
            [
                "init",
                "K",
                "mean AUPRC",
                "mean F1 @q99.5",
                "alarm %",
                "mean AUROC",
                "test residual (scaled²)",
                "windows/s (median)",
                "speed ÷ random K=200",
                "AUPRC ÷ random K=200",
            ],
            rows,
        )
    )
    tgt = record["summary"].get("target")
    if tgt:
        lines += ["", "Target: encoder with K ≤ 10 reaches the AUPRC of random K=200 at ≥ 20× its throughput:", ""]
        for k, c in tgt["candidates"].items():
            lines.append(
                f"- {k}: AUPRC {c['auprc']:.3f} vs {tgt['random_k200_auprc']:.3f} "
                f"({'ok' if c['auprc_ok'] else 'miss'}), "
                f"speed ×{c['speedup']:.1f} ({'ok' if c['speedup_ok'] else 'miss'})"
            )
        lines.append(f"- **target {'met' if tgt['met'] else 'missed'}**")
    per = record["per_machine"]
    lam_rows = []
    for init in INITS:
        for k in record["settings"]["ks"]:
            key = f"{init}/{k}"
            vals = [record["per_machine"][m]["grid"].get(key, {}).get("by_lambda") for m in record["machines"]]
            if not vals or any(v is None for v in vals):
                continue
            for lam in vals[0]:
                lam_rows.append(
                    [
                        key,
                        lam,
                        fmt(np.mean([v[lam]["auprc"] for v in vals])),
                        fmt(np.mean([v[lam]["f1"] for v in vals])),
                        fmt(100 * np.mean([v[lam]["alarm_rate"] for v in vals]), 1),
                        fmt(np.mean([v[lam]["oracle_best_f1"] for v in vals])),
                    ]
                )
    if lam_rows:
        lines += [
            "",
            "Score weight λ (1 = reconstruction only, 0 = discriminator only), same inversion outputs, "
            "normalisation and threshold recalibrated on train per λ; means over the machines:",
            "",
            table(["init/K", "λ", "mean AUPRC", "mean F1 @q99.5", "alarm %", "mean oracle best-F1"], lam_rows),
        ]
    for src in record.get("merged_from", []):
        lines.insert(
            6,
            f"- merged from `{src['file']}`: `{src['command']}`, load average {src['loadavg_start']} → "
            f"{src['loadavg_end']}",
        )
    lines += ["", "Per machine AUPRC / F1:", ""]
    rows = []
    for init in INITS:
        for k in record["settings"]["ks"]:
            key = f"{init}/{k}"
            if key not in mean:
                continue
            rows.append(
                [key]
                + [
                    f"{fmt(per[m]['grid'][key]['auprc'])} / {fmt(per[m]['grid'][key]['f1'])}"
                    if key in per[m]["grid"]
                    else "–"
                    for m in record["machines"]
                ]
            )
    lines.append(table(["init/K", *record["machines"]], rows))
    if record.get("plot"):
        lines += [
            "",
            f"Plot: `{record['plot']}` (git-ignored; a copy for the README is `benchmarks/inversion_grid.png`).",
        ]
    return "\n".join(lines)


def merge(stems: list[str], copy_plot: bool) -> dict[str, Any]:
    """Combines grid results of runs split over processes (machines in parallel) into inversion_grid.json/md/png.
    Nothing is recomputed except the means and the plot."""
    import json

    t0 = time.perf_counter()
    records = [json.loads((RESULTS_DIR / f"{stem}.json").read_text(encoding="utf-8")) for stem in stems]
    merged: dict[str, Any] = {
        **start_record(NAME),
        "machine": records[0].get("machine"),
        "machines": [],
        "per_machine": {},
    }
    merged["merged_from"] = [
        {
            "file": f"{stem}.json",
            "command": r.get("command"),
            "loadavg_start": r.get("loadavg_start"),
            "loadavg_end": r.get("loadavg_end"),
        }
        for stem, r in zip(stems, records, strict=True)
    ]
    for r in records:
        for m in r["machines"]:
            if m not in merged["per_machine"]:
                merged["machines"].append(m)
                merged["per_machine"][m] = r["per_machine"][m]
    settings = dict(records[0]["settings"])
    settings["models"] = "; ".join(r["settings"]["models"] for r in records)
    settings["test_rows_covered"] = int(sum(v["test_rows_covered"] for v in merged["per_machine"].values()))
    merged["settings"] = settings
    grid = [(i, k) for i in settings["inits"] for k in settings["ks"]]
    merged["summary"] = summarise(merged["per_machine"], grid)
    png = plot(merged, RESULTS_DIR / f"{NAME}.png")
    if png is not None:
        merged["plot"] = str(png.relative_to(RESULTS_DIR.parent.parent))
        if copy_plot:
            plot(merged, RESULTS_DIR.parent / "inversion_grid.png", dpi=60)
    finish_record(merged, t0)
    merged["command"] = f"{merged['command']} (merge of: " + "; ".join(str(r.get("command")) for r in records) + ")"
    md = markdown(merged)
    write_results(NAME, merged, md)
    print(md)
    return merged


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    from netgan_tf.datasets import SMD_MACHINES

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--machines", default=",".join(SMD_MACHINES))
    p.add_argument("--quick", action="store_true", help="smoke test: 1 machine, 1 epoch, 3,000-row slices, K ≤ 10")
    p.add_argument("--stride", type=int, default=90, help="rows between sampled windows (train and test)")
    p.add_argument("--ks", default=",".join(map(str, KS)), help="comma-separated inversion steps")
    p.add_argument("--inits", default=",".join(INITS))
    p.add_argument("--epochs", type=int, default=None, help="epochs when a model must be trained (default: auto)")
    p.add_argument("--model-dir", default=str(DEFAULT_MODEL_DIR), help="run directories of the detection benchmark")
    p.add_argument(
        "--wait",
        type=float,
        default=0,
        help="wait up to this many seconds for each machine's model from a detection run started in parallel",
    )
    p.add_argument("--copy-plot", action="store_true", help="also write benchmarks/inversion_grid.png (committed)")
    p.add_argument("--name", default=NAME, help="results file stem")
    p.add_argument(
        "--lambdas",
        default="",
        help="also evaluate these score weights λ (comma-separated) on the same inversion outputs",
    )
    p.add_argument("--merge", default="", help="comma-separated result stems to merge into inversion_grid (no scoring)")
    args = p.parse_args(argv)
    if args.merge:
        return merge([m for m in args.merge.split(",") if m], args.copy_plot)
    if args.quick:
        args.epochs = args.epochs or 1
        if args.machines == ",".join(SMD_MACHINES):
            args.machines = SMD_MACHINES[0]
        if args.ks == ",".join(map(str, KS)):
            args.ks = "0,10"
    args.lambdas = [float(v) for v in args.lambdas.split(",") if v.strip()]
    ks = [int(k) for k in args.ks.split(",") if k.strip()]
    inits = [i.strip() for i in args.inits.split(",") if i.strip()]
    grid = [(i, k) for i in inits for k in ks]
    machines = [m.strip() for m in args.machines.split(",") if m.strip()]
    t0 = time.perf_counter()
    record = start_record(NAME, argv)
    record["machine"] = machine_info()
    if data_root_or_none() is None:
        return None
    record["machines"] = []
    record["per_machine"] = {}
    name = args.name + ("-quick" if args.quick else "")
    for m in machines:
        res = run_machine(m, args, grid)
        record["machines"].append(m)
        record["per_machine"][m] = res
        record["settings"] = {
            "stride": args.stride,
            "ks": ks,
            "inits": inits,
            "lr": 0.05,
            "models": ", ".join(f"{mm}: {record['per_machine'][mm]['model']}" for mm in record["machines"])
            + f" (epochs {args.epochs or 'auto'})",
            "test_rows_covered": int(sum(r["test_rows_covered"] for r in record["per_machine"].values())),
            "quick": args.quick,
        }
        record["summary"] = summarise(record["per_machine"], grid)
        finish_record(record, t0)
        write_results(name, record, markdown(record))
    png = plot(record, RESULTS_DIR / f"{name}.png")
    if png is not None:
        record["plot"] = str(png.relative_to(RESULTS_DIR.parent.parent))
        if args.copy_plot and not args.quick:
            small = plot(record, RESULTS_DIR.parent / "inversion_grid.png", dpi=60)
            if small is not None and small.stat().st_size > 150_000:
                log("warning: the README plot is over 150 KB")
    finish_record(record, t0)
    md = markdown(record)
    write_results(name, record, md)
    print(md)
    return record


if __name__ == "__main__":
    main()
