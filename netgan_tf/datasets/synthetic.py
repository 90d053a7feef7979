"""A deterministic generator of realistic network-monitoring counters with labelled, injected anomalies.

The counters are driven by shared latent traffic so that they are correlated the way real monitoring
data is: on each interface the in/out octets and packets follow the same traffic curve, and the service
metrics (TCP connections, HTTP requests, errors, latency, CPU, memory) follow the total traffic. Each
latent curve has a daily profile (``period`` rows per day, 5-minute rows by default), a mild weekend dip
and a slow AR(1) drift; every counter adds its own noise.

The test frame receives ``n_anomalies`` injections, cycling through :data:`ANOMALY_KINDS`, each in one
counter, none overlapping and none starting in the first 100 test rows:

- ``spike``: a large, short jump (1-3 rows);
- ``level_shift``: a sustained offset (20-60 rows);
- ``correlation_break``: the counter is replaced by a time-shifted copy of its own pattern, so it stays in
  its normal range but no longer follows its group (20-60 rows);
- ``flatline``: the counter is stuck, at zero (an outage) or at its last value (20-60 rows).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from netgan_tf.errors import ConfigError

__all__ = ["ANOMALY_KINDS", "Anomaly", "SyntheticCounters", "make_network_counters", "write_csv"]

ANOMALY_KINDS = ("spike", "level_shift", "correlation_break", "flatline")

_MIN_FEATURES = 12
_NO_ANOMALY_ROWS = 100  # anomalies never start in the first 100 test rows
_GAP = 10  # at least this many normal rows between two anomalies
_VISIBLE = 0.2  # mean deviation (in units of a counter's full scale) that makes an anomaly clearly visible
_START_TIME = "2024-01-01 00:00:00"
_STEP = "5min"

# Per-interface counters: (name prefix, full scale, share of the interface's traffic curve).
_INTERFACE_COUNTERS = (
    ("if_in_octets", 1.25e8),
    ("if_out_octets", 6.0e7),
    ("if_in_packets", 1.1e5),
    ("if_out_packets", 7.5e4),
)
# Service counters: name -> full scale (value = scale * normalised level).
_SERVICE_COUNTERS = (
    ("tcp_conn_established", 5000.0),
    ("tcp_retransmits", 150.0),
    ("http_req_rate", 2000.0),
    ("http_5xx_rate", 20.0),
    ("http_latency_ms", 250.0),
    ("cpu_util", 100.0),
    ("mem_util", 100.0),
    ("disk_io_rate", 800.0),
)
_PERCENT = frozenset({"cpu_util", "mem_util"})
# Gauges stuck at their last value in a flatline; traffic counters drop to zero (an outage).
_GAUGES = frozenset({"cpu_util", "mem_util", "http_latency_ms"})


@dataclass
class Anomaly:
    """One injected anomaly: rows ``[start, end)`` of the test frame, in one counter."""

    kind: str
    start: int
    end: int
    feature: str

    @property
    def length(self) -> int:
        """Number of rows."""
        return self.end - self.start


@dataclass
class SyntheticCounters:
    """Generated train/test frames.

    ``train`` and ``test`` have a ``timestamp`` column (datetime64, 5-minute spacing, test continuing
    right after train), the feature columns and a ``label`` column (train all 0; test 1 inside anomalies).
    """

    train: pd.DataFrame
    test: pd.DataFrame
    anomalies: list[Anomaly]
    feature_names: list[str]
    time_column: str = "timestamp"
    label_column: str = "label"

    @property
    def test_labels(self) -> np.ndarray:
        """Test labels as an int8 array."""
        return self.test[self.label_column].to_numpy(dtype=np.int8)


def _feature_layout(n_features: int) -> list[tuple[str, int | None]]:
    """Feature names with the interface index they belong to (None for service counters)."""
    layout: list[tuple[str, int | None]] = [(f"{p}_eth0", 0) for p, _ in _INTERFACE_COUNTERS]
    layout += [(name, None) for name, _ in _SERVICE_COUNTERS]
    iface = 1
    while len(layout) < n_features:
        for prefix, _ in _INTERFACE_COUNTERS:
            if len(layout) < n_features:
                layout.append((f"{prefix}_eth{iface}", iface))
        iface += 1
    return layout[:n_features]


def _ar1(rng: np.random.Generator, n: int, phi: float, std: float) -> np.ndarray:
    """A stationary AR(1) series with the given marginal standard deviation."""
    eps = rng.normal(0.0, std * np.sqrt(1.0 - phi * phi), size=n)
    out = np.empty(n)
    acc = rng.normal(0.0, std)
    for i in range(n):
        acc = phi * acc + eps[i]
        out[i] = acc
    return out


def _daily_profile(t: np.ndarray, period: int, phase: float) -> np.ndarray:
    """Diurnal traffic shape in about [0.15, 0.95]: a night trough, a daytime plateau, an evening peak."""
    angle = 2.0 * np.pi * (t / period - phase)
    day = 0.55 - 0.30 * np.cos(angle) + 0.08 * np.sin(2.0 * angle) - 0.04 * np.cos(3.0 * angle)
    weekend = ((t // period) % 7) >= 5
    return np.where(weekend, 0.85 * day, day)


def _smooth(x: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential moving average (a slow follower of ``x``)."""
    out = np.empty_like(x)
    acc = x[0]
    for i, v in enumerate(x):
        acc = alpha * v + (1.0 - alpha) * acc
        out[i] = acc
    return out


def _normalised_signals(
    rng: np.random.Generator, layout: list[tuple[str, int | None]], n: int, period: int, lead: int
) -> np.ndarray:
    """Clean (noise-free) normalised levels ``[n, n_features]``, mostly in [0.1, 1]."""
    t = np.arange(n, dtype=np.float64) - lead
    n_ifaces = 1 + max(i for _, i in layout if i is not None)
    base_phase = rng.uniform(0.0, 1.0)
    shared = _daily_profile(t, period, base_phase) * (1.0 + _ar1(rng, n, 0.995, 0.08))
    traffic = []
    for k in range(n_ifaces):
        if k == 0:
            curve = shared
        else:
            own = _daily_profile(t, period, base_phase + rng.uniform(-0.08, 0.08))
            own = own * (1.0 + _ar1(rng, n, 0.995, 0.10))
            curve = 0.6 * shared + 0.4 * own
        traffic.append(np.clip(curve, 0.05, 1.2))
    total = np.mean(traffic, axis=0)

    requests = np.clip(total * (1.0 + _ar1(rng, n, 0.98, 0.03)), 0.05, 1.2)
    columns: list[np.ndarray] = []
    for name, iface in layout:
        if iface is not None:
            curve = traffic[iface]
            if "out" in name:
                # Responses lag requests a little and are somewhat less bursty.
                curve = 0.15 + 0.8 * np.roll(curve, 1)
            if "packets" in name:
                curve = curve**0.9
            columns.append(curve)
        elif name == "tcp_conn_established":
            columns.append(0.10 + 0.85 * total)
        elif name == "tcp_retransmits":
            columns.append(0.15 + 0.6 * total**2)
        elif name == "http_req_rate":
            columns.append(0.05 + 0.9 * requests)
        elif name == "http_5xx_rate":
            columns.append(0.20 + 0.5 * requests)
        elif name == "http_latency_ms":
            columns.append(0.25 + 0.55 * requests**2)
        elif name == "cpu_util":
            columns.append(0.12 + 0.70 * requests)
        elif name == "mem_util":
            columns.append(0.35 + 0.45 * _smooth(requests, 0.02))
        else:  # disk_io_rate
            columns.append(0.10 + 0.35 * total + 0.25 * _smooth(total, 0.05))
    return np.stack(columns, axis=1)


def _place(rng: np.random.Generator, n_test: int, n_anomalies: int) -> list[tuple[int, int, str]]:
    """Non-overlapping ``(start, end, kind)`` ranges in the test part, kinds cycling in order."""
    if n_anomalies == 0:
        return []
    usable = n_test - _NO_ANOMALY_ROWS
    slot = usable // n_anomalies
    if slot < 20 + _GAP:
        raise ConfigError(
            f"n_test={n_test} is too short for {n_anomalies} anomalies: need at least "
            f"{_NO_ANOMALY_ROWS + n_anomalies * (20 + _GAP)} test rows"
        )
    offset = int(rng.integers(0, len(ANOMALY_KINDS)))
    out = []
    for i in range(n_anomalies):
        kind = ANOMALY_KINDS[(offset + i) % len(ANOMALY_KINDS)]
        if kind == "spike":
            length = int(rng.integers(1, 4))
        else:
            length = min(int(rng.integers(20, 61)), slot - _GAP)
        lo = _NO_ANOMALY_ROWS + i * slot
        start = lo + int(rng.integers(0, slot - length - _GAP + 1))
        out.append((start, start + length, kind))
    return out


def make_network_counters(
    n_train: int = 4000,
    n_test: int = 2000,
    n_features: int = 12,
    period: int = 288,
    n_anomalies: int = 12,
    noise: float = 0.05,
    seed: int = 0,
) -> SyntheticCounters:
    """Generate correlated network counters with a labelled test part (same seed -> identical frames).

    Args:
        n_train: rows of the (anomaly-free) train frame.
        n_test: rows of the test frame, which continues in time right after train.
        n_features: number of counters, at least 12; beyond 12, more interfaces are added
            (in/out octets and packets for eth1, eth2, ...).
        period: rows per day (288 = 5-minute rows).
        n_anomalies: injections in the test frame, cycling through :data:`ANOMALY_KINDS`.
        noise: standard deviation of the per-counter noise, relative to the counter's full scale.
        seed: random seed.

    Raises:
        ConfigError: an argument out of range, or too few test rows for the anomalies.
    """
    if int(n_features) < _MIN_FEATURES:
        raise ConfigError(f"n_features must be >= {_MIN_FEATURES}, got {n_features}")
    if int(n_train) < 1:
        raise ConfigError(f"n_train must be >= 1, got {n_train}")
    if int(n_test) < _NO_ANOMALY_ROWS + 1:
        raise ConfigError(f"n_test must be > {_NO_ANOMALY_ROWS}, got {n_test}")
    if int(period) < 4:
        raise ConfigError(f"period must be >= 4 rows, got {period}")
    if int(n_anomalies) < 0:
        raise ConfigError(f"n_anomalies must be >= 0, got {n_anomalies}")
    if not (np.isfinite(noise) and 0.0 <= float(noise) <= 0.5):
        raise ConfigError(f"noise must be in [0, 0.5], got {noise}")
    n_train, n_test, n_features, period = int(n_train), int(n_test), int(n_features), int(period)
    noise = float(noise)

    rng = np.random.default_rng(seed)
    layout = _feature_layout(n_features)
    names = [name for name, _ in layout]
    scales = np.array(
        [dict(_SERVICE_COUNTERS).get(name) or _iface_scale(name, iface) for name, iface in layout],
        dtype=np.float64,
    )

    lead = period  # history before the first train row, so that time-shifted copies always exist
    n_total = lead + n_train + n_test
    clean = _normalised_signals(rng, layout, n_total, period, lead)
    noisy = clean + rng.normal(0.0, noise, size=clean.shape)

    test_rows = slice(lead + n_train, n_total)
    test = noisy[test_rows].copy()
    anomalies: list[Anomaly] = []
    for start, end, kind in _place(rng, n_test, int(n_anomalies)):
        j = int(rng.integers(0, n_features))
        name = names[j]
        seg = slice(start, end)
        if kind == "spike":
            test[seg, j] += rng.uniform(0.7, 1.0)
        elif kind == "level_shift":
            size = rng.uniform(0.30, 0.45)
            level = float(np.mean(test[seg, j]))
            sign = -1.0 if level - size > 0.05 and rng.random() < 0.5 else 1.0
            test[seg, j] += sign * size
        elif kind == "correlation_break":
            # A copy of a counter's own pattern from another time of day: in range, out of step with its
            # group. Pick the counter and shift that differ most visibly from the normal pattern.
            absolute = np.arange(start, end) + lead + n_train
            shifts = np.array([(k * period) // 16 for k in range(2, 15)])
            best = (-1.0, j, int(shifts[0]))
            for cand in rng.permutation(n_features):
                now = clean[absolute, cand]
                diffs = [float(np.mean(np.abs(clean[absolute - s, cand] - now))) for s in shifts]
                k = int(np.argmax(diffs))
                if diffs[k] > best[0]:
                    best = (diffs[k], int(cand), int(shifts[k]))
                if diffs[k] >= _VISIBLE:
                    break
            _, j, shift = best
            name = names[j]
            test[seg, j] = clean[absolute - shift, j] + rng.normal(0.0, noise, size=end - start)
        else:  # flatline: a gauge sticks at its last value, a counter drops to zero (an outage)
            last = test[start - 1, j]
            stuck_visible = float(np.mean(np.abs(test[seg, j] - last))) >= _VISIBLE
            test[seg, j] = last if name in _GAUGES and stuck_visible else 0.0
        anomalies.append(Anomaly(kind=kind, start=start, end=end, feature=name))

    def to_frame(levels: np.ndarray, first_row: int, labels: np.ndarray) -> pd.DataFrame:
        values = np.maximum(levels, 0.0) * scales
        for j, name in enumerate(names):
            if name in _PERCENT:
                values[:, j] = np.minimum(values[:, j], 100.0)
        start = pd.Timestamp(_START_TIME) + first_row * pd.Timedelta(_STEP)
        times = pd.date_range(start, periods=levels.shape[0], freq=_STEP)
        frame = pd.DataFrame(np.round(values, 3), columns=names)
        frame.insert(0, "timestamp", times)
        frame["label"] = labels.astype(np.int64)
        return frame

    test_labels = np.zeros(n_test, dtype=np.int64)
    for a in anomalies:
        test_labels[a.start : a.end] = 1
    train = to_frame(noisy[lead : lead + n_train], 0, np.zeros(n_train, dtype=np.int64))
    test_frame = to_frame(test, n_train, test_labels)
    return SyntheticCounters(train=train, test=test_frame, anomalies=anomalies, feature_names=names)


def _iface_scale(name: str, iface: int | None) -> float:
    """Full scale of an interface counter; later interfaces carry less traffic."""
    for prefix, scale in _INTERFACE_COUNTERS:
        if name.startswith(prefix + "_eth"):
            return scale / (1.0 + 0.5 * (iface or 0))
    raise KeyError(name)  # pragma: no cover - layout only produces known names


def write_csv(data: SyntheticCounters, directory: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``train.csv`` and ``test.csv`` into ``directory`` (created if needed); returns both paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    train_path = out / "train.csv"
    test_path = out / "test.csv"
    data.train.to_csv(train_path, index=False)
    data.test.to_csv(test_path, index=False)
    return train_path, test_path
