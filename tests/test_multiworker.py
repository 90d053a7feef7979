"""MultiWorkerMirroredStrategy on loopback (issue 7): two local worker processes, each with its own TF_CONFIG, build the
NetGAN inside the strategy scope and fit one short epoch together; `multiworker` without TF_CONFIG is a ConfigError.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from netgan_tf.errors import ConfigError

TIMEOUT_S = 300  # generous: two TensorFlow start-ups on a shared 2-core machine

WORKER = r"""
import json, sys
import numpy as np
import tensorflow as tf

from netgan_tf.data.windows import windows_dataset
from netgan_tf.training.strategy import resolve_strategy
from netgan_tf.training.trainer import TrainSettings, build_model

settings = TrainSettings(window=8, hidden=8, latent_dim=3, batch_size=16, epochs=1, strategy="multiworker", unroll=True)
strategy = resolve_strategy(settings.strategy)  # first: collectives are configured before any other TF work
model = build_model(3, settings, strategy=strategy)

x = np.random.default_rng(0).uniform(-0.8, 0.8, (120, 3)).astype("float32")  # the same data on both workers
ds = windows_dataset(x, settings.window, batch_size=settings.batch_size)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
ds = ds.with_options(options)
history = model.fit(ds, epochs=settings.epochs, verbose=0)
weights = model.get_weights()

# One more epoch on the out-of-core input (the same rows read in chunks by a generator; sharded by DATA).
import pandas as pd
from netgan_tf.data.scaler import Scaler
from netgan_tf.data.stream import WindowStream

stream = WindowStream(pd.DataFrame(x, columns=["a", "b", "c"]), window=8, chunk_rows=40)
summary = stream.summarize()
stream_ds, _ = stream.datasets(Scaler().fit_moments(summary.moments), batch_size=settings.batch_size)
steps_before = int(model.d_optimizer.iterations.numpy())
stream_history = model.fit(stream_ds, epochs=1, verbose=0)
stream_weights = model.get_weights()
print("RESULT " + json.dumps({
    "task": json.loads(sys.argv[1])["task"]["index"],
    "replicas": int(strategy.num_replicas_in_sync),
    "multiworker": isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy),
    "epochs": len(history.history["d_loss"]),
    "d_loss": [float(v) for v in history.history["d_loss"]],
    "d_steps": int(model.d_optimizer.iterations.numpy()),
    "checksum": float(sum(float(np.sum(np.abs(w))) for w in weights)),
    "finite": bool(all(np.isfinite(w).all() for w in weights)),
    "steps_first_fit": steps_before,
    "stream_steps": int(model.d_optimizer.iterations.numpy()) - steps_before,
    "stream_d_loss": [float(v) for v in stream_history.history["d_loss"]],
    "stream_checksum": float(sum(float(np.sum(np.abs(w))) for w in stream_weights)),
}), flush=True)
"""


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("localhost", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def test_two_worker_multiworker_mirrored_run_on_loopback(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = []
    logs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        env = {**os.environ, "TF_CONFIG": tf_config, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
        env["CUDA_VISIBLE_DEVICES"] = "-1"  # CPU workers, whatever the machine
        log = open(tmp_path / f"worker{index}.log", "w+b")  # noqa: SIM115 - closed below
        logs.append(log)
        procs.append(
            subprocess.Popen([sys.executable, str(script), tf_config], stdout=log, stderr=subprocess.STDOUT, env=env)
        )
    deadline = time.monotonic() + TIMEOUT_S
    try:
        for proc in procs:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        for log in logs:
            log.close()
    outputs = [(tmp_path / f"worker{i}.log").read_text(errors="replace") for i in range(2)]
    for proc, out in zip(procs, outputs):
        assert proc.returncode == 0, f"worker exited with {proc.returncode} (timeout {TIMEOUT_S} s):\n{out[-4000:]}"

    results = []
    for out in outputs:
        lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
        assert len(lines) == 1, out[-4000:]
        results.append(json.loads(lines[0][len("RESULT ") :]))
    assert sorted(r["task"] for r in results) == [0, 1]
    for r in results:
        assert r["multiworker"]
        assert r["replicas"] == 2
        assert r["epochs"] == 1 and r["d_steps"] >= 1 and r["finite"]
    # synchronous training: the all-reduced updates leave both workers with the same weights and step count
    assert results[0]["d_steps"] == results[1]["d_steps"]
    assert results[0]["checksum"] == pytest.approx(results[1]["checksum"], rel=1e-6)
    # the logged loss is the mean over both workers, not each worker's own shard
    assert results[0]["d_loss"] == pytest.approx(results[1]["d_loss"], rel=1e-6)
    # the streamed input: one synchronous step per global batch, as with the in-memory input (113 windows / 16)
    for r in results:
        assert r["stream_steps"] == r["steps_first_fit"] == 8 and np.isfinite(r["stream_d_loss"]).all(), r
    assert results[0]["stream_checksum"] == pytest.approx(results[1]["stream_checksum"], rel=1e-6)


def test_multiworker_without_tf_config_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from netgan_tf.training.strategy import resolve_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        resolve_strategy("multiworker")
    with pytest.raises(ConfigError, match="strategy must be one of"):
        resolve_strategy("parameter_server")
