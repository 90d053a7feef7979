"""The `netgan` command line: train, score, evaluate, export, serve-score, demo, bench.

Every user error is one line on stderr (exit code 2), never a traceback; set NETGAN_DEBUG=1 to see tracebacks.
TensorFlow is imported only by the commands that need it, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netgan_tf import __version__
from netgan_tf.cli_types import csv_list, nonneg_int, positive_int
from netgan_tf.errors import ConfigError, NetGANError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--label-column",
        metavar="NAME",
        help="0/1 label column (train: anomalous rows are left out of training; score: used for the metrics)",
    )
    p.add_argument("--time-column", metavar="NAME", help="time column, kept in the output and never used as a feature")
    p.add_argument("--sep", metavar="S", help="CSV delimiter (default: sniffed from the file)")


def _add_scoring_options(p: argparse.ArgumentParser, defaults: bool) -> None:
    p.add_argument(
        "--inversion-init",
        choices=("random", "zeros", "encoder"),
        default="encoder" if defaults else None,
        help="start of latent inversion: the learned encoder E(x), zeros, or seeded noise"
        + (" (default: encoder)" if defaults else " (default: as trained)"),
    )
    p.add_argument(
        "--inversion-steps",
        type=nonneg_int,
        default=10 if defaults else None,
        metavar="K",
        help="Adam steps of latent inversion per window" + (" (default: 10)" if defaults else " (default: as trained)"),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netgan",
        description="Net-GAN anomaly detection for multivariate time series (LSTM generator + discriminator, "
        "latent inversion). Train on normal data, score new rows, export for TensorFlow Serving.",
    )
    parser.add_argument("--version", action="version", version=f"netgan_tf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    # ---------------------------------------------------------------------------------------------- train
    p = sub.add_parser(
        "train",
        help="train a Net-GAN on a CSV/CSV.GZ/Parquet file and write a run directory",
        description="Train a Net-GAN on DATA and write RUN_DIR/model.keras, detector.json and history.csv. "
        "Score normalisation and the threshold are chosen from the training rows.",
    )
    p.add_argument("data", metavar="DATA", help="training data: .csv, .csv.gz or .parquet")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to write")
    _add_data_options(p)
    p.add_argument("--features", type=csv_list, metavar="A,B,...", help="feature columns (default: all others)")
    p.add_argument(
        "--fill",
        choices=("error", "ffill", "interpolate", "zero", "drop"),
        default="error",
        help="what to do with NaN/inf values (default: error, naming column and row)",
    )
    p.add_argument("--window", type=positive_int, default=30, metavar="T", help="window length in rows (default: 30)")
    p.add_argument("--stride", type=positive_int, default=1, metavar="S", help="training window stride (default: 1)")
    p.add_argument(
        "--epochs", type=positive_int, metavar="E", help="epochs (default: automatic, ~120,000 windows in total)"
    )
    p.add_argument("--batch-size", type=positive_int, default=64, metavar="B", help="global batch size (default: 64)")
    p.add_argument("--latent-dim", type=positive_int, default=15, metavar="L", help="latent size per step (default 15)")
    p.add_argument("--hidden", type=positive_int, default=100, metavar="H", help="LSTM units per model (default: 100)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    p.add_argument("--scaler", choices=("minmax", "zscore"), default="minmax", help="input scaling (default: minmax)")
    p.add_argument("--no-encoder", action="store_true", help="train without the encoder (slower, random-start scoring)")
    p.add_argument(
        "--validation-split",
        type=float,
        default=0.0,
        metavar="F",
        help="hold out the last F of the training rows (time order) for validation losses (default: 0)",
    )
    p.add_argument(
        "--threshold",
        choices=("quantile", "pot", "spot"),
        default="quantile",
        help="threshold rule on training scores (default: quantile)",
    )
    p.add_argument("--threshold-q", type=float, default=0.995, metavar="Q", help="quantile for --threshold quantile")
    p.add_argument("--pot-risk", type=float, default=1e-3, metavar="R", help="risk level for --threshold pot/spot")
    p.add_argument(
        "--score-weight",
        type=float,
        default=1.0,
        metavar="LAMBDA",
        help="λ: weight of the reconstruction part of the score; 1-λ goes to the discriminator part "
        "(default: 1.0, see README 'How it works')",
    )
    _add_scoring_options(p, defaults=True)
    p.add_argument(
        "--strategy",
        choices=("auto", "default", "mirrored", "multiworker", "tpu"),
        default="auto",
        help="tf.distribute strategy (default: auto = TPU, else several GPUs mirrored, else one device)",
    )
    p.add_argument("--mixed-precision", action="store_true", help="train with mixed_float16 (losses stay float32)")
    p.add_argument(
        "--chunk-rows",
        type=positive_int,
        metavar="N",
        help="out-of-core training: never load DATA whole; read it in pieces of N rows on every pass (scaler, each "
        "epoch, calibration), so memory does not grow with the file",
    )
    p.add_argument(
        "--calibration-rows",
        type=positive_int,
        default=200_000,
        metavar="M",
        help="with --chunk-rows: calibrate the score and threshold on evenly spaced pieces of about M rows in all "
        "(every row when DATA has fewer; default: 200000)",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in RUN_DIR")
    p.add_argument("--overwrite", action="store_true", help="replace a completed run in RUN_DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    # ---------------------------------------------------------------------------------------------- score
    p = sub.add_parser(
        "score",
        help="score every row of a file with a trained run",
        description="Write one row per input row, in input order: score, is_anomaly, threshold, discriminator_score, "
        "reconstruction_score, top_features. With --label-column, print the evaluation metrics too.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `netgan train`")
    p.add_argument("data", metavar="DATA", help="data to score: .csv, .csv.gz or .parquet with the training columns")
    p.add_argument("--out", required=True, metavar="SCORES.csv", help="scores file to write")
    _add_data_options(p)
    p.add_argument(
        "--mode",
        choices=("batch", "streaming"),
        help="batch: each row averages the windows covering it; streaming: each row is scored by the window ending "
        "on it, as a live system would (default: as trained, batch)",
    )
    _add_scoring_options(p, defaults=False)
    p.add_argument("--attribution", action="store_true", help="add one share_<feature> column per feature")
    p.add_argument(
        "--chunk-rows",
        type=positive_int,
        metavar="N",
        help="read and score the file in overlapping pieces of about N rows and write the output as it goes, so memory "
        "does not grow with the file (same scores as a whole-file run)",
    )
    p.add_argument("--plot", metavar="OUT.png", help="write a plot of top features, score, threshold and anomalies")
    p.add_argument("--json", action="store_true", help="print metrics as JSON (with --label-column)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_score)

    # ---------------------------------------------------------------------------------------------- evaluate
    p = sub.add_parser(
        "evaluate",
        help="print metrics for an existing scores file",
        description="Point-wise precision/recall/F1/FAR/MAR at the flags in the file (the training threshold), "
        "AUROC/AUPRC, event recall and delay; oracle best-F1 and point-adjusted F1 are labelled as such.",
    )
    p.add_argument("scores", metavar="SCORES.csv", help="file written by `netgan score`")
    p.add_argument("--label-column", required=True, metavar="NAME", help="0/1 label column in the file")
    p.add_argument("--score-column", default="score", metavar="NAME", help="score column (default: score)")
    p.add_argument("--flag-column", default="is_anomaly", metavar="NAME", help="0/1 flag column (default: is_anomaly)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_evaluate)

    # ---------------------------------------------------------------------------------------------- demo / bench
    p = sub.add_parser(
        "demo",
        help="train and score on the built-in synthetic network counters",
        description="Generate synthetic network counters with injected anomalies, train, score the test part, print "
        "metrics, write a plot and export a SavedModel.",
    )
    p.add_argument("--out", default="runs/demo", metavar="DIR", help="output folder (default: runs/demo)")
    p.add_argument("--epochs", type=positive_int, default=12, metavar="E", help="training epochs (default: 12)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    p.add_argument("--no-export", action="store_true", help="skip the SavedModel export")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "bench",
        help="measure training and scoring throughput (windows/s) on synthetic data",
        description="Median training windows/s over several epochs and scoring windows/s for T=30, 38 features, "
        "latent 15, hidden 100, batch 64. Writes JSON with --out.",
    )
    p.add_argument("--epochs", type=positive_int, default=5, metavar="E", help="timed epochs (default: 5)")
    p.add_argument("--windows", type=positive_int, default=4096, metavar="N", help="windows per epoch (default 4096)")
    p.add_argument("--out", metavar="RESULT.json", help="write the result as JSON")
    p.set_defaults(func=cmd_bench)

    try:
        from netgan_tf import cli_serving
    except ImportError:  # pragma: no cover - only while the serving module is absent
        cli_serving = None  # type: ignore[assignment]
    if cli_serving is not None:
        cli_serving.add_commands(sub)
    return parser


# ---------------------------------------------------------------------------------------------- commands
def cmd_train(args: argparse.Namespace) -> int:
    from netgan_tf.detector import AnomalyDetector

    detector = AnomalyDetector(
        window=args.window,
        stride=args.stride,
        epochs=args.epochs,
        batch_size=args.batch_size,
        latent_dim=args.latent_dim,
        hidden=args.hidden,
        seed=args.seed,
        scaler=args.scaler,
        fill=args.fill,
        inversion_init=args.inversion_init,
        inversion_steps=args.inversion_steps,
        score_weight=args.score_weight,
        threshold=args.threshold,
        threshold_q=args.threshold_q,
        pot_risk=args.pot_risk,
        verbose=0 if args.quiet else "auto",
        use_encoder=not args.no_encoder,
        validation_split=args.validation_split,
        strategy=args.strategy,
        mixed_precision=args.mixed_precision,
    )
    if args.no_encoder and args.inversion_init == "encoder":
        detector.options.inversion.init = "random"
    detector.fit(
        args.data,
        features=args.features,
        time_column=args.time_column,
        label_column=args.label_column,
        sep=args.sep,
        run_dir=args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        chunk_rows=args.chunk_rows,
        calibration_rows=args.calibration_rows,
    )
    t = detector.thresholds["batch"]
    print(
        f"trained {detector.info.get('epochs_completed')} epochs on {detector.info.get('train_rows')} rows × "
        f"{len(detector.features)} features; threshold ({t.method}) {t.value:.4g}; run directory: {args.out}"
    )
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from netgan_tf import metrics
    from netgan_tf.detector import AnomalyDetector
    from netgan_tf.rundir import atomic_write

    detector = AnomalyDetector.load(args.run_dir)
    detector.verbose = 0 if args.quiet else 1
    options: dict[str, Any] = dict(
        mode=args.mode,
        label_column=args.label_column,
        time_column=args.time_column,
        sep=args.sep,
        attribution=args.attribution,
        inversion_init=args.inversion_init,
        inversion_steps=args.inversion_steps,
    )
    mode = args.mode or detector.options.mode
    if args.chunk_rows:
        if args.plot:
            raise ConfigError("--plot needs the whole file in memory; leave out --chunk-rows or --plot")
        score_values, flags, labels = detector.score_to_csv(args.data, args.out, chunk_rows=args.chunk_rows, **options)
        flagged, n_rows, scores = int(flags.sum()), len(score_values), None
    else:
        scores = detector.score(args.data, **options)
        atomic_write(args.out, lambda tmp: scores.to_csv(tmp, index=False), suffix=".csv")
        score_values, flags = scores["score"].to_numpy(), scores["is_anomaly"].to_numpy()
        labels = scores[args.label_column].to_numpy() if args.label_column else None
        flagged, n_rows = int(flags.sum()), len(scores)
    print(f"wrote {n_rows} rows to {args.out}; {flagged} flagged ({100.0 * flagged / max(n_rows, 1):.2f}%)")
    if labels is not None:
        result = metrics.evaluate(labels, score_values, detector.thresholds[mode].value, flags=flags)
        print(json.dumps(result, indent=2) if args.json else metrics.format_report(result))
    if args.plot and scores is not None:
        from netgan_tf.data.loading import read_frame
        from netgan_tf.plotting import plot_scores

        frame = read_frame(args.data, sep=args.sep)
        values = frame[detector.features].to_numpy(dtype=float)
        plot_scores(args.plot, values, detector.features, scores, labels, title=f"netgan_tf: {Path(args.data).name}")
        print(f"wrote plot {args.plot}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from netgan_tf import metrics
    from netgan_tf.data.loading import read_frame
    from netgan_tf.errors import DataError

    frame = read_frame(args.scores)
    missing = [c for c in (args.label_column, args.score_column) if c not in frame.columns]
    if missing:
        raise DataError(f"{args.scores}: missing column(s) {missing}; columns are {list(frame.columns)}")
    scores = frame[args.score_column].to_numpy(dtype=float)
    if args.flag_column in frame.columns:
        flags = frame[args.flag_column].to_numpy()
        threshold = float(frame["threshold"].iloc[0]) if "threshold" in frame.columns else float("nan")
        if "threshold" not in frame.columns:
            flagged = scores[flags.astype(bool)]
            threshold = float(flagged.min()) if len(flagged) else float(scores.max()) + 1.0
    elif "threshold" in frame.columns:
        threshold = float(frame["threshold"].iloc[0])
        flags = (scores >= threshold).astype(int)
    else:
        raise DataError(f"{args.scores}: needs a '{args.flag_column}' or 'threshold' column")
    result = metrics.evaluate(frame[args.label_column].to_numpy(), scores, threshold, flags=flags)
    print(json.dumps(result, indent=2) if args.json else metrics.format_report(result))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from netgan_tf.demo import run_demo

    return run_demo(args.out, epochs=args.epochs, seed=args.seed, export=not args.no_export)


def cmd_bench(args: argparse.Namespace) -> int:
    from netgan_tf.bench import run_throughput

    result = run_throughput(epochs=args.epochs, windows=args.windows)
    print(json.dumps(result, indent=2))
    if args.out:
        from netgan_tf.rundir import atomic_write_text

        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Any = args.func
    try:
        return int(func(args) or 0)
    except NetGANError as exc:
        print(f"netgan {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"netgan {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"netgan {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("NETGAN_DEBUG"):
            raise
        print(
            f"netgan {args.command}: unexpected error: {type(exc).__name__}: {exc}\n"
            "(set NETGAN_DEBUG=1 to see the traceback; please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
