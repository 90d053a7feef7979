"""A client for a detector served by TensorFlow Serving (gRPC or REST).

    client = ServingClient("localhost:8500", model="netgan")              # gRPC
    client = ServingClient("http://localhost:8501", model="netgan", protocol="rest")
    out = client.predict_windows(windows)        # raw windows [b, T, n] -> dict of named outputs
    scores = client.score_rows(frame)            # raw rows -> one row of scores per input row

gRPC goes through the official `tensorflow_serving.apis` stubs (`PredictRequest`, `PredictionServiceStub`,
`GetModelMetadata`); REST through TF Serving's documented JSON API (``POST /v1/models/NAME[/versions/N]:predict``
with ``{"signature_name": ..., "instances": [...]}``, ``GET .../metadata``) using only `urllib`.

`score_rows` cuts stride-1 windows exactly as the trainer does (`netgan_tf.data.windows.sliding_windows`) and applies
the streaming rule of `netgan score --mode streaming`: row r >= T-1 takes the score of the window ending on r; the
first T-1 rows ("warm-up" rows) take window 0's own per-step scores.

Every failure (connection refused, timeout, unknown model, rejected request) raises `netgan_tf.errors.ServingError`
with the target, the model and the server's own message.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from netgan_tf.errors import ConfigError, DataError, ServingError

if TYPE_CHECKING:
    import grpc

__all__ = ["PROTOCOLS", "ServingClient", "build_rest_body", "rows_from_served"]

PROTOCOLS = ("grpc", "rest")
_MAX_MESSAGE = 256 * 1024 * 1024
_HTTP_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def build_rest_body(windows: np.ndarray, signature: str = "serving_default") -> dict[str, Any]:
    """The JSON body of a REST ``:predict`` call in TF Serving's row ("instances") format.

    A signature with one input takes the plain list of instances, one per window: ``{"signature_name": ...,
    "instances": [[[v, ...], ...], ...]}`` (each instance a [T, n] nested list).
    """
    arr = _as_windows(windows)
    return {"signature_name": str(signature), "instances": arr.tolist()}


def _as_windows(windows: Any) -> np.ndarray:
    try:
        arr = np.asarray(windows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"windows must be a numeric array [batch, T, n_features]: {exc}") from exc
    if arr.ndim != 3 or arr.shape[0] == 0:
        raise DataError(f"windows must be a non-empty array [batch, T, n_features], got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def rows_from_served(
    outputs: dict[str, np.ndarray],
    window: int,
    n_rows: int,
    feature_names: Sequence[str],
    threshold: float | None = None,
    top_k: int = 3,
) -> pd.DataFrame:
    """Per-window served outputs of every stride-1 window of a series -> one row per input row (streaming rule).

    Rows r >= T-1 take the outputs of the window ending on r. The first T-1 (warm-up) rows take window 0's
    `timestep_score` at their own step; the served graph reports the other outputs for the last step only, so
    their `discriminator_score` and `reconstruction_error` are NaN, their `top_features` empty, and their
    `is_anomaly` is `score >= threshold` when the threshold is known (the export's netgan.json), else 0.
    """
    from netgan_tf.scoring.aggregate import top_k_features

    t = int(window)
    n_win = n_rows - t + 1
    score = np.asarray(outputs["score"], np.float64).reshape(-1)
    if score.shape[0] != n_win:
        raise ServingError(f"the server returned {score.shape[0]} scores for {n_win} windows")
    head = np.asarray(outputs["timestep_score"], np.float64)[0, : t - 1]
    warm = len(head)
    nan = np.full(warm, np.nan)
    flags = np.asarray(outputs["is_anomaly"]).reshape(-1).astype(np.int8)
    head_flags = (head >= threshold).astype(np.int8) if threshold is not None else np.zeros(warm, np.int8)
    frame = pd.DataFrame(index=pd.RangeIndex(n_rows))
    frame["score"] = np.concatenate([head, score])
    frame["is_anomaly"] = np.concatenate([head_flags, flags])
    frame["discriminator_score"] = np.concatenate([nan, np.asarray(outputs["discriminator_score"], np.float64)])
    frame["reconstruction_error"] = np.concatenate([nan, np.asarray(outputs["reconstruction_error"], np.float64)])
    attribution = np.clip(np.asarray(outputs["feature_score"], np.float64), 0.0, None)
    top = top_k_features(attribution, [str(f) for f in feature_names], top_k) if top_k > 0 else [""] * n_win
    frame["top_features"] = [""] * warm + list(top)
    frame["warmup"] = np.concatenate([np.ones(warm, np.int8), np.zeros(n_win, np.int8)])
    return frame


class ServingClient:
    """Talks to one model of a running TensorFlow Serving.

    Args:
        target: ``HOST:PORT`` of the gRPC port (8500) for ``protocol="grpc"``; the REST base URL
            (``http://HOST:8501``; ``HOST:PORT`` means http) for ``protocol="rest"``.
        model: the model name (TF Serving's MODEL_NAME).
        protocol: ``"grpc"`` or ``"rest"``.
        signature: the signature to call (``serving_default``, ``score_fast``, ...).
        timeout: seconds per request.
        version: a specific model version (default: the latest version the server has loaded).

    The client is thread-safe: one gRPC channel (or stateless HTTP requests) serves concurrent calls.
    """

    def __init__(
        self,
        target: str,
        model: str,
        protocol: str = "grpc",
        signature: str = "serving_default",
        timeout: float = 30.0,
        version: int | None = None,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ConfigError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        if not target or not isinstance(target, str):
            raise ConfigError(f"target must be HOST:PORT (gRPC) or a URL (REST), got {target!r}")
        if not model or not isinstance(model, str):
            raise ConfigError(f"model must be a non-empty name, got {model!r}")
        if not float(timeout) > 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {timeout}")
        if version is not None and (isinstance(version, bool) or int(version) < 1):
            raise ConfigError(f"version must be a positive integer, got {version!r}")
        self.protocol = protocol
        self.model = model
        self.signature = signature
        self.timeout = float(timeout)
        self.version = None if version is None else int(version)
        self._channel: grpc.Channel | None = None
        self._stub: Any = None
        self._lock = threading.Lock()
        if protocol == "grpc":
            self.target = target.removeprefix("grpc://")
        else:
            base = target if "://" in target else f"http://{target}"
            self.target = base.rstrip("/")

    # ------------------------------------------------------------------------------------ plumbing
    def __enter__(self) -> ServingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the gRPC channel (if one was opened)."""
        with self._lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None
                self._stub = None

    def __repr__(self) -> str:
        return f"ServingClient({self.target!r}, model={self.model!r}, protocol={self.protocol!r})"

    def _where(self) -> str:
        version = f" version {self.version}" if self.version is not None else ""
        return f"TensorFlow Serving at {self.target} (model {self.model!r}{version}, signature {self.signature!r})"

    def _grpc_stub(self) -> Any:
        with self._lock:
            return self._open_stub()

    def _open_stub(self) -> Any:
        if self._stub is None:
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            options = [
                ("grpc.max_send_message_length", _MAX_MESSAGE),
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ]
            self._channel = grpc.insecure_channel(self.target, options=options)
            self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        return self._stub

    def _model_spec(self, signature: str | None) -> Any:
        from tensorflow_serving.apis import model_pb2

        spec = model_pb2.ModelSpec(name=self.model)
        if signature is not None:
            spec.signature_name = signature
        if self.version is not None:
            spec.version.value = self.version
        return spec

    def _grpc_error(self, exc: Any, what: str) -> ServingError:
        code = exc.code() if callable(getattr(exc, "code", None)) else None
        details = _one_line(exc.details() if callable(getattr(exc, "details", None)) else str(exc))
        name = getattr(code, "name", str(code))
        if name == "UNAVAILABLE":
            return ServingError(f"cannot reach {self._where()}: UNAVAILABLE: {details}")
        if name == "DEADLINE_EXCEEDED":
            return ServingError(f"{what} timed out after {self.timeout:g} s at {self._where()}")
        if name == "NOT_FOUND":
            return ServingError(f"{self._where()}: NOT_FOUND (unknown model or version): {details}")
        return ServingError(f"{self._where()} rejected the {what}: {name}: {details}")

    def _rest_url(self, suffix: str) -> str:
        version = f"/versions/{self.version}" if self.version is not None else ""
        return f"{self.target}/v1/models/{self.model}{version}{suffix}"

    def _rest_call(self, url: str, body: dict[str, Any] | None, what: str) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read().decode("utf-8", "replace")
            try:
                message = _one_line(str(json.loads(raw).get("error", raw)))
            except (ValueError, AttributeError):
                message = _one_line(raw) or str(exc.reason)
            code = _HTTP_CODES.get(exc.code, "UNKNOWN")
            if code == "NOT_FOUND":
                raise ServingError(
                    f"{self._where()}: HTTP 404 NOT_FOUND (unknown model or version): {message}"
                ) from exc
            raise ServingError(f"{self._where()} rejected the {what}: HTTP {exc.code} {code}: {message}") from exc
        except TimeoutError as exc:
            raise ServingError(f"{what} timed out after {self.timeout:g} s at {self._where()}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServingError(f"cannot reach {self._where()}: {reason}") from exc
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise ServingError(f"{self._where()} answered with invalid JSON to the {what}: {exc}") from exc

    # ------------------------------------------------------------------------------------ calls
    def predict_windows(self, windows: np.ndarray, signature: str | None = None) -> dict[str, np.ndarray]:
        """Sends raw windows [b, T, n] (cast to float32) and returns the named outputs as numpy arrays."""
        arr = _as_windows(windows)
        sig = signature or self.signature
        if self.protocol == "grpc":
            return self._predict_grpc(arr, sig)
        return self._predict_rest(arr, sig)

    def _predict_grpc(self, arr: np.ndarray, signature: str) -> dict[str, np.ndarray]:
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        stub = self._grpc_stub()
        request = predict_pb2.PredictRequest(model_spec=self._model_spec(signature))
        request.inputs["values"].CopyFrom(tf.make_tensor_proto(arr))
        try:
            response = stub.Predict(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self._grpc_error(exc, "Predict request") from exc
        return {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}

    def _predict_rest(self, arr: np.ndarray, signature: str) -> dict[str, np.ndarray]:
        body = build_rest_body(arr, signature)
        reply = self._rest_call(self._rest_url(":predict"), body, "predict request")
        if isinstance(reply, dict) and "predictions" in reply:
            preds = reply["predictions"]
            if not isinstance(preds, list) or len(preds) != arr.shape[0]:
                raise ServingError(f"{self._where()} returned {len(preds)} predictions for {arr.shape[0]} windows")
            if preds and isinstance(preds[0], dict):
                return {k: _json_array(k, [p[k] for p in preds]) for k in preds[0]}
            return {"output": np.asarray(preds)}
        if isinstance(reply, dict) and "outputs" in reply:
            outputs = reply["outputs"]
            if isinstance(outputs, dict):
                return {k: _json_array(k, v) for k, v in outputs.items()}
            return {"output": np.asarray(outputs)}
        raise ServingError(f"{self._where()} returned an unexpected reply: {str(reply)[:200]}")

    def signature_shapes(self, signature: str | None = None) -> dict[str, list[int]]:
        """The input shapes of a signature from the server's model metadata (-1 for the batch axis)."""
        sig = signature or self.signature
        if self.protocol == "grpc":
            defs = self._metadata_grpc()
        else:
            defs = self._metadata_rest()
        if sig not in defs:
            raise ServingError(f"{self._where()}: the model has no signature {sig!r} (it has {sorted(defs)})")
        return defs[sig]

    def _metadata_grpc(self) -> dict[str, dict[str, list[int]]]:
        import grpc
        from tensorflow_serving.apis import get_model_metadata_pb2

        stub = self._grpc_stub()
        request = get_model_metadata_pb2.GetModelMetadataRequest(model_spec=self._model_spec(None))
        request.metadata_field.append("signature_def")
        try:
            response = stub.GetModelMetadata(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self._grpc_error(exc, "GetModelMetadata request") from exc
        sig_map = get_model_metadata_pb2.SignatureDefMap()
        if "signature_def" not in response.metadata or not response.metadata["signature_def"].Unpack(sig_map):
            raise ServingError(f"{self._where()} returned no signature_def metadata")
        return {
            name: {key: [int(d.size) for d in info.tensor_shape.dim] for key, info in sdef.inputs.items()}
            for name, sdef in sig_map.signature_def.items()
        }

    def _metadata_rest(self) -> dict[str, dict[str, list[int]]]:
        reply = self._rest_call(self._rest_url("/metadata"), None, "metadata request")
        try:
            defs = reply["metadata"]["signature_def"]["signature_def"]
            return {
                name: {
                    key: [int(d.get("size", -1)) for d in info.get("tensor_shape", {}).get("dim", [])]
                    for key, info in sdef.get("inputs", {}).items()
                }
                for name, sdef in defs.items()
            }
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ServingError(f"{self._where()} returned metadata without signature_def: {exc}") from exc

    def model_window(self) -> tuple[int, int]:
        """(T, n_features) of the `values` input of the client's signature, from the server's metadata."""
        shapes = self.signature_shapes()
        shape = shapes.get("values")
        if shape is None or len(shape) != 3 or shape[1] < 1 or shape[2] < 1:
            raise ServingError(f"{self._where()}: the signature has no `values` input of shape [batch, T, n]: {shapes}")
        return int(shape[1]), int(shape[2])

    # ------------------------------------------------------------------------------------ rows
    def score_rows(
        self,
        data: pd.DataFrame | np.ndarray,
        features: list[str] | None = None,
        window: int | None = None,
        batch_size: int = 64,
        *,
        time_column: str | None = None,
        label_column: str | None = None,
        threshold: float | None = None,
        top_k: int = 3,
    ) -> pd.DataFrame:
        """Scores raw rows through the server; one output row per input row, in input order (streaming rule).

        Args:
            data: raw rows, a DataFrame (feature columns; `features` picks and orders them) or an array [rows, n].
            features: the feature columns in training order (default: every column but the time/label columns).
            window: T (default: read from the model's signature metadata).
            batch_size: windows per request.
            time_column, label_column: copied to the output, not sent.
            threshold: the export's streaming threshold (netgan.json), used for the flags of the T-1 warm-up rows;
                without it those rows get is_anomaly 0 (see `rows_from_served`).
            top_k: number of feature names in `top_features`.

        Columns: [time column], score, is_anomaly, discriminator_score, reconstruction_error, top_features,
        warmup (1 for the first T-1 rows), [label column].
        """
        from netgan_tf.data.loading import load_table
        from netgan_tf.data.windows import sliding_windows

        if isinstance(batch_size, bool) or int(batch_size) < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        n_expected: int | None = None
        if window is None:
            window, n_expected = self.model_window()
        if isinstance(window, bool) or int(window) < 1:
            raise ConfigError(f"window must be a positive integer, got {window!r}")
        t = int(window)
        if isinstance(data, pd.DataFrame):
            table = load_table(data, features=features, time_column=time_column, label_column=label_column, min_rows=t)
            values, names = table.values, table.feature_names
            time, labels = table.time, table.labels
        else:
            values = np.asarray(data, dtype=np.float32)
            if values.ndim != 2:
                raise DataError(f"rows must be a DataFrame or an array [rows, features], got shape {values.shape}")
            if values.shape[0] < t:
                raise DataError(f"needs at least {t} rows for one window of length {t}, got {values.shape[0]}")
            bad = ~np.isfinite(values)
            if bad.any():
                row, col = (int(v) for v in np.argwhere(bad)[0])
                raise DataError(f"rows contain {int(bad.sum())} NaN/inf value(s), first at row {row}, column {col}")
            names = list(features) if features is not None else [str(i) for i in range(values.shape[1])]
            time, labels = None, None
        if n_expected is not None and values.shape[1] != n_expected:
            raise DataError(
                f"the data has {values.shape[1]} feature columns ({', '.join(map(str, names))}) but model "
                f"{self.model!r} at {self.target} expects {n_expected}"
            )
        windows = sliding_windows(values, t)
        parts: dict[str, list[np.ndarray]] = {}
        keep = ("score", "is_anomaly", "discriminator_score", "reconstruction_error", "feature_score")
        first_steps: np.ndarray | None = None
        for start in range(0, windows.shape[0], int(batch_size)):
            out = self.predict_windows(windows[start : start + int(batch_size)])
            missing = [k for k in (*keep, "timestep_score") if k not in out]
            if missing:
                raise ServingError(f"{self._where()} returned no {missing} output(s): is it a netgan_tf export?")
            if first_steps is None:
                first_steps = np.asarray(out["timestep_score"])[:1]
            for key in keep:
                parts.setdefault(key, []).append(np.asarray(out[key]))
        assert first_steps is not None
        merged = {k: np.concatenate(v) for k, v in parts.items()}
        merged["timestep_score"] = first_steps
        rows = rows_from_served(merged, t, values.shape[0], names, threshold=threshold, top_k=top_k)
        if time is not None:
            rows.insert(0, str(time.name), time.to_numpy())
        if labels is not None and label_column is not None:
            rows[label_column] = labels
        return rows


def _one_line(message: str) -> str:
    """A server message on one line (TensorFlow's messages carry newlines and tabs)."""
    return " ".join(str(message).split())


def _json_array(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if name == "is_anomaly":
        return arr.astype(bool)
    if arr.dtype.kind in "if":
        return arr.astype(np.float32)
    return arr
