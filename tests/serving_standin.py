"""Loopback stand-ins for TensorFlow Serving, used by the serving tests.

The TensorFlow Serving binary (`tensorflow_model_server`) cannot be installed on these machines: no Debian or PyPI
package ships it and there is no Docker engine. These stand-ins serve an exported SavedModel the way TF Serving does,
so that the client is tested over real sockets:

* `GrpcStandIn`: a gRPC server on 127.0.0.1 (ephemeral port) built from the official
  `tensorflow_serving.apis.prediction_service_pb2_grpc.PredictionServiceServicer`; it implements `Predict` and
  `GetModelMetadata` around `tf.saved_model.load(...)` of ``BASE/NAME/VERSION``.
* `RestStandIn`: an `http.server` on 127.0.0.1 with TF Serving's REST routes
  ``POST /v1/models/NAME[/versions/N]:predict`` ("instances" row format) and ``GET .../metadata``.

Like TF Serving: an unknown model or version is NOT_FOUND ("Servable not found for request: ..."), an unknown
signature FAILED_PRECONDITION, and an input of the wrong name, dtype or shape, or one the graph rejects (NaN), is
INVALID_ARGUMENT carrying TensorFlow's message. The newest numeric version folder is served when none is requested.
"""

from __future__ import annotations

import json
import re
import threading
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    model_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

_STATUS = {
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.INTERNAL: 500,
}


class StandInError(Exception):
    """A request failure with the gRPC status code TF Serving would use."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _dtype_name(dtype: tf.DType) -> str:
    """TensorFlow's C++ name of a dtype, as TF Serving prints it ("float", "double", "int32")."""
    return types_pb2.DataType.Name(dtype.as_datatype_enum).removeprefix("DT_").lower()


@dataclass
class _Servable:
    version: int
    loaded: Any
    signature_defs: Any  # map name -> SignatureDef (from saved_model.pb, as TF Serving reports them)


class ModelStore:
    """Loads ``base_dir/NAME/VERSION`` lazily (once) and runs signatures; shared by both stand-ins."""

    def __init__(self, base_dir: str | Path) -> None:
        self.base_dir = Path(base_dir)
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int], _Servable] = {}

    def servable(self, name: str, version: int | None) -> _Servable:
        model_dir = self.base_dir / name
        versions = sorted(int(p.name) for p in model_dir.glob("*") if p.is_dir() and p.name.isdigit())
        wanted = version if version is not None else (versions[-1] if versions else None)
        if wanted is None or wanted not in versions:
            spec = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            raise StandInError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {spec}")
        key = (name, wanted)
        with self._lock:
            if key not in self._cache:
                path = model_dir / str(wanted)
                proto = saved_model_pb2.SavedModel()
                proto.ParseFromString((path / "saved_model.pb").read_bytes())
                defs = proto.meta_graphs[0].signature_def
                self._cache[key] = _Servable(wanted, tf.saved_model.load(str(path)), defs)
            return self._cache[key]

    def predict(
        self, name: str, version: int | None, signature: str, inputs: dict[str, np.ndarray]
    ) -> tuple[int, dict[str, np.ndarray]]:
        servable = self.servable(name, version)
        signature = signature or "serving_default"
        if signature not in servable.loaded.signatures:
            raise StandInError(grpc.StatusCode.FAILED_PRECONDITION, f'Serving signature key "{signature}" not found.')
        fn = servable.loaded.signatures[signature]
        specs: dict[str, tf.TensorSpec] = fn.structured_input_signature[1]
        unknown = sorted(set(inputs) - set(specs))
        if unknown:
            raise StandInError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input tensor alias not found in signature: {', '.join(unknown)}. Inputs expected to be in the "
                f"set {{{', '.join(sorted(specs))}}}.",
            )
        missing = sorted(set(specs) - set(inputs))
        if missing:
            raise StandInError(
                grpc.StatusCode.INVALID_ARGUMENT, f"Missing input tensor alias(es): {', '.join(missing)}"
            )
        feed: dict[str, tf.Tensor] = {}
        for key, spec in specs.items():
            value = inputs[key]
            if value.dtype != spec.dtype.as_numpy_dtype:
                got = _dtype_name(tf.as_dtype(value.dtype)) if value.dtype != object else "string"
                raise StandInError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Expects arg[0] ({key}) to be {_dtype_name(spec.dtype)} but {got} is provided",
                )
            if not spec.shape.is_compatible_with(value.shape):
                raise StandInError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"input {key!r}: shape {list(value.shape)} is incompatible with the signature's "
                    f"{spec.shape.as_list()} (-1/None: any batch size)".replace("None", "-1"),
                )
            feed[key] = tf.constant(value)
        try:
            result = fn(**feed)
        except tf.errors.InvalidArgumentError as exc:
            raise StandInError(grpc.StatusCode.INVALID_ARGUMENT, exc.message) from exc
        except tf.errors.OpError as exc:
            raise StandInError(grpc.StatusCode.INTERNAL, exc.message) from exc
        return servable.version, {k: v.numpy() for k, v in result.items()}


# ------------------------------------------------------------------------------------------------ gRPC
class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, store: ModelStore) -> None:
        self.store = store

    @staticmethod
    def _version(spec: model_pb2.ModelSpec) -> int | None:
        return int(spec.version.value) if spec.HasField("version") else None

    def Predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802
        try:
            inputs = {}
            for key, proto in request.inputs.items():
                try:
                    inputs[key] = tf.make_ndarray(proto)
                except Exception as exc:  # a malformed TensorProto
                    raise StandInError(grpc.StatusCode.INVALID_ARGUMENT, f"input {key!r}: {exc}") from exc
            spec = request.model_spec
            version, outputs = self.store.predict(spec.name, self._version(spec), spec.signature_name, inputs)
        except StandInError as exc:
            context.abort(exc.code, exc.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = version
        response.model_spec.signature_name = request.model_spec.signature_name or "serving_default"
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(  # noqa: N802
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, context: grpc.ServicerContext
    ) -> Any:
        try:
            if list(request.metadata_field) != ["signature_def"]:
                raise StandInError(
                    grpc.StatusCode.INVALID_ARGUMENT, "Metadata field signature_def is the only one supported"
                )
            servable = self.store.servable(request.model_spec.name, self._version(request.model_spec))
        except StandInError as exc:
            context.abort(exc.code, exc.message)
        sig_map = get_model_metadata_pb2.SignatureDefMap()
        for key, sdef in servable.signature_defs.items():
            sig_map.signature_def[key].CopyFrom(sdef)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = servable.version
        response.metadata["signature_def"].Pack(sig_map)
        return response


class GrpcStandIn:
    """A loopback gRPC PredictionService serving ``base_dir``; use as a context manager or call `stop()`."""

    def __init__(self, base_dir: str | Path, workers: int = 8) -> None:
        self.store = ModelStore(base_dir)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_PredictionService(self.store), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=None)

    def __enter__(self) -> GrpcStandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------------------------------ REST
_ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[0-9]+))?(?P<verb>:predict|/metadata)$")


def _jsonable(value: np.ndarray) -> Any:
    if value.dtype == np.bool_:
        return value.astype(bool).tolist()
    return value.tolist()


class _RestHandler(BaseHTTPRequestHandler):
    store: ModelStore

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the access log
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[str, int | None, str]:
        match = _ROUTE.match(self.path)
        if match is None:
            raise StandInError(grpc.StatusCode.NOT_FOUND, f"Malformed request: {self.command} {self.path}")
        version = int(match["version"]) if match["version"] else None
        return match["name"], version, match["verb"]

    def do_GET(self) -> None:  # noqa: N802
        try:
            name, version, verb = self._route()
            if verb != "/metadata":
                raise StandInError(grpc.StatusCode.NOT_FOUND, f"Malformed request: GET {self.path}")
            servable = self.store.servable(name, version)
        except StandInError as exc:
            self._reply(_STATUS.get(exc.code, 500), {"error": exc.message})
            return
        sig_map = get_model_metadata_pb2.SignatureDefMap()
        for key, sdef in servable.signature_defs.items():
            sig_map.signature_def[key].CopyFrom(sdef)
        body = {
            "model_spec": {"name": name, "signature_name": "", "version": str(servable.version)},
            "metadata": {"signature_def": json_format.MessageToDict(sig_map, preserving_proto_field_name=True)},
        }
        self._reply(200, body)

    def do_POST(self) -> None:  # noqa: N802
        try:
            name, version, verb = self._route()
            if verb != ":predict":
                raise StandInError(grpc.StatusCode.NOT_FOUND, f"Malformed request: POST {self.path}")
            length = int(self.headers.get("Content-Length", "0"))
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError as exc:
                raise StandInError(grpc.StatusCode.INVALID_ARGUMENT, f"JSON Parse error: {exc}") from exc
            if "instances" not in body:
                raise StandInError(grpc.StatusCode.INVALID_ARGUMENT, "Missing 'instances' key")
            instances = body["instances"]
            if isinstance(instances, list) and instances and isinstance(instances[0], dict):
                instances = [item.get("values") for item in instances]  # [{"values": ...}, ...] form
            try:
                values = np.asarray(instances, dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise StandInError(grpc.StatusCode.INVALID_ARGUMENT, f"Failed to process element: {exc}") from exc
            _, outputs = self.store.predict(name, version, body.get("signature_name", ""), {"values": values})
        except StandInError as exc:
            self._reply(_STATUS.get(exc.code, 500), {"error": exc.message})
            return
        n = len(values)
        predictions = [{k: _jsonable(v[i]) for k, v in outputs.items()} for i in range(n)]
        self._reply(200, {"predictions": predictions})


class RestStandIn:
    """A loopback HTTP server with TF Serving's REST predict/metadata routes over ``base_dir``."""

    def __init__(self, base_dir: str | Path, store: ModelStore | None = None) -> None:
        handler = type("Handler", (_RestHandler,), {"store": store or ModelStore(base_dir)})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> RestStandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------------------------------ test data
TINY_FEATURES = 4
TINY_WINDOW = 8


def tiny_frames() -> tuple[Any, Any]:
    """Small train/test frames (timestamp, 4 counters, label) from the synthetic network counters."""
    from netgan_tf.datasets.synthetic import make_network_counters

    data = make_network_counters(n_train=400, n_test=200, n_features=12, n_anomalies=2, seed=0)
    columns = [data.time_column, *data.feature_names[:TINY_FEATURES], data.label_column]
    return data.train[columns].copy(), data.test[columns].copy()


def tiny_detector(train: Any) -> Any:
    """A detector trained for one epoch on `train` (seconds on two CPU cores)."""
    from netgan_tf.detector import AnomalyDetector

    detector = AnomalyDetector(
        window=TINY_WINDOW, epochs=1, hidden=8, latent_dim=3, inversion_steps=5, verbose=0, batch_size=32
    )
    return detector.fit(train, time_column="timestamp", label_column="label")
