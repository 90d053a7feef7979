"""The `netgan export` and `netgan serve-score` subcommands (registered by `netgan_tf.cli`).

TensorFlow is imported inside the command functions only, so `netgan --help` stays fast. User errors are raised as
`netgan_tf.errors.NetGANError` subclasses; the main CLI prints them as one line (exit code 2).
"""

from __future__ import annotations

import argparse
from typing import Any

from netgan_tf.cli_types import csv_list, nonneg_int, positive_float, positive_int
from netgan_tf.errors import ConfigError, DataError

__all__ = ["add_commands", "cmd_export", "cmd_serve_score"]


def add_commands(subparsers: Any) -> None:
    """Registers `export` and `serve-score` on the main CLI's subparsers."""
    p = subparsers.add_parser(
        "export",
        help="export a trained run as a SavedModel for TensorFlow Serving",
        description="Write BASE_DIR/NAME/VERSION/ (saved_model.pb, variables/, assets.extra/netgan.json and warm-up "
        "requests) with the signatures serving_default, score_fast, generate and discriminate. The graph takes raw "
        "values, holds the scaler and the streaming threshold, and contains no cuDNN-only op (CPU-servable). "
        "An existing version is never overwritten.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `netgan train`")
    p.add_argument("--out", required=True, metavar="BASE_DIR", help="model base folder (TF Serving's base path)")
    p.add_argument(
        "--name", default="netgan", metavar="NAME", help="model name, the folder under BASE_DIR (default: netgan)"
    )
    p.add_argument(
        "--version",
        type=positive_int,
        metavar="N",
        help="version folder (default: one more than the highest existing version, 1 if none)",
    )
    p.add_argument(
        "--fast-steps",
        type=nonneg_int,
        default=0,
        metavar="K",
        help="inversion steps of score_fast after the encoder's start (default: 0, the encoder alone)",
    )
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser(
        "serve-score",
        help="score a file through a running TensorFlow Serving (gRPC or REST)",
        description="Cut stride-1 windows from DATA like the trainer, send them in batches to TensorFlow Serving and "
        "write one row per input row with the streaming rule: score, is_anomaly, discriminator_score, "
        "reconstruction_error, top_features, warmup (1 for the first T-1 rows, which take window 0's step scores).",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--grpc", metavar="HOST:PORT", help="gRPC address of TensorFlow Serving (port 8500)")
    target.add_argument("--rest", metavar="URL", help="REST base URL of TensorFlow Serving (http://HOST:8501)")
    p.add_argument("--model", required=True, metavar="NAME", help="served model name (TF Serving's MODEL_NAME)")
    p.add_argument("data", metavar="DATA", help="raw rows to score: .csv, .csv.gz or .parquet")
    p.add_argument("--out", required=True, metavar="SCORES.csv", help="scores file to write")
    p.add_argument("--sep", metavar="S", help="CSV delimiter (default: sniffed from the file)")
    p.add_argument("--time-column", metavar="NAME", help="time column, copied to the output, never sent")
    p.add_argument("--label-column", metavar="NAME", help="0/1 label column, copied to the output, never sent")
    p.add_argument(
        "--features",
        type=csv_list,
        metavar="A,B,...",
        help="feature columns in training order (default: from --metadata, else every other column)",
    )
    p.add_argument(
        "--metadata",
        metavar="NETGAN.json",
        help="the export's assets.extra/netgan.json: feature order and threshold (flags the T-1 warm-up rows too)",
    )
    p.add_argument("--batch-size", type=positive_int, default=64, metavar="B", help="windows per request (default: 64)")
    p.add_argument(
        "--signature",
        default="serving_default",
        metavar="S",
        help="signature to call: serving_default or score_fast (default: serving_default)",
    )
    p.add_argument("--version", type=positive_int, metavar="N", help="model version (default: the latest served)")
    p.add_argument(
        "--timeout", type=positive_float, default=30.0, metavar="SEC", help="seconds per request (default: 30)"
    )
    p.set_defaults(func=cmd_serve_score)


def cmd_export(args: argparse.Namespace) -> int:
    """`netgan export RUN_DIR --out BASE_DIR [--name NAME] [--version N] [--fast-steps K]`."""
    from netgan_tf.export import export_detector

    path = export_detector(
        args.run_dir, args.out, name=args.name, version=args.version, fast_steps=getattr(args, "fast_steps", 0)
    )
    print(path)
    return 0


def cmd_serve_score(args: argparse.Namespace) -> int:
    """`netgan serve-score --grpc HOST:PORT | --rest URL --model NAME DATA --out scores.csv ...`."""
    import json

    from netgan_tf.data.loading import read_frame
    from netgan_tf.rundir import atomic_write
    from netgan_tf.serving import ServingClient

    features = args.features
    threshold: float | None = None
    window: int | None = None
    if args.metadata:
        try:
            with open(args.metadata, encoding="utf-8") as fh:
                meta = json.load(fh)
            threshold = float(meta["threshold"]["value"])
            window = int(meta["window"])
            features = features or [str(f) for f in meta["features"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"--metadata {args.metadata}: not a readable netgan.json: {exc}") from exc
    frame = read_frame(args.data, sep=args.sep)
    for option, column in (("--time-column", args.time_column), ("--label-column", args.label_column)):
        if column is not None and column not in frame.columns:
            raise DataError(f"{args.data}: {option} {column!r} is not a column (columns: {list(frame.columns)})")
    protocol, target = ("grpc", args.grpc) if args.grpc else ("rest", args.rest)
    with ServingClient(
        target, args.model, protocol=protocol, signature=args.signature, timeout=args.timeout, version=args.version
    ) as client:
        scores = client.score_rows(
            frame,
            features=features,
            window=window,
            batch_size=args.batch_size,
            time_column=args.time_column,
            label_column=args.label_column,
            threshold=threshold,
        )
    atomic_write(args.out, lambda tmp: scores.to_csv(tmp, index=False), suffix=".csv")
    n_flag = int(scores["is_anomaly"].sum())
    print(f"wrote {len(scores)} rows to {args.out}; {n_flag} flagged ({100.0 * n_flag / max(len(scores), 1):.2f}%)")
    return 0
