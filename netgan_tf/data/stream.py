"""Out-of-core training input: a CSV/Parquet file (or DataFrame) read in overlapping segments, never whole.

`WindowStream.summarize()` is one pass over the file: it validates every segment as `load_table` does, counts the
rows, accumulates the per-feature statistics of the normal rows for the scaler (`RunningMoments`) and records which
window starts are usable (one bit per row). `WindowStream.datasets()` then gives `tf.data` datasets that read the
file again on every epoch and yield the same windows as the in-memory path (same starts, stride, label exclusion
and train/validation cut), shuffled within each segment and through a shuffle buffer, so memory holds one segment
and the buffer whatever the file size. Segments overlap by 2(T-1) rows (see `segments.py`); each row and each
window belongs to exactly one segment.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf

from netgan_tf.data.loading import Table, load_table
from netgan_tf.data.scaler import RunningMoments, Scaler
from netgan_tf.data.segments import iter_segments
from netgan_tf.data.windows import usable_windows
from netgan_tf.errors import ConfigError, DataError

__all__ = ["SegmentTable", "StreamSummary", "WindowStream"]

BLOCK_WINDOWS = 1024  # windows per element the generator hands to tf.data
SHUFFLE_BUFFER = 8192  # windows; about 37 MB at T=30 and 38 features


@dataclass
class SegmentTable:
    """A validated segment: file rows [start, start + table.n_rows). `own` = the rows it reports; its windows are
    the local starts [0, window_stop) (the others belong to the next segment)."""

    start: int
    table: Table
    own: slice
    window_stop: int

    @property
    def exclude(self) -> np.ndarray | None:
        return None if self.table.labels is None else self.table.labels.astype(bool)


@dataclass
class StreamSummary:
    """What one pass over the file found (see `WindowStream.summarize`)."""

    features: list[str]
    n_rows: int
    n_normal_rows: int
    n_train_windows: int
    n_val_windows: int
    cut: int
    moments: RunningMoments
    source: str


class WindowStream:
    """Windows of a file read in segments of about `chunk_rows` rows (module docstring).

    Args:
        source: CSV/Parquet path or DataFrame.
        window, stride: as in training; `validation_split` holds out the last rows (time order).
        chunk_rows: rows read at a time (memory ~ chunk_rows × features plus the shuffle buffer).
        features, time_column, label_column, sep, fill: as in `load_table` (fill "drop" is refused: it would
            shift rows between segments).
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | pd.DataFrame,
        *,
        window: int,
        stride: int = 1,
        chunk_rows: int = 100_000,
        validation_split: float = 0.0,
        features: list[str] | None = None,
        time_column: str | None = None,
        label_column: str | None = None,
        sep: str | None = None,
        fill: str = "error",
    ) -> None:
        if fill == "drop":
            raise ConfigError("chunked reading cannot use the NaN policy 'drop'; use ffill, interpolate or zero")
        if int(chunk_rows) < 2 * int(window):
            raise ConfigError(f"chunk rows must be at least twice the window ({2 * window}), got {chunk_rows}")
        self.source = source
        self.window, self.stride, self.chunk_rows = int(window), int(stride), int(chunk_rows)
        self.validation_split = float(validation_split)
        self.features = features
        self.time_column, self.label_column, self.sep, self.fill = time_column, label_column, sep, fill
        self.summary: StreamSummary | None = None
        self._usable: list[tuple[np.ndarray, int]] = []  # per segment: packed bits (a usable window starts), count

    @property
    def where(self) -> str:
        return "<DataFrame>" if isinstance(self.source, pd.DataFrame) else str(self.source)

    def segments(self, sample_rows: int | None = None, within: tuple[int, int] | None = None) -> Iterator[SegmentTable]:
        """The validated segments in file order. With `sample_rows` (after `summarize`), only evenly spread
        segments that own about that many rows in all (every segment when the file has fewer rows); with
        `within` = (lo, hi), only segments that overlap rows [lo, hi). The others are read but not validated."""
        features = self.features
        taken = 0
        for seg in iter_segments(self.source, self.window, self.chunk_rows, sep=self.sep):
            if within is not None and (seg.start + len(seg.frame) <= within[0] or seg.start >= within[1]):
                continue
            if sample_rows is not None and self.summary is not None:
                # Take a segment while the rows taken lag behind an even share of the rows read so far.
                read = seg.start + seg.own.stop
                if taken >= sample_rows * read / self.summary.n_rows:
                    continue
                taken += seg.own.stop - seg.own.start
            try:
                table = load_table(
                    seg.frame,
                    features=features,
                    time_column=self.time_column,
                    label_column=self.label_column,
                    fill=self.fill,
                    min_rows=1,
                )
            except DataError as exc:
                raise DataError(f"{self.where} (segment from data row {seg.start}): {exc}") from exc
            features = table.feature_names
            last = seg.own.stop >= len(seg.frame)
            n_win = max(0, len(seg.frame) - self.window + 1)
            stop = n_win if last else seg.own.stop - (self.window - 1)
            yield SegmentTable(seg.start, table, seg.own, max(0, min(stop, n_win)))

    def summarize(self, progress: bool = False) -> StreamSummary:
        """One pass: validation, row and window counts, scaler statistics of the normal rows."""
        moments: RunningMoments | None = None
        features: list[str] = []
        n_rows = n_normal = 0
        self._usable = []
        for st in self.segments():
            features = st.table.feature_names
            if moments is None:
                moments = RunningMoments(len(features))
            own = st.table.values[st.own]
            exclude = st.exclude
            normal = own if exclude is None else own[~exclude[st.own]]
            moments.update(normal)
            n_rows += own.shape[0]
            n_normal += normal.shape[0]
            ok = usable_windows(st.table.n_rows, self.window, exclude)[: st.window_stop]
            self._usable.append((np.packbits(ok), len(ok)))
            if progress:
                print(f"\rreading {self.where}: {n_rows:,} rows", end="", flush=True)
        if progress:
            print(flush=True)
        if moments is None or n_rows < self.window:
            raise DataError(f"{self.where}: needs at least {self.window} rows for one window, got {n_rows}")
        if n_normal == 0:
            raise DataError(f"{self.where}: every row is labelled anomalous; training needs normal rows")
        cut = n_rows
        if self.validation_split > 0:
            cut = int(round(n_rows * (1.0 - self.validation_split)))
            if n_rows - cut < self.window or cut < self.window:
                raise ConfigError(
                    f"validation-split {self.validation_split} leaves fewer than one window of {self.window} rows "
                    f"on one side of the {n_rows} training rows"
                )
        usable = self._usable_starts(n_rows)
        starts = np.flatnonzero(usable)
        n_train = int(np.count_nonzero(self._select(starts, 0, cut, 0)))
        n_val = int(np.count_nonzero(self._select(starts, cut, n_rows, cut))) if cut < n_rows else 0
        if n_train == 0:
            raise DataError(f"{self.where}: no training window of {self.window} rows without a row labelled anomalous")
        self.summary = StreamSummary(features, n_rows, n_normal, n_train, n_val, cut, moments, self.where)
        return self.summary

    def _usable_starts(self, n_rows: int) -> np.ndarray:
        bits = [np.unpackbits(packed)[:count] for packed, count in self._usable]
        out = np.concatenate(bits) if bits else np.zeros(0, np.uint8)
        return out[: max(0, n_rows - self.window + 1)].astype(bool)

    def _select(self, starts: np.ndarray, lo: int, hi: int, origin: int) -> np.ndarray:
        """Which global starts make windows inside rows [lo, hi) on the stride grid that begins at `origin`."""
        return (starts >= lo) & (starts + self.window <= hi) & ((starts - origin) % self.stride == 0)

    def iter_windows(self, scaler: Scaler, validation: bool = False, seed: int | None = None) -> Iterator[np.ndarray]:
        """Scaled float32 window blocks [k, T, n] of the training (or validation) rows, segment by segment; with
        `seed`, each segment's windows come in a random order drawn from `seed`."""
        if self.summary is None:
            raise ConfigError("WindowStream.summarize() must run before the windows are read")
        lo, hi, origin = (
            (self.summary.cut, self.summary.n_rows, self.summary.cut)
            if validation
            else (
                0,
                self.summary.cut,
                0,
            )
        )
        rng = None if seed is None else np.random.default_rng(seed)
        offsets = np.arange(self.window)
        for st in self.segments(within=(lo, hi)):
            local = np.flatnonzero(usable_windows(st.table.n_rows, self.window, st.exclude)[: st.window_stop])
            local = local[self._select(st.start + local, lo, hi, origin)]
            if local.size == 0:
                continue
            x = scaler.transform(st.table.values)
            if rng is not None:
                rng.shuffle(local)
            for i in range(0, local.size, BLOCK_WINDOWS):
                idx = local[i : i + BLOCK_WINDOWS]
                yield x[idx[:, None] + offsets[None, :]]

    def datasets(
        self, scaler: Scaler, batch_size: int, seed: int = 0
    ) -> tuple[tf.data.Dataset, tf.data.Dataset | None]:
        """(training, validation or None) datasets of window batches, read from the file on every epoch. The
        training windows are shuffled within each segment (a new order each epoch) and through a buffer of
        `SHUFFLE_BUFFER` windows; both datasets know their number of batches."""
        if self.summary is None:
            self.summarize()
        assert self.summary is not None
        summary = self.summary
        spec = tf.TensorSpec([None, self.window, len(summary.features)], tf.float32)
        epoch = [0]

        def train_blocks() -> Iterator[np.ndarray]:
            epoch[0] += 1
            yield from self.iter_windows(
                scaler, seed=int(np.random.SeedSequence([seed, epoch[0]]).generate_state(1)[0])
            )

        def finish(ds: tf.data.Dataset, n_windows: int) -> tf.data.Dataset:
            ds = ds.batch(batch_size).apply(tf.data.experimental.assert_cardinality(math.ceil(n_windows / batch_size)))
            options = tf.data.Options()
            # No file sharding across workers: every worker reads the stream and keeps its share of the batches.
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            return ds.with_options(options).prefetch(2)

        train = tf.data.Dataset.from_generator(train_blocks, output_signature=spec).unbatch()
        train = train.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=True)
        val = None
        if summary.n_val_windows:
            val = tf.data.Dataset.from_generator(
                lambda: self.iter_windows(scaler, validation=True), output_signature=spec
            ).unbatch()
            val = finish(val, summary.n_val_windows)
        return finish(train, summary.n_train_windows), val
