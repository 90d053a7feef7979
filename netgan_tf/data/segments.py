"""Out-of-core scoring: overlapping row segments whose interior rows score exactly as in a whole-file run.

A row's score depends only on the windows that contain it (batch rule) or end on it (streaming rule), i.e. on the
T-1 rows on each side. A segment holding rows [a, b) therefore gives every row in [a + T-1, b - (T-1)) the same
value as a whole-file run (the first segment also owns its first T-1 rows, the last one its last T-1 rows).
Consecutive segments overlap by 2(T-1) rows, so every row is owned by exactly one segment and only T-1 windows per
boundary are scored twice. Memory holds one segment, whatever the file size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from netgan_tf.data.loading import iter_frames
from netgan_tf.errors import ConfigError


@dataclass
class Segment:
    """Rows [start, start + len(frame)) of the source; `own` = the slice of frame rows this segment reports."""

    start: int
    frame: pd.DataFrame
    own: slice


def iter_segments(
    source: str | os.PathLike[str] | pd.DataFrame, window: int, chunk_rows: int, sep: str | None = None
) -> Iterator[Segment]:
    """Yields overlapping segments of about `chunk_rows` new rows each (see the module docstring)."""
    if chunk_rows < 2 * window:
        raise ConfigError(f"chunk rows must be at least twice the window ({2 * window}), got {chunk_rows}")
    overlap = 2 * (window - 1)
    frames = iter_frames(source, chunk_rows, sep=sep)
    buf = next(frames, None)
    if buf is None:
        return
    start = 0
    for nxt in frames:
        buf = pd.concat([buf, nxt], ignore_index=True)
        if len(buf) < chunk_rows + overlap:
            continue
        lead = window - 1 if start > 0 else 0
        yield Segment(start, buf, slice(lead, len(buf) - (window - 1)))
        keep = len(buf) - overlap
        buf = buf.iloc[keep:].reset_index(drop=True)
        start += keep
    lead = window - 1 if start > 0 else 0
    yield Segment(start, buf, slice(lead, len(buf)))
