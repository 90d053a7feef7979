"""The serving client against loopback stand-ins of TensorFlow Serving.

The TensorFlow Serving binary cannot be installed on these machines (no package ships it, no Docker engine), so these
tests start `serving_standin.GrpcStandIn` (a gRPC PredictionService built from the official tensorflow-serving-api
stubs around `tf.saved_model.load` of the export) and `serving_standin.RestStandIn` (TF Serving's REST routes on
`http.server`), both on 127.0.0.1 with ephemeral ports, and talk to them over real sockets.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

tf = pytest.importorskip("tensorflow")
grpc = pytest.importorskip("grpc")
pytest.importorskip("tensorflow_serving.apis")

from serving_standin import (  # noqa: E402
    TINY_FEATURES,
    TINY_WINDOW,
    GrpcStandIn,
    ModelStore,
    RestStandIn,
    tiny_detector,
    tiny_frames,
)
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: E402

from netgan_tf.data.windows import sliding_windows  # noqa: E402
from netgan_tf.errors import DataError, ServingError  # noqa: E402
from netgan_tf.serving import ServingClient, build_rest_body  # noqa: E402


class Setup:
    def __init__(self, detector: Any, test: pd.DataFrame, path: Path, grpc_server: GrpcStandIn, rest: RestStandIn):
        self.detector = detector
        self.test = test
        self.path = path
        self.grpc = grpc_server
        self.rest = rest
        self.windows = np.ascontiguousarray(
            sliding_windows(test[detector.features].to_numpy(np.float32), TINY_WINDOW), dtype=np.float32
        )
        self.expected = detector.score(test, mode="streaming", time_column="timestamp", label_column="label")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("serving")
    train, test = tiny_frames()
    detector = tiny_detector(train)
    path = detector.export(root / "models")
    store = ModelStore(root / "models")
    with GrpcStandIn(root / "models") as grpc_server, RestStandIn(root / "models", store=store) as rest:
        yield Setup(detector, test, path, grpc_server, rest)


@pytest.fixture
def client(setup: Setup) -> Iterator[ServingClient]:
    with ServingClient(setup.grpc.target, "netgan", timeout=60) as c:
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------------ round trips
def test_grpc_round_trip_equals_in_process_streaming_scores(setup: Setup, client: ServingClient) -> None:
    threshold = setup.detector.thresholds["streaming"].value
    rows = client.score_rows(setup.test, time_column="timestamp", label_column="label", threshold=threshold)
    expected = setup.expected
    assert len(rows) == len(setup.test)
    assert list(rows.columns) == [
        "timestamp",
        "score",
        "is_anomaly",
        "discriminator_score",
        "reconstruction_error",
        "top_features",
        "warmup",
        "label",
    ]
    np.testing.assert_allclose(rows["score"], expected["score"], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(rows["is_anomaly"], expected["is_anomaly"])
    t = TINY_WINDOW
    np.testing.assert_allclose(
        rows["discriminator_score"][t - 1 :], expected["discriminator_score"][t - 1 :], rtol=1e-5, atol=1e-4
    )
    assert rows["discriminator_score"][: t - 1].isna().all() and rows["warmup"].sum() == t - 1
    assert (rows["timestamp"] == setup.test["timestamp"]).all() and (rows["label"] == setup.test["label"]).all()
    assert all(len(s.split(";")) == 3 for s in rows["top_features"][t - 1 :])


def test_window_and_features_from_metadata(setup: Setup, client: ServingClient) -> None:
    assert client.model_window() == (TINY_WINDOW, TINY_FEATURES)
    rest = ServingClient(setup.rest.url, "netgan", protocol="rest", timeout=60)
    assert rest.model_window() == (TINY_WINDOW, TINY_FEATURES)
    with pytest.raises(DataError, match="expects 4"):
        client.score_rows(setup.test[setup.detector.features[:3]])


def test_rest_round_trip_matches_grpc(setup: Setup, client: ServingClient) -> None:
    part = setup.test.iloc[:40].reset_index(drop=True)
    rest = ServingClient(setup.rest.url, "netgan", protocol="rest", timeout=60)
    by_rest = rest.score_rows(part, time_column="timestamp", label_column="label", batch_size=16)
    by_grpc = client.score_rows(part, time_column="timestamp", label_column="label", batch_size=16)
    pd.testing.assert_frame_equal(by_rest, by_grpc, rtol=1e-6, atol=1e-6)
    out = rest.predict_windows(setup.windows[:3], signature="score_fast")
    assert out["is_anomaly"].dtype == np.bool_ and out["reconstruction"].shape == (3, TINY_WINDOW, TINY_FEATURES)


def test_array_input_and_score_fast(setup: Setup) -> None:
    values = setup.test[setup.detector.features].to_numpy()[:30]
    with ServingClient(setup.grpc.target, "netgan", signature="score_fast", timeout=60) as fast:
        rows = fast.score_rows(values, window=TINY_WINDOW, batch_size=7)
    assert len(rows) == 30 and np.isfinite(rows["score"]).all()
    assert rows["is_anomaly"][: TINY_WINDOW - 1].eq(0).all()  # no threshold given: warm-up rows are not flagged


def test_sixteen_concurrent_requests_equal_sequential(setup: Setup, client: ServingClient) -> None:
    sizes = [1, 5, 2, 9, 3, 16, 1, 7, 4, 12, 6, 1, 8, 2, 11, 3]
    starts = np.random.default_rng(0).integers(0, len(setup.windows) - 16, size=len(sizes))
    batches = [setup.windows[s : s + n] for s, n in zip(starts, sizes, strict=True)]
    sequential = [client.predict_windows(b) for b in batches]
    with ThreadPoolExecutor(max_workers=16) as pool:
        concurrent = list(pool.map(client.predict_windows, batches))
    for seq, con, n in zip(sequential, concurrent, sizes, strict=True):
        assert seq["score"].shape == (n,)
        for key in seq:
            np.testing.assert_allclose(con[key], seq[key], rtol=0, atol=1e-6, err_msg=key)
    # a window scores the same whatever batch it travels in
    single = client.predict_windows(batches[1][:1])
    np.testing.assert_allclose(single["score"], sequential[1]["score"][:1], atol=1e-5)


# ------------------------------------------------------------------------------------------------ errors
def test_unknown_model_and_version_are_not_found(setup: Setup) -> None:
    with ServingClient(setup.grpc.target, "nosuch", timeout=30) as c, pytest.raises(ServingError) as info:
        c.predict_windows(setup.windows[:1])
    message = str(info.value)
    assert "NOT_FOUND" in message and "nosuch" in message and setup.grpc.target in message
    with ServingClient(setup.grpc.target, "netgan", version=7, timeout=30) as c:
        with pytest.raises(ServingError, match="NOT_FOUND"):
            c.predict_windows(setup.windows[:1])
    rest = ServingClient(setup.rest.url, "nosuch", protocol="rest", timeout=30)
    with pytest.raises(ServingError, match="NOT_FOUND.*Servable not found"):
        rest.predict_windows(setup.windows[:1])


@pytest.mark.parametrize(
    "shape, pattern",
    [((2, TINY_WINDOW - 1, TINY_FEATURES), r"\[2, 7, 4\]"), ((2, TINY_WINDOW, TINY_FEATURES + 1), r"\[2, 8, 5\]")],
    ids=["wrong-T", "wrong-features"],
)
def test_wrong_shape_is_invalid_argument(client: ServingClient, shape: tuple[int, ...], pattern: str) -> None:
    with pytest.raises(ServingError, match=f"INVALID_ARGUMENT.*{pattern}"):
        client.predict_windows(np.zeros(shape, np.float32))


@pytest.mark.parametrize("dtype, name", [(np.float64, "double"), (np.int32, "int32")])
def test_wrong_dtype_is_invalid_argument(setup: Setup, dtype: Any, name: str) -> None:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "netgan"
    request.model_spec.signature_name = "serving_default"
    request.inputs["values"].CopyFrom(tf.make_tensor_proto(setup.windows[:2].astype(dtype)))
    with grpc.insecure_channel(setup.grpc.target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Predict(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "float" in info.value.details() and name in info.value.details()


def test_nan_is_invalid_argument(setup: Setup, client: ServingClient) -> None:
    bad = setup.windows[:3].copy()
    bad[2, 4, 1] = np.nan
    with pytest.raises(ServingError, match="INVALID_ARGUMENT.*NaN or inf"):
        client.predict_windows(bad)
    rest = ServingClient(setup.rest.url, "netgan", protocol="rest", timeout=30)
    bad[2, 4, 1] = np.inf
    with pytest.raises(ServingError, match="HTTP 400 INVALID_ARGUMENT.*NaN or inf"):
        rest.predict_windows(bad)
    frame = setup.test.iloc[:20].copy()
    frame.loc[11, setup.detector.features[2]] = np.nan
    with pytest.raises(DataError, match="row"):  # caught before sending, naming the row
        client.score_rows(frame, time_column="timestamp", label_column="label")


def test_connection_refused(setup: Setup) -> None:
    port = _free_port()
    with ServingClient(f"127.0.0.1:{port}", "netgan", timeout=10) as c, pytest.raises(ServingError) as info:
        c.predict_windows(setup.windows[:1])
    assert "cannot reach" in str(info.value) and f"127.0.0.1:{port}" in str(info.value)
    rest = ServingClient(f"http://127.0.0.1:{port}", "netgan", protocol="rest", timeout=10)
    with pytest.raises(ServingError, match="cannot reach"):
        rest.predict_windows(setup.windows[:1])


# ------------------------------------------------------------------------------------------------ REST body
def test_rest_body_matches_the_documented_instances_format() -> None:
    windows = np.array([[[1.0, 2.0], [3.0, 4.5]], [[-1.0, 0.25], [0.0, 8.0]]], dtype=np.float32)
    body = build_rest_body(windows, "serving_default")
    # TF Serving's REST API, row format: {"signature_name": ..., "instances": [<instance>, ...]}
    expected = {
        "signature_name": "serving_default",
        "instances": [[[1.0, 2.0], [3.0, 4.5]], [[-1.0, 0.25], [0.0, 8.0]]],
    }
    assert body == expected
    assert json.dumps(body) == (
        '{"signature_name": "serving_default", "instances": [[[1.0, 2.0], [3.0, 4.5]], [[-1.0, 0.25], [0.0, 8.0]]]}'
    )
    with pytest.raises(DataError, match="batch, T, n_features"):
        build_rest_body(np.zeros((3, 4), np.float32))


# ------------------------------------------------------------------------------------------------ CLI
def test_serve_score_cli(setup: Setup, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from netgan_tf import cli

    data = tmp_path / "test.csv"
    setup.test.iloc[:60].to_csv(data, index=False)
    out = tmp_path / "scores.csv"
    meta = setup.path / "assets.extra" / "netgan.json"
    argv = ["serve-score", "--grpc", setup.grpc.target, "--model", "netgan", str(data), "--out", str(out)]
    argv += ["--time-column", "timestamp", "--label-column", "label", "--metadata", str(meta), "--batch-size", "16"]
    assert cli.main(argv) == 0
    assert "wrote 60 rows" in capsys.readouterr().out
    scores = pd.read_csv(out)
    expected = setup.detector.score(setup.test.iloc[:60], mode="streaming", time_column="timestamp")
    np.testing.assert_allclose(scores["score"], expected["score"], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(scores["is_anomaly"], expected["is_anomaly"])

    rest_argv = ["serve-score", "--rest", setup.rest.url, "--model", "nosuch", str(data), "--out", str(out)]
    assert cli.main([*rest_argv, "--time-column", "timestamp", "--label-column", "label"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NOT_FOUND" in err
