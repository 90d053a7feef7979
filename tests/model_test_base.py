"""A KerasHub-style shared test base for the Keras models of netgan_tf.

A test class subclasses `ModelTestBase` (its name does not start with "Test", so pytest collects only the
subclasses) and sets:

- `model_cls`: the model class;
- `init_kwargs`: constructor arguments, preferably all different from the defaults (so a dropped argument shows);
- `input_shape`: the build shape, batch dimension None;
- `output_dim`: the last dimension of the output (time and batch dimensions are kept);
- `bad_init_kwargs`: keyword overrides that must raise `ConfigError` (defaults to `COMMON_BAD_INIT_KWARGS`).

Every inherited `test_*` method then runs for that class. The `run_*` / `assert_*` helpers can be used directly by
other tests as well.
"""

from __future__ import annotations

import doctest
import inspect
import io
import sys
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np
import pytest

from netgan_tf.errors import ConfigError

PACKAGE = "netgan_tf"
COMMON_BAD_INIT_KWARGS: list[dict[str, Any]] = [
    {"hidden_units": []},
    {"hidden_units": [8, 0]},
    {"n_features": 0},
    {"use_cudnn": "x"},
]


def normalise(value: Any) -> Any:
    """Tuples become lists, recursively: what a JSON round trip of a config does."""
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return value


def init_arg_names(cls: type) -> list[str]:
    """Named constructor arguments of `cls` (no self, *args, **kwargs)."""
    params = inspect.signature(cls.__init__).parameters.values()
    return [
        p.name
        for p in params
        if p.name != "self" and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]


def assert_same_weights(a: keras.Model, b: keras.Model) -> None:
    """Same number, shapes and values (exactly) of weights, in the same order."""
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for i, (x, y) in enumerate(zip(wa, wb, strict=True)):
        assert x.shape == y.shape, f"weight {i}: shapes {x.shape} != {y.shape}"
        np.testing.assert_array_equal(x, y, err_msg=f"weight {i} ({a.weights[i].path})")


def run_docstring_example(obj: Any) -> None:
    """Runs the doctest examples of `obj`'s own docstring in its module's namespace; fails on any mismatch."""
    module = sys.modules[obj.__module__]
    finder = doctest.DocTestFinder(recurse=False)
    tests = finder.find(obj, obj.__qualname__, module=module, globs=dict(vars(module)))
    assert tests and tests[0].examples, f"{obj.__qualname__} has no docstring example"
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test, out=out.write)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0
    assert results.failed == 0, out.getvalue()


class ModelTestBase:
    model_cls: ClassVar[type[keras.Model]]
    init_kwargs: ClassVar[dict[str, Any]]
    input_shape: ClassVar[tuple[int | None, ...]]
    output_dim: ClassVar[int]
    bad_init_kwargs: ClassVar[list[dict[str, Any]]] = COMMON_BAD_INIT_KWARGS

    # ------------------------------------------------------------------ helpers
    def make_model(self, build: bool = True, **overrides: Any) -> keras.Model:
        model = self.model_cls(**{**self.init_kwargs, **overrides})
        if build:
            model.build(self.input_shape)
        return model

    def make_inputs(self, rng: np.random.Generator, batch: int = 3, steps: int | None = None) -> np.ndarray:
        steps = self.input_shape[1] if steps is None else steps
        return rng.uniform(-1, 1, (batch, steps, self.input_shape[-1])).astype("float32")

    @staticmethod
    def assert_same_outputs(a: keras.Model, b: keras.Model, x: np.ndarray, atol: float = 0.0) -> None:
        ya, yb = np.asarray(a(x)), np.asarray(b(x))
        assert ya.shape == yb.shape
        if atol == 0:
            np.testing.assert_array_equal(ya, yb)
        else:
            np.testing.assert_allclose(ya, yb, rtol=0, atol=atol)

    def run_saving_test(self, model: keras.Model, x: np.ndarray, path: Path) -> keras.Model:
        """`.keras` save -> `keras.models.load_model`: same class, config, weights and (exactly) outputs."""
        model.save(path)
        loaded = keras.models.load_model(path)
        assert type(loaded) is type(model)
        assert loaded.get_config() == model.get_config()
        assert_same_weights(model, loaded)
        self.assert_same_outputs(model, loaded, x)
        return loaded

    # ------------------------------------------------------------------ tests
    @pytest.mark.parametrize(("batch", "steps"), [(3, None), (1, 5)])
    def test_output_shape(self, rng: np.random.Generator, batch: int, steps: int | None) -> None:
        model = self.make_model()
        x = self.make_inputs(rng, batch, steps)
        y = model(x)
        expected = (batch, x.shape[1], self.output_dim)
        assert tuple(y.shape) == expected
        assert tuple(model.compute_output_shape(x.shape)) == expected
        assert np.all(np.isfinite(np.asarray(y)))

    def test_config_round_trip(self, rng: np.random.Generator) -> None:
        model = self.make_model()
        config = model.get_config()
        clone = self.model_cls.from_config(config)
        assert clone.get_config() == config
        clone.build(self.input_shape)
        clone.set_weights(model.get_weights())
        self.assert_same_outputs(model, clone, self.make_inputs(rng))

    def test_config_has_every_init_arg(self) -> None:
        config = self.make_model(build=False).get_config()
        missing = [name for name in init_arg_names(self.model_cls) if name not in config]
        assert not missing, f"get_config() lacks constructor arguments {missing}"
        for name, value in self.init_kwargs.items():
            assert config[name] == normalise(value), name
        # The defaults are serialized too, and the config is JSON-friendly.
        keras.saving.serialize_keras_object(self.model_cls.from_config(config))

    def test_keras_file_round_trip(self, rng: np.random.Generator, tmp_path: Path) -> None:
        self.run_saving_test(self.make_model(), self.make_inputs(rng), tmp_path / "model.keras")

    def test_keras_file_round_trip_built_by_call(self, rng: np.random.Generator, tmp_path: Path) -> None:
        model = self.make_model(build=False)
        x = self.make_inputs(rng)
        model(x)  # built implicitly by the first call
        self.run_saving_test(model, x, tmp_path / "model.keras")

    def test_build_twice_is_safe(self, rng: np.random.Generator) -> None:
        model = self.make_model()
        variables = list(model.weights)
        values = model.get_weights()
        x = self.make_inputs(rng)
        before = np.asarray(model(x))
        model.build(self.input_shape)
        model.build((4, *self.input_shape[1:]))
        assert len(model.weights) == len(variables)
        assert all(a is b for a, b in zip(model.weights, variables, strict=True))
        for a, b in zip(model.get_weights(), values, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(np.asarray(model(x)), before)

    def test_bad_init_kwargs_raise_config_error(self) -> None:
        assert self.bad_init_kwargs
        for bad in self.bad_init_kwargs:
            with pytest.raises(ConfigError):
                self.model_cls(**{**self.init_kwargs, **bad})

    def test_registered_under_package(self) -> None:
        name = f"{PACKAGE}>{self.model_cls.__name__}"
        assert keras.saving.get_registered_name(self.model_cls) == name
        assert keras.saving.get_registered_object(name) is self.model_cls

    def test_docstring_example_runs(self) -> None:
        run_docstring_example(self.model_cls)
