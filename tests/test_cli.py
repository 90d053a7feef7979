"""The `netgan` CLI through subprocesses: train -> score -> evaluate round trip, help texts, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from netgan_tf.cli import build_parser
from netgan_tf.datasets.synthetic import make_network_counters, write_csv


def netgan(*args: str, timeout: int = 400) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "netgan_tf.cli", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def csvs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = make_network_counters(n_train=700, n_test=400, n_anomalies=3, seed=2)
    return write_csv(data, tmp_path_factory.mktemp("data"))


def test_train_score_evaluate_round_trip(csvs: tuple[Path, Path], tmp_path: Path) -> None:
    train, test = csvs
    run = tmp_path / "run"
    r = netgan(
        "train", str(train), "--out", str(run), "--time-column", "timestamp", "--label-column", "label",
        "--window", "12", "--epochs", "2", "--hidden", "12", "--latent-dim", "4", "--inversion-steps", "3", "--quiet",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "threshold (quantile)" in r.stdout
    assert {"model.keras", "detector.json", "history.csv"} <= {p.name for p in run.iterdir()}
    assert len(pd.read_csv(run / "history.csv")) == 2

    out = tmp_path / "scores.csv"
    plot = tmp_path / "scores.png"
    r = netgan(
        "score", str(run), str(test), "--out", str(out), "--label-column", "label", "--time-column", "timestamp",
        "--plot", str(plot), "--quiet", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    scores = pd.read_csv(out)
    assert len(scores) == 400
    for col in ("timestamp", "score", "is_anomaly", "discriminator_score", "reconstruction_score", "top_features"):
        assert col in scores.columns
    printed = json.loads(r.stdout[r.stdout.index("{") : r.stdout.rindex("}") + 1])
    assert {"f1", "auprc", "oracle_best_f1", "pa_f1_inflated"} <= set(printed)
    assert plot.stat().st_size > 10_000

    r = netgan("evaluate", str(out), "--label-column", "label", "--json")
    assert r.returncode == 0, r.stderr
    again = json.loads(r.stdout)
    assert again["f1"] == pytest.approx(printed["f1"])
    assert again["auprc"] == pytest.approx(printed["auprc"])

    r = netgan("evaluate", str(out), "--label-column", "label")
    assert "ORACLE" in r.stdout and "INFLATED" in r.stdout

    streaming = tmp_path / "streaming.csv"
    r = netgan("score", str(run), str(test), "--out", str(streaming), "--mode", "streaming", "--quiet")
    assert r.returncode == 0, r.stderr
    assert not pd.read_csv(streaming)["score"].equals(scores["score"])


def test_errors_are_one_line_without_traceback(csvs: tuple[Path, Path], tmp_path: Path) -> None:
    train, _ = csvs
    r = netgan("train", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "missing.csv" in r.stderr and r.stderr.strip().count("\n") == 0

    r = netgan("train", str(train), "--out", str(tmp_path / "r"), "--features", "cpu_util,nope")
    assert r.returncode == 2 and "nope" in r.stderr and "Traceback" not in r.stderr

    r = netgan("score", str(tmp_path / "no-run"), str(train), "--out", str(tmp_path / "s.csv"))
    assert r.returncode == 2 and "detector.json" in r.stderr and "Traceback" not in r.stderr

    r = netgan("train", str(train), "--out", str(tmp_path / "r"), "--window", "0")
    assert r.returncode == 2 and "positive integer" in r.stderr


def test_every_subcommand_has_help_for_every_option() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert {"train", "score", "evaluate", "demo", "bench"} <= set(sub.choices)
    for name, p in sub.choices.items():
        for action in p._actions:
            if action.dest != "help":
                assert action.help, f"netgan {name}: option {action.option_strings or action.dest} has no help"
    r = netgan("train", "--help")
    assert r.returncode == 0 and "--resume" in r.stdout and "--window" in r.stdout
