"""The notebooks run top to bottom (small mode, NETGAN_SMALL=1) and are committed clean.

Each notebook runs in its own kernel (ipykernel's `python3` kernelspec from this environment; jupyter_client starts it
with the current interpreter) with the notebooks folder as working directory. The notebooks write only to temporary
folders, so they are safe to run in parallel with the rest of the suite (pytest-xdist `--dist loadfile` keeps this
file on one worker).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
MAX_BYTES = 300_000

# Text each notebook must print when it runs: evidence that its main steps happened, not only that nothing raised.
EXPECTED_OUTPUT: dict[str, list[str]] = {
    "01_quickstart.ipynb": [
        "val_reconstruction_loss",  # model.fit with validation data and the callbacks
        "Point-wise (headline)",  # metrics report at the training threshold
        "ORACLE",
        "saved_model.pb",  # the export
    ],
    "02_serving.ipynb": [
        "serving_default",
        "score_fast",
        "TFSMLayer scores match the signature: True",
        "cuDNN ops in the graph: none",
        "largest |served - API streaming| score difference",
        "gRPC and in-process scores agree: True",
        "REST and in-process scores agree: True",
    ],
    "03_your_own_data.ipynb": [
        "$ netgan train",
        "trained 1 epochs",
        "$ netgan score",
        "Point-wise (headline)",
        "point-adjusted F1 (inflated)",
    ],
}
NOTEBOOKS = sorted(EXPECTED_OUTPUT)


def _text_outputs(nb: nbformat.NotebookNode) -> str:
    parts: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif out.get("output_type") in ("execute_result", "display_data"):
                data = out.get("data", {})
                parts.append(data.get("text/plain", "") + data.get("text/html", ""))
    return "\n".join(parts)


def test_every_notebook_is_tested() -> None:
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_clean(name: str) -> None:
    path = NOTEBOOK_DIR / name
    assert path.stat().st_size < MAX_BYTES, f"{name} is {path.stat().st_size} bytes"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: committed with outputs; clear them before committing"
            assert cell.execution_count is None, f"{name}: committed with execution counts"
    source = "\n".join(cell.source for cell in nb.cells)
    assert 'os.environ.get("NETGAN_SMALL") == "1"' in source, f"{name} has no small-size switch"
    # the Colab install cell must do nothing outside Colab
    install = next(c.source for c in nb.cells if c.cell_type == "code" and "pip" in c.source)
    assert re.search(r'^if IN_COLAB:|^if "google\.colab" in sys\.modules', install, flags=re.M), install


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("NETGAN_SMALL", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"{name} failed:\n{exc}")
    errors = [out for cell in nb.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, errors
    text = _text_outputs(nb)
    missing = [s for s in EXPECTED_OUTPUT[name] if s not in text]
    assert not missing, f"{name}: expected output missing: {missing}"
