"""The score plot: top features, anomaly score with its threshold, true and flagged anomalies."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from netgan_tf.rundir import atomic_write


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    m = np.concatenate([[0], np.asarray(mask, np.int8), [0]])
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def plot_scores(
    path: str | os.PathLike[str],
    values: np.ndarray,
    feature_names: Sequence[str],
    scores: pd.DataFrame,
    labels: np.ndarray | None = None,
    n_features: int = 4,
    title: str = "netgan_tf anomaly scores",
) -> None:
    """Writes a PNG: the `n_features` most often top-attributed features (each min-max normalised, one panel
    each), then the score with the training threshold; true anomalies shaded red, flagged rows marked orange."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    flags = scores["is_anomaly"].to_numpy().astype(bool)
    counts = pd.Series(
        [f for row in scores.loc[flags, "top_features"] for f in str(row).split(";") if f] or [], dtype=object
    ).value_counts()
    chosen = [f for f in counts.index if f in feature_names][:n_features]
    for f in feature_names:
        if len(chosen) >= min(n_features, len(feature_names)):
            break
        if f not in chosen:
            chosen.append(f)
    x = np.arange(len(scores))
    fig, axes = plt.subplots(len(chosen) + 1, 1, figsize=(13, 1.6 * len(chosen) + 3), sharex=True)
    axes = np.atleast_1d(axes)
    true_spans = _spans(labels) if labels is not None else []
    flag_spans = _spans(flags)
    for ax, name in zip(axes[:-1], chosen):
        col = values[:, list(feature_names).index(name)]
        ax.plot(x, col, lw=0.8, color="#1f77b4")
        ax.set_ylabel(name, rotation=0, ha="right", fontsize=8)
        ax.tick_params(labelsize=7)
        for a, b in true_spans:
            ax.axvspan(a, b, color="red", alpha=0.15, lw=0)
    ax = axes[-1]
    ax.plot(x, scores["score"].to_numpy(), lw=0.8, color="black", label="score")
    threshold = float(scores["threshold"].iloc[0]) if "threshold" in scores else None
    if threshold is not None:
        ax.axhline(threshold, color="orange", ls="--", lw=1, label=f"threshold {threshold:.3g}")
    for a, b in true_spans:
        ax.axvspan(a, b, color="red", alpha=0.15, lw=0)
    for a, b in flag_spans:
        ax.axvspan(a, b, ymin=0, ymax=0.06, color="orange", lw=0)
    handles, names = ax.get_legend_handles_labels()
    from matplotlib.patches import Patch

    handles += [Patch(color="red", alpha=0.3), Patch(color="orange")]
    names += ["true anomaly", "flagged"]
    ax.legend(handles, names, loc="upper right", fontsize=8, ncol=4)
    ax.set_ylabel("score", rotation=0, ha="right")
    ax.set_xlabel("row")
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"), suffix=".png")
    plt.close(fig)
