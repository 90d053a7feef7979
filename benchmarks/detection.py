"""Detection quality of the default AnomalyDetector on the SMD development machines and on SKAB (issue 3).

Protocol (../shared/data/README.md, ../shared/data/smd/README.md, ../shared/benchmarks/peers-dev.md):

* SMD: one model per machine, fitted on the train file only; threshold = the detector's own default (q0.995 of its
  train row scores); point-wise P/R/F1 on test (headline), AUPRC, AUROC, the oracle best-F1 (uses test labels, an
  upper bound) and PA-F1 (inflated); mean over the machines, equal weight.
* Baselines PCA-SPE and IsolationForest (benchmarks/baselines.py) are computed in the same run; every Net-GAN figure
  has the ratio Net-GAN / PCA-SPE beside it.
* SKAB: per file the first 400 rows train (no labels used, as the protocol says: other/2's train part holds
  anomalies and is used as it is), the rest test; flags pooled over the 34 files for F1 / FAR / MAR.
  Window: chosen per file, label-free, from the train rows' autocorrelation (see `skab_window`); epochs: the
  library's automatic rule unless --skab-epochs is given.
* Cost: fit s, score s and scored windows/s per machine, and the wall time of `netgan score` (CLI, subprocess) on a
  25,000-row SMD test file (machine-1-4's test rows, wrapped round to 25,000, written to a temporary folder).

Run: .venv/bin/python -m benchmarks.detection [--machines machine-1-4,...] [--quick] [--epochs E] [--skip-skab]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import (
    PEERS_NOTE,
    REPO_ROOT,
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
from benchmarks.baselines import run_all as run_baselines

NAME = "detection"
DEFAULT_MODEL_DIR = Path(tempfile.gettempdir()) / "netgan-bench" / "models"
SMD_KEYS = ("f1", "precision", "recall", "alarm_rate", "oracle_best_f1", "auprc", "auroc", "pa_f1_inflated")
QUICK_ROWS = 4000
# SKAB: 34 models on 2 shared cores; 20 passes over the ~390 train windows of a file (label-free compute budget;
# the auto rule would run 60 epochs, 3x the cost).
SKAB_EPOCHS = 20


def _metrics(y: np.ndarray, scores: np.ndarray, threshold: float, flags: np.ndarray | None = None) -> dict[str, Any]:
    from netgan_tf import metrics

    m = metrics.evaluate(y, scores, threshold, flags=flags)
    return {k: float(v) for k, v in m.items()}


def _slice_rows(train: Any, test: Any, rows: int | None) -> tuple[Any, Any]:
    if rows is None:
        return train, test
    # --quick only: the first `rows` train rows and the test rows [0, rows) (smoke test, not a result)
    return train.iloc[:rows].reset_index(drop=True), test.iloc[:rows].reset_index(drop=True)


def run_smd_machine(machine: str, args: argparse.Namespace) -> dict[str, Any]:
    from netgan_tf.datasets import load_smd
    from netgan_tf.detector import AnomalyDetector

    train, test = load_smd(machine)
    train, test = _slice_rows(train, test, QUICK_ROWS if args.quick else None)
    y = test["label"].to_numpy()
    model_dir = Path(args.model_dir) / machine
    cli_train = None
    if machine == args.cli_train_machine and not args.quick:
        cli_train = cli_train_time(machine, model_dir, args.epochs)
        fit_s = cli_train["wall_s"]
        det = AnomalyDetector.load(model_dir)
    elif args.reuse_models and (model_dir / "detector.json").is_file() and not args.quick:
        # The saved model, recalibrated (normalisation + threshold from train scores) with today's scoring defaults.
        det = AnomalyDetector.load(model_dir)
        defaults = AnomalyDetector()
        det.options.weight, det.options.inversion = defaults.options.weight, defaults.options.inversion
        log(f"{machine}: reusing {model_dir}; recalibrating with λ={det.options.weight}, {det.options.inversion}")
        det._calibrate(det.scaler.transform(train[det.features].to_numpy(np.float32)), None)
        fit_s = float("nan")
    else:
        det = AnomalyDetector(epochs=args.epochs, verbose=0)
        log(f"{machine}: fitting Net-GAN on {len(train)} train rows (epochs={args.epochs or 'auto'})")
        t0 = time.perf_counter()
        det.fit(train)
        fit_s = time.perf_counter() - t0
    log(f"{machine}: fitted in {fit_s:.0f} s ({det.info.get('epochs_completed')} epochs); scoring {len(test)} rows")
    t1 = time.perf_counter()
    scores = det.score(test, label_column="label")
    score_s = time.perf_counter() - t1
    n_windows = len(test) - det.settings.window + 1
    res: dict[str, Any] = {
        "rows_train": len(train),
        "rows_test": len(test),
        "anomaly_ratio": float(y.mean()),
        "netgan": {
            **_metrics(y, scores["score"].to_numpy(), det.thresholds["batch"].value, scores["is_anomaly"].to_numpy()),
            "fit_s": fit_s,
            "score_s": score_s,
            "score_windows_per_s": n_windows / score_s,
            "epochs": det.info.get("epochs_completed"),
            "train_score_q": [float(v) for v in np.quantile(det.train_scores["batch"], [0.5, 0.99, 0.995, 1.0])],
            "test_score_q": [float(v) for v in np.quantile(scores["score"].to_numpy(), [0.5, 0.99, 0.995, 1.0])],
        },
    }
    # streaming aggregation with its own train threshold (same model, no extra inversion)
    stream = det.score(test, label_column="label", mode="streaming") if args.streaming else None
    if stream is not None:
        res["netgan_streaming"] = _metrics(
            y, stream["score"].to_numpy(), det.thresholds["streaming"].value, stream["is_anomaly"].to_numpy()
        )
    # the two parts separately (threshold-free: AUPRC / AUROC of each standardised part)
    from netgan_tf.metrics import auprc, auroc

    for part in ("reconstruction_score", "discriminator_score"):
        res["netgan"][f"auprc_{part}"] = float(auprc(y, scores[part].to_numpy()))
        res["netgan"][f"auroc_{part}"] = float(auroc(y, scores[part].to_numpy()))
    if cli_train is not None:
        res["cli_train"] = cli_train
        res["model_dir"] = str(model_dir)
    elif not args.quick:
        det.save(model_dir)
        res["model_dir"] = str(model_dir)
    feats = [c for c in test.columns if c != "label"]
    for name, b in run_baselines(train.to_numpy(np.float32), test[feats].to_numpy(np.float32)).items():
        res[name] = {
            **_metrics(y, b.test_scores, b.threshold),
            "fit_s": b.fit_s,
            "score_s": b.score_s,
        }
    n = res["netgan"]
    log(
        f"{machine}: Net-GAN F1 {n['f1']:.3f} AUPRC {n['auprc']:.3f} alarm {100 * n['alarm_rate']:.1f}% | "
        f"PCA-SPE F1 {res['PCA-SPE']['f1']:.3f} AUPRC {res['PCA-SPE']['auprc']:.3f} | "
        f"IForest F1 {res['IsolationForest']['f1']:.3f} AUPRC {res['IsolationForest']['auprc']:.3f}"
    )
    return res


def _child_cpu_s() -> float:
    """User + system CPU seconds of finished child processes (load-independent cost of a subprocess)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def cli_train_time(machine: str, model_dir: Path, epochs: int | None) -> dict[str, Any]:
    """Wall time of a default `netgan train` (subprocess) on the machine's train file, read in place."""
    from netgan_tf.datasets.smd import smd_paths

    src = smd_paths(machine)["train"]
    exe = Path(sys.executable).with_name("netgan")
    cmd = [str(exe), "train", str(src), "--out", str(model_dir), "--quiet", "--overwrite"]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    log(
        f"{machine}: timing `netgan train {src.name} --out <model dir> --quiet`"
        + (f" --epochs {epochs}" if epochs else "")
    )
    cpu0 = _child_cpu_s()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    wall = time.perf_counter() - t0
    cpu = _child_cpu_s() - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"netgan train failed ({proc.returncode}): {proc.stderr[-2000:]}")
    log(f"{machine}: netgan train took {wall:.0f} s: {proc.stdout.strip()[-300:]}")
    return {
        "command": f"netgan train {src} --out <tmp run dir> --quiet" + (f" --epochs {epochs}" if epochs else ""),
        "machine": machine,
        "wall_s": wall,
        "cpu_s": cpu,
        "stdout": proc.stdout.strip()[-500:],
        "target_s": 300,
    }


def cli_score_time(model_dir: Path, machine: str, rows: int = 25_000) -> dict[str, Any]:
    """Wall time of `netgan score` (subprocess) on a `rows`-row file built from the machine's test rows."""
    from netgan_tf.datasets import load_smd

    _, test = load_smd(machine)
    feats = test.drop(columns=["label"])
    idx = np.arange(rows) % len(feats)
    with tempfile.TemporaryDirectory(prefix="netgan-bench-") as tmp:
        src = Path(tmp) / f"{machine}-test-{rows}.csv"
        feats.iloc[idx].to_csv(src, index=False)
        exe = Path(sys.executable).with_name("netgan")
        cmd = [str(exe), "score", str(model_dir), str(src), "--out", str(Path(tmp) / "scores.csv"), "--quiet"]
        log(f"timing: {' '.join(cmd[:2])} <{machine} run> <{rows}-row csv> --out <tmp> --quiet")
        cpu0 = _child_cpu_s()
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
        wall = time.perf_counter() - t0
        cpu = _child_cpu_s() - cpu0
    if proc.returncode != 0:
        log(f"netgan score failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return {
        "command": "netgan score <run_dir> <25,000-row csv> --out <tmp>/scores.csv --quiet",
        "machine": machine,
        "rows": rows,
        "wall_s": wall,
        "cpu_s": cpu,
        "returncode": proc.returncode,
        "target_s": 180,
    }


# ----------------------------------------------------------------------------------------------- SKAB
def skab_window(values: np.ndarray, lo: int = 10, hi: int = 30) -> tuple[int, float]:
    """Label-free window rule: the median over non-constant features of the first lag where the train rows'
    autocorrelation drops below 1/e (their decorrelation time), clipped to [lo, hi]."""
    lags = []
    for col in np.asarray(values, np.float64).T:
        c = col - col.mean()
        denom = float(np.dot(c, c))
        if denom <= 1e-12:
            continue
        acf = np.correlate(c, c, "full")[len(c) - 1 :] / denom
        below = np.flatnonzero(acf < math.exp(-1))
        lags.append(int(below[0]) if below.size else len(c))
    raw = float(np.median(lags)) if lags else float(lo)
    return int(min(hi, max(lo, round(raw)))), raw


def _defaults_text() -> str:
    from netgan_tf.detector import AnomalyDetector

    d = AnomalyDetector()
    inv = d.options.inversion
    return (
        f"all other AnomalyDetector defaults (hidden {d.settings.hidden}, latent {d.settings.latent_dim}, "
        f"{inv.init} init, K={inv.steps}, λ={d.options.weight})"
    )


def run_skab(args: argparse.Namespace, on_file: Any = None) -> dict[str, Any]:
    from netgan_tf.datasets import load_skab
    from netgan_tf.detector import AnomalyDetector
    from netgan_tf.metrics import auprc, oracle_best_f1

    files = load_skab()
    if args.skab_files:
        files = files[: args.skab_files]
    pooled: dict[str, dict[str, list[np.ndarray]]] = {}
    per_file: list[dict[str, Any]] = []
    t_all = time.perf_counter()
    for i, f in enumerate(files):
        xtr = f.train[f.feature_names].to_numpy(np.float32)
        xte = f.test[f.feature_names].to_numpy(np.float32)
        y = f.test[f.label_column].to_numpy()
        window, raw = skab_window(xtr)
        det = AnomalyDetector(window=window, epochs=args.skab_epochs or None, verbose=0)
        t0 = time.perf_counter()
        det.fit(f.train, time_column=f.time_column)
        fit_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        sc = det.score(f.test, label_column=f.label_column)
        score_s = time.perf_counter() - t1
        entry: dict[str, Any] = {
            "file": f.name,
            "window": window,
            "acf_lag_median": raw,
            "epochs": det.info.get("epochs_completed"),
            "fit_s": fit_s,
            "score_s": score_s,
        }
        results = {"Net-GAN": (sc["score"].to_numpy(), sc["is_anomaly"].to_numpy())}
        for name, b in run_baselines(xtr, xte).items():
            results[name] = (b.test_scores, (b.test_scores >= b.threshold).astype(np.int8))
        for name, (s, flags) in results.items():
            pooled.setdefault(name, {"y": [], "flags": []})
            pooled[name]["y"].append(y)
            pooled[name]["flags"].append(flags)
            has_both = 0 < y.sum() < len(y)
            entry[name] = {
                "auprc": float(auprc(y, s)) if has_both else float("nan"),
                "oracle_best_f1": float(oracle_best_f1(y, s)[0]) if has_both else float("nan"),
                "alarm_rate": float(flags.mean()),
            }
        per_file.append(entry)
        if on_file is not None:
            on_file(_skab_summary(args, files, pooled, per_file, t_all))
        log(
            f"SKAB {i + 1}/{len(files)} {f.name}: T={window} (acf {raw:.0f}), {entry['epochs']} epochs, fit "
            f"{fit_s:.0f} s; AUPRC Net-GAN {entry['Net-GAN']['auprc']:.3f} PCA {entry['PCA-SPE']['auprc']:.3f}"
        )
    return _skab_summary(args, files, pooled, per_file, t_all)


def _skab_summary(
    args: argparse.Namespace, files: list[Any], pooled: dict[str, Any], per_file: list[Any], t_all: float
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, d in pooled.items():
        y = np.concatenate(d["y"])
        flags = np.concatenate(d["flags"])
        tp = int(((flags == 1) & (y == 1)).sum())
        fp = int(((flags == 1) & (y == 0)).sum())
        fn = int(((flags == 0) & (y == 1)).sum())
        tn = int(((flags == 0) & (y == 0)).sum())
        summary[name] = {
            "f1": tp / (tp + (fp + fn) / 2) if tp + fp + fn else 0.0,
            "far_pct": 100.0 * fp / (fp + tn) if fp + tn else 0.0,
            "mar_pct": 100.0 * fn / (fn + tp) if fn + tp else 0.0,
            "alarm_pct": 100.0 * flags.mean(),
            "mean_file_auprc": float(np.nanmean([e[name]["auprc"] for e in per_file])),
            "mean_file_oracle_f1": float(np.nanmean([e[name]["oracle_best_f1"] for e in per_file])),
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
        }
    summary["Net-GAN"]["fit_s_total"] = float(sum(e["fit_s"] for e in per_file))
    summary["Net-GAN"]["score_s_total"] = float(sum(e["score_s"] for e in per_file))
    return {
        "files": len(per_file),
        "files_total": len(files),
        "test_points": int(sum(len(e) for e in pooled["Net-GAN"]["y"])),
        "wall_s": time.perf_counter() - t_all,
        "settings": {
            "window_rule": "median decorrelation lag (ACF < 1/e) of the train rows, clipped to [10, 30]",
            "epochs": args.skab_epochs or "auto (library rule: ~120,000 windows, 4..60 epochs)",
            "window_epochs_note": "label-free; chosen for the compute budget, not tuned on test labels",
            "threshold": "detector default: q0.995 of its train row scores",
            "other": _defaults_text(),
        },
        "summary": summary,
        "per_file": per_file,
    }


# ----------------------------------------------------------------------------------------------- report
def _peers_excerpt() -> str:
    path = REPO_ROOT.parent / "shared" / "benchmarks" / "peers-dev.md"
    if not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8").splitlines()
    out, on = [], False
    for line in text:
        if line.startswith("## Development SMD"):
            on = True
        elif on and line.startswith("Per machine"):
            break
        if on:
            out.append(line)
    return "\n".join(out).strip()


def markdown(record: dict[str, Any]) -> str:
    parts = [f"# Detection benchmark ({record.get('started', '')})", ""]
    parts.append(f"Command: `{record['command']}`  ")
    parts.append(f"Settings: {record['settings_note']}  ")
    parts.append(
        f"Load average start/end: {record.get('loadavg_start')} / {record.get('loadavg_end')}; 2 shared cores."
    )
    for src in record.get("merged_from", []):
        parts.append(
            f"- merged from `{src['file']}`: `{src['command']}`, started {src['started']}, load average "
            f"{src['loadavg_start']} → {src['loadavg_end']}"
        )
    smd = record.get("smd", {})
    machines = [m for m in smd.get("machines", {})]
    if machines:
        per = smd["machines"]
        parts += ["", f"## SMD, mean over {len(machines)} machine(s): {', '.join(machines)}", ""]
        methods = ["netgan", "PCA-SPE", "IsolationForest"]
        labels = {
            "netgan": "Net-GAN (defaults)",
            "PCA-SPE": "PCA-SPE (min-max, 95%)",
            "IsolationForest": "IsolationForest",
        }
        mean = smd["mean"]
        rows = []
        for meth in methods:
            m = mean[meth]
            p = mean["PCA-SPE"]
            rows.append(
                [
                    labels[meth],
                    f"{fmt(m['f1'])} ({ratio(m['f1'], p['f1'])})",
                    fmt(m["precision"]),
                    fmt(m["recall"]),
                    fmt(100 * m["alarm_rate"], 1),
                    f"{fmt(m['oracle_best_f1'])} ({ratio(m['oracle_best_f1'], p['oracle_best_f1'])})",
                    f"{fmt(m['auprc'])} ({ratio(m['auprc'], p['auprc'])})",
                    fmt(m["auroc"]),
                    fmt(m["pa_f1_inflated"]),
                    fmt(m["fit_s"], 1),
                    fmt(m["score_s"], 1),
                ]
            )
        parts.append(
            table(
                [
                    "method",
                    "F1 @q99.5 (÷PCA)",
                    "P",
                    "R",
                    "alarm %",
                    "oracle best-F1 (÷PCA)",
                    "AUPRC (÷PCA)",
                    "AUROC",
                    "PA-F1 (inflated)",
                    "fit s",
                    "score s",
                ],
                rows,
            )
        )
        parts += ["", "Per machine, F1 @q99.5 / AUPRC / alarm %:", ""]
        rows = []
        for meth in methods:
            rows.append(
                [labels[meth]]
                + [
                    " / ".join(
                        [
                            fmt(per[mm][meth]["f1"]),
                            fmt(per[mm][meth]["auprc"]),
                            fmt(100 * per[mm][meth]["alarm_rate"], 1),
                        ]
                    )
                    for mm in machines
                ]
            )
        parts.append(table(["method", *machines], rows))
        rows = []
        for mm in machines:
            n = per[mm]["netgan"]
            rows.append(
                [
                    mm,
                    n.get("epochs"),
                    fmt(n["fit_s"], 0),
                    fmt(n["score_s"], 0),
                    fmt(n["score_windows_per_s"], 0),
                    fmt(n["auprc_reconstruction_score"]),
                    fmt(n["auprc_discriminator_score"]),
                    fmt(n["threshold"], 2),
                    " / ".join(fmt(v, 2) for v in n["test_score_q"]),
                ]
            )
        parts += ["", "Net-GAN cost and score parts per machine:", ""]
        parts.append(
            table(
                [
                    "machine",
                    "epochs",
                    "fit s",
                    "score s",
                    "windows/s scored (K=10, encoder)",
                    "AUPRC rec. part only",
                    "AUPRC disc. part only",
                    "threshold (train q0.995)",
                    "test score q50/q99/q99.5/max",
                ],
                rows,
            )
        )
        if any("netgan_streaming" in per[mm] for mm in machines):
            rows = [
                [mm, fmt(per[mm]["netgan_streaming"]["f1"]), fmt(per[mm]["netgan_streaming"]["auprc"])]
                for mm in machines
                if "netgan_streaming" in per[mm]
            ]
            parts += [
                "",
                "Streaming aggregation (same models), F1 / AUPRC:",
                "",
                table(["machine", "F1", "AUPRC"], rows),
            ]
    for mm, res in record.get("smd", {}).get("machines", {}).items():
        ct = res.get("cli_train")
        if ct:
            verdict = "meets" if ct["wall_s"] < ct["target_s"] else "MISSES"
            parts += [
                "",
                f"{mm} was trained with the CLI: `netgan train` wall time **{ct['wall_s']:.0f} s** (its fit s above; "
                f"includes process start, CSV read and saving; target < {ct['target_s']} s: {verdict})"
                + (f"; CPU time {ct['cpu_s']:.0f} s." if "cpu_s" in ct else "."),
            ]
    cli = record.get("cli_score")
    if cli:
        verdict = "meets" if cli["wall_s"] < cli["target_s"] and cli["returncode"] == 0 else "MISSES"
        parts += [
            "",
            f"`netgan score` on a {cli['rows']:,}-row SMD test file ({cli['machine']}): **{cli['wall_s']:.0f} s** "
            f"(target < {cli['target_s']} s: {verdict}; exit code {cli['returncode']})"
            + (f"; CPU time {cli['cpu_s']:.0f} s." if "cpu_s" in cli else "."),
        ]
    skab = record.get("skab")
    if skab:
        parts += [
            "",
            f"## SKAB, pooled over {skab['files']} of {skab.get('files_total', skab['files'])} files "
            f"({skab['test_points']:,} test points)",
            "",
            f"Net-GAN settings: window {skab['settings']['window_rule']}; epochs {skab['settings']['epochs']}; "
            f"threshold {skab['settings']['threshold']}; {skab['settings']['other']}.",
            "",
        ]
        rows = []
        for name, s in skab["summary"].items():
            rows.append(
                [
                    name,
                    fmt(s["f1"]),
                    fmt(s["far_pct"], 1),
                    fmt(s["mar_pct"], 1),
                    fmt(s["alarm_pct"], 1),
                    fmt(s["mean_file_auprc"]),
                    fmt(s["mean_file_oracle_f1"]),
                ]
            )
        parts.append(
            table(["method", "F1", "FAR %", "MAR %", "alarm %", "mean per-file AUPRC", "mean per-file oracle F1"], rows)
        )
        wins = [e["window"] for e in skab["per_file"]]
        parts += [
            "",
            f"Windows chosen (window: files): {dict(sorted(Counter(wins).items()))}; "
            f"Net-GAN fit {skab['summary']['Net-GAN']['fit_s_total']:.0f} s in all. Target: F1 ≥ 0.80 at FAR ≤ 15%; "
            "flagging every point gives F1 0.698.",
        ]
    peers = _peers_excerpt()
    if peers:
        parts += ["", f"## Reference: other detectors on the same machines ({PEERS_NOTE})", "", peers]
    return "\n".join(str(p) for p in parts)


def _mean(per: dict[str, dict[str, Any]], meth: str) -> dict[str, float]:
    keys = [*SMD_KEYS, "fit_s", "score_s"]
    return {k: float(np.mean([per[m][meth][k] for m in per])) for k in keys}


def merge(stems: list[str], out: str, cli_score: bool, model_dir: str) -> dict[str, Any]:
    """Combines result files of runs split over processes (e.g. one machine per process to use both cores) into
    `out`.json/.md: SMD machines from every file in order, SKAB from the file that has it. Nothing is recomputed
    except the means (and, with `cli_score`, the `netgan score` timing on machine-1-4's saved run)."""
    from benchmarks import RESULTS_DIR

    t0 = time.perf_counter()
    records = [json.loads((RESULTS_DIR / f"{stem}.json").read_text(encoding="utf-8")) for stem in stems]
    merged: dict[str, Any] = {
        **start_record(NAME),
        "machine": records[0].get("machine"),
        "merged_from": [
            {
                "file": f"{stem}.json",
                "command": r.get("command"),
                "started": r.get("started"),
                "loadavg_start": r.get("loadavg_start"),
                "loadavg_end": r.get("loadavg_end"),
            }
            for stem, r in zip(stems, records, strict=True)
        ],
        "settings_note": "; ".join(sorted({r.get("settings_note", "") for r in records if "smd" in r})),
    }
    per: dict[str, Any] = {}
    for r in records:
        per.update(r.get("smd", {}).get("machines", {}))
        if "skab" in r:
            merged["skab"] = r["skab"]
        if "cli_score" in r:
            merged["cli_score"] = r["cli_score"]
    if per:
        merged["smd"] = {
            "machines": per,
            "mean": {meth: _mean(per, meth) for meth in ("netgan", "PCA-SPE", "IsolationForest")},
        }
    if cli_score and "machine-1-4" in per:
        merged["cli_score"] = cli_score_time(Path(per["machine-1-4"].get("model_dir", "")), "machine-1-4")
        log(f"netgan score 25,000 rows: {merged['cli_score']['wall_s']:.0f} s")
    finish_record(merged, t0)
    merged["command"] = (
        f"{merged['command']} (merge of: " + "; ".join(str(m["command"]) for m in merged["merged_from"]) + ")"
    )
    md = markdown(merged)
    write_results(out, merged, md)
    print(md)
    return merged


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    from netgan_tf.datasets import SMD_MACHINES

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--machines", default=",".join(SMD_MACHINES), help="comma-separated SMD machines")
    p.add_argument("--quick", action="store_true", help="smoke test: first machine, 1 epoch, 4,000-row slices")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the library's auto rule)")
    p.add_argument("--skip-smd", action="store_true")
    p.add_argument("--skip-skab", action="store_true")
    p.add_argument("--skip-cli", action="store_true", help="do not time `netgan score`")
    p.add_argument("--streaming", action="store_true", help="also evaluate streaming aggregation")
    p.add_argument(
        "--reuse-models",
        action="store_true",
        help="load the detectors saved in --model-dir (train only the missing ones) and recalibrate them with the "
        "current scoring defaults",
    )
    p.add_argument("--skab-files", type=int, default=0, help="only the first N SKAB files (0: all 34)")
    p.add_argument(
        "--skab-epochs",
        type=int,
        default=SKAB_EPOCHS,
        help=f"SKAB epochs per file (default {SKAB_EPOCHS}; 0: the library's auto rule, 60 epochs on 400 rows)",
    )
    p.add_argument("--model-dir", default=str(DEFAULT_MODEL_DIR), help="where the fitted SMD detectors are saved")
    p.add_argument(
        "--cli-train-machine",
        default="machine-1-4",
        help="train this machine with the `netgan train` CLI (timed, issue 2) instead of the API ('' for none)",
    )
    p.add_argument("--name", default=NAME, help="results file stem (benchmarks/results/NAME.json/.md)")
    p.add_argument("--merge", default="", help="comma-separated result stems to merge into --name (no training)")
    p.add_argument("--merge-cli-score", action="store_true", help="with --merge: also time `netgan score`")
    args = p.parse_args(argv)
    if args.merge:
        return merge([m for m in args.merge.split(",") if m], args.name, args.merge_cli_score, args.model_dir)
    if args.quick:
        args.epochs = args.epochs or 1
        args.skab_epochs = 1
        args.skab_files = args.skab_files or 2
        if args.machines == ",".join(SMD_MACHINES):
            args.machines = SMD_MACHINES[0]
    t0 = time.perf_counter()
    record = start_record(NAME, argv)
    record["machine"] = machine_info()
    record["args"] = vars(args)
    note = f"AnomalyDetector defaults, epochs={args.epochs or 'auto'}"
    if args.quick:
        note += f", QUICK smoke run ({QUICK_ROWS}-row slices) - not a result"
    record["settings_note"] = note
    if data_root_or_none() is None:
        return None
    name = args.name if not args.quick else f"{args.name}-quick"
    if not args.skip_smd:
        machines = [m.strip() for m in args.machines.split(",") if m.strip()]
        per: dict[str, Any] = {}
        record["smd"] = {"machines": per}
        for m in machines:
            per[m] = run_smd_machine(m, args)
            record["smd"]["mean"] = {meth: _mean(per, meth) for meth in ("netgan", "PCA-SPE", "IsolationForest")}
            finish_record(record, t0)
            write_results(name, record, markdown(record))
        if not args.skip_cli and not args.quick and "machine-1-4" in per:
            record["cli_score"] = cli_score_time(Path(per["machine-1-4"]["model_dir"]), "machine-1-4")
            log(f"netgan score 25,000 rows: {record['cli_score']['wall_s']:.0f} s")
    if not args.skip_skab:

        def partial(skab: dict[str, Any]) -> None:
            record["skab"] = skab
            finish_record(record, t0)
            write_results(name, record, markdown(record))

        record["skab"] = run_skab(args, partial)
    finish_record(record, t0)
    md = markdown(record)
    write_results(name, record, md)
    print(md)
    return record


if __name__ == "__main__":
    main()
