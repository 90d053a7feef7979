"""Benchmarks for netgan_tf (`make bench`): throughput, detection quality, inversion grid.

Shared helpers live here: environment set-up, load averages, result writing and markdown tables.
Nothing here is imported by the package itself.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent
PEERS_NOTE = "from ../shared/benchmarks/peers-dev.md"


def log(msg: str) -> None:
    """Progress line on stdout (flushed, time-stamped)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return []


def machine_info() -> dict[str, Any]:
    import tensorflow as tf

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return {
        "cpus": cpus,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "platform": platform.platform(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
    }


def start_record(name: str, argv: Sequence[str] | None = None) -> dict[str, Any]:
    return {
        "benchmark": name,
        "command": " ".join(
            [sys.executable, "-m", f"benchmarks.{name}", *(argv if argv is not None else sys.argv[1:])]
        ),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "loadavg_start": loadavg(),
    }


def finish_record(record: dict[str, Any], t0: float) -> dict[str, Any]:
    record["loadavg_end"] = loadavg()
    record["wall_s"] = round(time.perf_counter() - t0, 1)
    record["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return record


def write_results(name: str, record: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    js = RESULTS_DIR / f"{name}.json"
    md = RESULTS_DIR / f"{name}.md"
    js.write_text(json.dumps(record, indent=2, default=_json_default) + "\n", encoding="utf-8")
    md.write_text(markdown.rstrip() + "\n", encoding="utf-8")
    log(f"wrote {js.relative_to(REPO_ROOT)} and {md.relative_to(REPO_ROOT)}")
    return js, md


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v != v:  # NaN
        return "–"
    return f"{v:.{digits}f}"


def ratio(a: Any, b: Any, digits: int = 2) -> str:
    """a / b formatted as '×r' ('–' when b is 0 or missing)."""
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return "–"
    if fb == 0 or fb != fb or fa != fa:
        return "–"
    return f"×{fa / fb:.{digits}f}"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def data_root_or_none() -> Path | None:
    """The development data folder (read in place, never copied), or None with a message."""
    from netgan_tf.datasets import default_data_root

    root = default_data_root()
    if root is None or not root.is_dir():
        log("development data not found (../shared/data or $NETGAN_DATA): skipping the data benchmarks")
        return None
    return root
