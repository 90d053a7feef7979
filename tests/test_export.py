"""SavedModel export: signatures, equality with the in-process detector, CPU-servability, versions, assets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
pytest.importorskip("tensorflow_serving.apis")

from serving_standin import TINY_FEATURES, TINY_WINDOW, tiny_detector, tiny_frames  # noqa: E402

from netgan_tf.data.windows import sliding_windows  # noqa: E402
from netgan_tf.errors import ConfigError  # noqa: E402
from netgan_tf.export import (  # noqa: E402
    SCORE_OUTPUTS,
    SIGNATURES,
    export_detector,
    load_metadata,
    serving_model,
    signature_table,
)
from netgan_tf.scoring.window_scores import InversionSettings, score_windows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class Exported:
    def __init__(self, detector: Any, train: Any, test: Any, run_dir: Path, base: Path, path: Path) -> None:
        self.detector = detector
        self.train = train
        self.test = test
        self.run_dir = run_dir
        self.base = base
        self.path = path
        self.loaded = tf.saved_model.load(str(path))
        values = test[detector.features].to_numpy(np.float32)
        self.values = values
        self.windows = np.ascontiguousarray(sliding_windows(values, TINY_WINDOW), dtype=np.float32)
        self.procs: dict[str, subprocess.Popen[str]] = {}


_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    root = tmp_path_factory.mktemp("export")
    train, test = tiny_frames()
    detector = tiny_detector(train)
    run_dir = detector.save(root / "run")
    base = root / "models"
    path = detector.export(base)
    ex = Exported(detector, train, test, run_dir, base, path)
    # The two command-line checks each start a fresh TensorFlow: run them beside the in-process tests.
    cli = Path(sys.executable).parent / "saved_model_cli"
    show = [str(cli), "show", "--all", "--dir", str(path)]
    export = [sys.executable, "-m", "netgan_tf.cli", "export", str(run_dir), "--out", str(base)]
    ex.procs = {
        "show": subprocess.Popen(show, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_ENV),
        "export": subprocess.Popen(
            export, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_ENV, cwd=ROOT
        ),
    }
    yield ex
    for proc in ex.procs.values():
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _finish(ex: Exported, name: str) -> tuple[int, str, str]:
    out, err = ex.procs[name].communicate(timeout=300)
    return ex.procs[name].returncode, out, err


@pytest.fixture(scope="module")
def served(exported: Exported) -> dict[str, np.ndarray]:
    out = exported.loaded.signatures["serving_default"](values=tf.constant(exported.windows))
    return {k: v.numpy() for k, v in out.items()}


def _in_process(exported: Exported, inversion: InversionSettings | None = None) -> dict[str, np.ndarray]:
    det = exported.detector
    scaled = det.scaler.transform(exported.windows)
    out = score_windows(det.model, scaled, det.normalization, inversion or det.options.inversion)
    return {k: np.asarray(v) for k, v in out.items()}


# ------------------------------------------------------------------------------------------------ signatures
_DTYPES = {"DT_FLOAT": "float32", "DT_BOOL": "bool"}


def _parse_cli(text: str) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """`saved_model_cli show --all` -> {signature: {"inputs"|"outputs": {name: {"dtype", "shape"}}}}."""
    sigs: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    current: dict[str, dict[str, dict[str, Any]]] | None = None
    tensor: dict[str, Any] | None = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Concrete Functions"):
            break  # the rest lists Python-level functions, not serving signatures
        if m := re.match(r"signature_def\['(.+)'\]:", line):
            current = sigs.setdefault(m[1], {"inputs": {}, "outputs": {}})
        elif (m := re.match(r"(inputs|outputs)\['(.+)'\] tensor_info:", line)) and current is not None:
            tensor = current[m[1]].setdefault(m[2], {})
        elif line.startswith("dtype:") and tensor is not None:
            tensor["dtype"] = _DTYPES.get(line.split()[1], line.split()[1])
        elif line.startswith("shape:") and tensor is not None:
            shape = line.split(":", 1)[1].strip()
            dims = shape.strip("()").split(",")
            known = shape != "unknown_rank"
            tensor["shape"] = [None if int(d) == -1 else int(d) for d in dims if d.strip()] if known else None
    return sigs


def test_saved_model_cli_lists_exactly_the_documented_signatures(exported: Exported) -> None:
    code, out, err = _finish(exported, "show")  # `saved_model_cli show --all --dir VERSION_DIR`
    assert code == 0, err
    listed = _parse_cli(out)
    listed.pop("__saved_model_init_op", None)  # TF's internal initialiser, not a serving signature
    expected = signature_table(TINY_WINDOW, TINY_FEATURES, exported.detector.settings.latent_dim)
    assert sorted(listed) == sorted(SIGNATURES)
    assert listed == expected
    assert list(expected["serving_default"]["outputs"]) == list(SCORE_OUTPUTS)


def test_loaded_signatures_names_dtypes_shapes(exported: Exported) -> None:
    sigs = exported.loaded.signatures
    assert sorted(sigs.keys()) == sorted(SIGNATURES)
    expected = signature_table(TINY_WINDOW, TINY_FEATURES, exported.detector.settings.latent_dim)
    for name, fn in sigs.items():
        inputs = fn.structured_input_signature[1]
        assert {k: (v.dtype.name, v.shape.as_list()) for k, v in inputs.items()} == {
            k: (v["dtype"], v["shape"]) for k, v in expected[name]["inputs"].items()
        }
        outputs = fn.structured_outputs
        assert {k: (v.dtype.name, v.shape.as_list()) for k, v in outputs.items()} == {
            k: (v["dtype"], v["shape"]) for k, v in expected[name]["outputs"].items()
        }


# ------------------------------------------------------------------------------------------------ values
def test_serving_default_score_equals_streaming_score_row_by_row(
    exported: Exported, served: dict[str, np.ndarray]
) -> None:
    det = exported.detector
    rows = det.score(exported.test, mode="streaming", time_column="timestamp", label_column="label")
    expected = rows["score"].to_numpy()
    t = TINY_WINDOW
    np.testing.assert_allclose(served["score"], expected[t - 1 :], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(served["timestep_score"][0, : t - 1], expected[: t - 1], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(
        served["discriminator_score"], rows["discriminator_score"].to_numpy()[t - 1 :], rtol=1e-5, atol=1e-4
    )
    threshold = det.thresholds["streaming"].value
    np.testing.assert_array_equal(served["is_anomaly"], served["score"] >= threshold)
    assert served["is_anomaly"].dtype == np.bool_


def test_serving_default_parts_equal_the_scoring_graph(exported: Exported, served: dict[str, np.ndarray]) -> None:
    det = exported.detector
    ref = _in_process(exported)
    tol = {"rtol": 1e-5, "atol": 1e-4}
    np.testing.assert_allclose(served["timestep_score"], ref["timestep_score"], **tol)
    np.testing.assert_allclose(served["feature_score"], ref["feature_score"][:, -1, :], **tol)
    np.testing.assert_allclose(served["inversion_loss"], ref["inversion_loss"], **tol)
    np.testing.assert_allclose(served["reconstruction_error"], ref["residual"][:, -1, :].mean(axis=-1), **tol)
    # reconstruction comes back in raw units: compare after scaling
    np.testing.assert_allclose(det.scaler.transform(served["reconstruction"]), ref["reconstruction"], **tol)


def test_score_fast_uses_the_encoder_start(exported: Exported, served: dict[str, np.ndarray]) -> None:
    fast = exported.loaded.signatures["score_fast"](values=tf.constant(exported.windows[:16]))
    assert sorted(fast) == sorted(SCORE_OUTPUTS)
    inv = exported.detector.options.inversion
    ref = _in_process(exported, InversionSettings("encoder", 0, inv.learning_rate, inv.seed))
    np.testing.assert_allclose(fast["timestep_score"].numpy(), ref["timestep_score"][:16], rtol=1e-5, atol=1e-4)
    # K refinement steps never make the reconstruction worse than the encoder's start
    assert np.all(served["inversion_loss"][:16] <= fast["inversion_loss"].numpy() + 1e-6)


def test_generate_and_discriminate(exported: Exported, served: dict[str, np.ndarray]) -> None:
    det = exported.detector
    latent_dim = det.settings.latent_dim
    z = np.random.default_rng(0).normal(size=(3, TINY_WINDOW, latent_dim)).astype(np.float32)
    gen = exported.loaded.signatures["generate"](latent=tf.constant(z))["values"].numpy()
    assert gen.shape == (3, TINY_WINDOW, TINY_FEATURES)
    np.testing.assert_allclose(det.scaler.transform(gen), det.model.generator(z).numpy(), rtol=1e-5, atol=1e-4)
    dis = exported.loaded.signatures["discriminate"](values=tf.constant(exported.windows[:5]))
    assert dis["discriminator_score"].shape == (5, TINY_WINDOW) and dis["logits"].shape == (5, TINY_WINDOW)
    np.testing.assert_allclose(dis["discriminator_score"].numpy()[:, -1], served["discriminator_score"][:5], atol=1e-5)


def test_nan_input_fails_with_a_clear_message(exported: Exported) -> None:
    bad = exported.windows[:2].copy()
    bad[1, 3, 2] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or inf"):
        exported.loaded.signatures["serving_default"](values=tf.constant(bad))


def test_keras_tfsm_layer(exported: Exported, served: dict[str, np.ndarray]) -> None:
    layer = keras.layers.TFSMLayer(str(exported.path), call_endpoint="serving_default")
    inputs = keras.Input((TINY_WINDOW, TINY_FEATURES))
    model = keras.Model(inputs, layer(inputs)["score"])
    np.testing.assert_allclose(np.asarray(model(exported.windows[:10])), served["score"][:10], atol=1e-5)


# ------------------------------------------------------------------------------------------------ graph
def _all_ops(path: Path) -> set[str]:
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((path / "saved_model.pb").read_bytes())
    ops: set[str] = set()
    for meta in proto.meta_graphs:
        ops.update(node.op for node in meta.graph_def.node)
        for fn in meta.graph_def.library.function:
            ops.update(node.op for node in fn.node_def)
    return ops


def test_graph_holds_no_cudnn_op(exported: Exported) -> None:
    ops = _all_ops(exported.path)
    assert "CheckNumerics" in ops  # the walk reaches the function library (input validation lives there)
    assert any(op in ops for op in ("While", "StatelessWhile"))  # inversion is a loop, not unrolled
    assert not [op for op in ops if op.startswith("CudnnRNN")]


def test_serving_model_disables_cudnn_and_copies_weights(exported: Exported) -> None:
    model = exported.detector.model
    copy = serving_model(model)
    lstms = [layer for sub in (copy.generator, copy.discriminator, copy.encoder) for layer in sub.lstms]
    assert lstms and all(layer.use_cudnn is False for layer in lstms)
    assert copy.unroll == model.unroll
    for a, b in zip(copy.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------------------------ versions
def test_versions_never_overwritten_and_cli_export(exported: Exported) -> None:
    assert exported.path == exported.base / "netgan" / "1"
    with pytest.raises(ConfigError, match="never overwritten"):
        export_detector(exported.detector, exported.base, version=1)
    code, out, err = _finish(exported, "export")  # `python -m netgan_tf.cli export RUN_DIR --out BASE`
    assert code == 0, err
    second = exported.base / "netgan" / "2"
    assert out.strip().splitlines()[-1] == str(second)
    assert (second / "saved_model.pb").is_file() and (second / "variables").is_dir()
    assert load_metadata(second)["version"] == 2

    from netgan_tf import cli

    assert cli.main(["export", str(exported.run_dir), "--out", str(exported.base), "--version", "1"]) == 2
    assert sorted(p.name for p in (exported.base / "netgan").iterdir()) == ["1", "2"]


def test_failed_export_leaves_nothing(exported: Exported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing:
        def track(self, model: Any) -> None:
            pass

        def add_endpoint(self, name: str, fn: Any) -> None:
            pass

        def write_out(self, path: str, verbose: bool = False) -> None:
            Path(path, "saved_model.pb").write_bytes(b"half")
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.export, "ExportArchive", Failing)
    with pytest.raises(ConfigError, match="No space left"):
        export_detector(exported.detector, tmp_path, name="m", version=3)
    assert list((tmp_path / "m").iterdir()) == []


def test_bad_arguments(exported: Exported, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="version"):
        export_detector(exported.detector, tmp_path, version=0)
    with pytest.raises(ConfigError, match="model name"):
        export_detector(exported.detector, tmp_path, name="../x")
    with pytest.raises(ConfigError, match="fast_steps"):
        export_detector(exported.detector, tmp_path, fast_steps=-1)


# ------------------------------------------------------------------------------------------------ assets
def test_metadata_json(exported: Exported) -> None:
    det = exported.detector
    meta = load_metadata(exported.path)
    assert meta["features"] == det.features and len(meta["features"]) == TINY_FEATURES
    assert meta["window"] == TINY_WINDOW and meta["latent_dim"] == det.settings.latent_dim
    assert meta["scaler"] == det.scaler.to_dict()
    assert meta["threshold"]["value"] == pytest.approx(det.thresholds["streaming"].value)
    assert meta["threshold"]["method"] == det.thresholds["streaming"].method
    assert meta["score"]["normalization"] == det.normalization.to_dict()
    assert meta["inversion"]["serving_default"] == vars(det.options.inversion)
    assert meta["inversion"]["score_fast"]["init"] == "encoder" and meta["inversion"]["score_fast"]["steps"] == 0
    assert [s["name"] for s in meta["signatures"]] == list(SIGNATURES)
    assert meta["tensorflow_version"] == tf.__version__ and meta["keras_version"] == keras.__version__
    assert meta["package_version"] and meta["cudnn"] is False and meta["warmup_requests"] == 4


def test_warmup_requests_parse_and_replay(exported: Exported) -> None:
    from tensorflow_serving.apis import prediction_log_pb2

    path = exported.path / "assets.extra" / "tf_serving_warmup_requests"
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(path))]
    seen = []
    for log in logs:
        request = log.predict_log.request
        values = tf.make_ndarray(request.inputs["values"])
        assert values.dtype == np.float32 and values.shape[1:] == (TINY_WINDOW, TINY_FEATURES)
        seen.append((request.model_spec.signature_name, values.shape[0]))
        out = exported.loaded.signatures[request.model_spec.signature_name](values=tf.constant(values))
        assert np.all(np.isfinite(out["score"].numpy()))
    assert sorted(seen) == sorted((s, b) for s in ("serving_default", "score_fast") for b in (1, 8))


def test_models_config_parses_and_readme_has_the_serving_commands() -> None:
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse((ROOT / "export" / "models.config").read_text(encoding="utf-8"), config)
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == ("netgan", "/models/netgan", "tensorflow")
    assert list(model.model_version_policy.specific.versions) == [1, 2]
    readme = (ROOT / "export" / "README.md").read_text(encoding="utf-8")
    docker = (
        "docker run -p 8500:8500 -p 8501:8501 \\\n"
        "  --mount type=bind,source=$PWD/export/netgan,target=/models/netgan \\\n"
        "  -e MODEL_NAME=netgan -t tensorflow/serving"
    )
    assert docker in readme
    assert "--model_config_file=/models/models.config" in readme and '"instances"' in readme
    for name in (*SIGNATURES, *SCORE_OUTPUTS):
        assert f"`{name}`" in readme
