"""Read tabular time series (CSV, compressed CSV, Parquet or a DataFrame) into a validated float32 table.

`read_frame` only parses; `load_table` picks the feature, time and label columns, checks that every
feature is numeric and finite (after an optional fill policy) and that labels are 0/1. Every problem is
reported as a :class:`netgan_tf.errors.DataError` whose message names the source, the column and the
0-based data row (header excluded), so the CLI can print it as one actionable line.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import lzma
import os
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from netgan_tf.errors import ConfigError, DataError

__all__ = ["FILL_POLICIES", "Table", "read_frame", "load_table"]

FILL_POLICIES = ("error", "ffill", "interpolate", "zero", "drop")

_SNIFF_BYTES = 16384
_SNIFF_DELIMITERS = ",;\t| "
_PARQUET_SUFFIXES = (".parquet", ".pq")
_MISSING_STRINGS = frozenset({"", "nan", "na", "n/a", "null", "none", "<na>", "nat"})
_ROW_NOTE = "(0-based, header excluded)"
_FILL_HINT = "--fill ffill|interpolate|zero|drop"


@dataclass
class Table:
    """A validated numeric table.

    Attributes:
        values: float32 ``[n_rows, n_features]``, all finite after the fill policy.
        feature_names: the feature column names, in the order of ``values``' columns.
        time: the time column as read (not parsed), if one was named; rows in original order.
        labels: int8 0/1 per row, if a label column was named.
        source: the file path, or ``"<DataFrame>"``.
    """

    values: np.ndarray
    feature_names: list[str]
    time: pd.Series | None
    labels: np.ndarray | None
    source: str

    @property
    def n_rows(self) -> int:
        """Number of rows in ``values``."""
        return int(self.values.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns in ``values``."""
        return int(self.values.shape[1])


# --------------------------------------------------------------------------------------------------
# reading


def _compression_of(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, kind in ((".gz", "gzip"), (".bz2", "bz2"), (".xz", "xz"), (".zip", "zip"), (".zst", "zstd")):
        if name.endswith(suffix):
            return kind
    return None


def _head_bytes(path: Path, compression: str | None, n: int) -> bytes:
    """The first ``n`` (decompressed) bytes of a file, for delimiter sniffing."""
    if compression == "gzip":
        with gzip.open(path, "rb") as fh:
            return fh.read(n)
    if compression == "bz2":
        with bz2.open(path, "rb") as fh:
            return fh.read(n)
    if compression == "xz":
        with lzma.open(path, "rb") as fh:
            return fh.read(n)
    if compression == "zip":
        with zipfile.ZipFile(path) as zf:
            names = [info for info in zf.infolist() if not info.is_dir()]
            if not names:
                return b""
            with zf.open(names[0]) as fh:
                return fh.read(n)
    if compression == "zstd":
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            return b""
        with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as fh:
            return bytes(fh.read(n))
    with open(path, "rb") as fh:
        return fh.read(n)


def _sniff_sep(sample: bytes) -> str:
    """Guess the CSV delimiter from the first bytes of a file; ``','`` when unsure."""
    text = sample.decode("utf-8", errors="replace")
    # Only whole lines: a line cut in the middle would look inconsistent to the sniffer.
    if len(sample) >= _SNIFF_BYTES and "\n" in text:
        text = text[: text.rfind("\n")]
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return ","
    lines = lines[:200]
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=_SNIFF_DELIMITERS)
    except csv.Error:
        # Runs of spaces (aligned columns) defeat the sniffer's fixed-count test: accept whitespace
        # when every line splits on it into the same number (> 1) of fields.
        widths = {len(line.split()) for line in lines}
        if len(widths) == 1 and widths.pop() > 1 and not any(c in text for c in ",;\t|"):
            return r"\s+"
        return ","
    sep = str(dialect.delimiter)
    if sep == " ":
        return r"\s+"
    return sep


def read_frame(source: str | os.PathLike[str] | pd.DataFrame, sep: str | None = None) -> pd.DataFrame:
    """Read a CSV (optionally compressed), a Parquet file or a DataFrame into a new DataFrame.

    Args:
        source: a path ending in ``.csv`` (any compression pandas infers, e.g. ``.csv.gz``),
            ``.parquet``/``.pq``, or a DataFrame (which is copied, never modified).
        sep: the CSV delimiter; sniffed from the first bytes of the file when None
            (candidates ``, ; tab |`` and whitespace, falling back to ``,``).

    Raises:
        DataError: the file is missing, empty or cannot be parsed; the message names the file.
    """
    if isinstance(source, pd.DataFrame):
        return source.copy(deep=True)
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(f"expected a file path or a pandas DataFrame, got {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")

    if path.name.lower().endswith(_PARQUET_SUFFIXES):
        try:
            return pd.read_parquet(path)
        except ImportError as exc:
            raise DataError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow): {exc}") from exc
        except Exception as exc:  # pyarrow raises its own exception types
            raise DataError(f"{path}: cannot read Parquet file: {exc}") from exc

    with _csv_reading(path, sep) as kwargs:
        frame = pd.read_csv(path, **kwargs)
    if frame.shape[1] == 0:
        raise DataError(f"{path}: file is empty (no columns)")
    return frame


def iter_frames(
    source: str | os.PathLike[str] | pd.DataFrame, chunk_rows: int, sep: str | None = None
) -> Iterator[pd.DataFrame]:
    """Reads a CSV / Parquet file (or slices a DataFrame) in pieces of `chunk_rows` rows, in order, so that memory
    does not grow with the file. Same formats, sniffing and errors as `read_frame`; each piece keeps the columns."""
    if int(chunk_rows) < 1:
        raise ConfigError(f"chunk_rows must be a positive integer, got {chunk_rows}")
    if isinstance(source, pd.DataFrame):
        for start in range(0, len(source), chunk_rows):
            yield source.iloc[start : start + chunk_rows].reset_index(drop=True)
        return
    path = Path(source)
    if not path.is_file() or path.stat().st_size == 0:
        read_frame(path, sep=sep)  # raises the same DataError as a whole-file read
    if path.name.lower().endswith(_PARQUET_SUFFIXES):
        try:
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
                yield batch.to_pandas()
        except ImportError as exc:
            raise DataError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow): {exc}") from exc
        return
    with _csv_reading(path, sep) as kwargs, pd.read_csv(path, chunksize=int(chunk_rows), **kwargs) as reader:
        yield from reader


@contextmanager
def _csv_reading(path: Path, sep: str | None) -> Iterator[dict[str, Any]]:
    """The `pd.read_csv` arguments for `path` (separator sniffed when `sep` is None); every reading error inside the
    block, sniffing included, becomes a DataError naming the file (and the separator for parse errors)."""
    kwargs: dict[str, Any] = {"sep": sep, "compression": "infer"}
    try:
        if sep is None:
            kwargs["sep"] = _sniff_sep(_head_bytes(path, _compression_of(path), _SNIFF_BYTES))
        if len(kwargs["sep"]) > 1 and kwargs["sep"] != r"\s+":
            kwargs["engine"] = "python"  # regular-expression separators need the python engine
        yield kwargs
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path}: file is empty (no header row)") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot parse as CSV (separator {kwargs['sep']!r}): {exc}") from exc
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError, ValueError) as exc:
        raise DataError(f"{path}: cannot read file: {exc}") from exc


# --------------------------------------------------------------------------------------------------
# column conversion


def _is_missing_string(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() in _MISSING_STRINGS


def _numeric_column(series: pd.Series, name: str, where: str) -> np.ndarray:
    """A column as float64 (NaN for missing values), or DataError naming the first non-numeric row."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_complex_dtype(dtype):
        raise DataError(f"{where}: column '{name}' holds complex numbers; features must be real numbers")
    if pd.api.types.is_numeric_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)

    hint = (
        "pick numeric feature columns with --features, and name a timestamp column with --time-column "
        "so that it is not read as a feature"
    )
    if (
        pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
    ):
        notna = np.flatnonzero(series.notna().to_numpy())
        row = int(notna[0]) if notna.size else 0
        raise DataError(
            f"{where}: column '{name}' is not numeric (it holds dates/times), e.g. row {row} {_ROW_NOTE} "
            f"is {series.iloc[row]!r}; {hint}"
        )

    obj = series.astype(object).to_numpy()
    out = np.full(obj.shape[0], np.nan, dtype=np.float64)
    for i, value in enumerate(obj):
        if value is None or value is pd.NA or value is pd.NaT:
            continue
        if isinstance(value, float) and np.isnan(value):
            continue
        if _is_missing_string(value):
            continue
        if isinstance(value, (bool, np.bool_)):
            out[i] = float(value)
            continue
        try:
            if isinstance(value, (str, bytes)):
                out[i] = float(value.strip() if isinstance(value, str) else value.decode().strip())
            elif isinstance(value, (int, float, np.integer, np.floating)):
                out[i] = float(value)
            else:
                raise TypeError(type(value).__name__)
        except (TypeError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(
                f"{where}: column '{name}' is not numeric: row {i} {_ROW_NOTE} has value {value!r}; {hint}"
            ) from exc
    return out


def _label_column(series: pd.Series, name: str, where: str) -> np.ndarray:
    """A 0/1 (or bool) label column as int8, or DataError naming the first bad row."""
    if pd.api.types.is_bool_dtype(series.dtype) and not series.isna().any():
        return series.to_numpy(dtype=np.int8)
    obj = series.astype(object).to_numpy()
    out = np.zeros(obj.shape[0], dtype=np.int8)
    for i, value in enumerate(obj):
        number: float | None
        if isinstance(value, (bool, np.bool_)):
            number = float(value)
        elif isinstance(value, (int, float, np.integer, np.floating)):
            number = float(value)
        elif isinstance(value, str):
            text = value.strip().lower()
            if text in ("true", "false"):
                number = 1.0 if text == "true" else 0.0
            else:
                try:
                    number = float(text)
                except ValueError:
                    number = None
        else:
            number = None
        if number is None or number not in (0.0, 1.0):
            raise DataError(
                f"{where}: label column '{name}' must hold only 0/1 (or true/false); row {i} {_ROW_NOTE} has {value!r}"
            )
        out[i] = int(number)
    return out


# --------------------------------------------------------------------------------------------------
# fill policies


def _first_nonfinite_report(values: np.ndarray, names: list[str], where: str) -> str:
    bad = ~np.isfinite(values)
    per_column = bad.sum(axis=0)
    total = int(per_column.sum())
    cols_with_bad = np.flatnonzero(per_column)
    # Report the column whose first bad value comes earliest.
    first_rows = [int(np.argmax(bad[:, j])) for j in cols_with_bad]
    k = int(np.argmin(first_rows))
    j = int(cols_with_bad[k])
    row = first_rows[k]
    kind = "NaN" if np.isnan(values[row, j]) else "inf"
    others = ""
    if cols_with_bad.size > 1:
        rest = [names[int(c)] for c in cols_with_bad if int(c) != j]
        shown = ", ".join(f"'{n}'" for n in rest[:5]) + (", ..." if len(rest) > 5 else "")
        others = f" ({total} in all; also in {shown})"
    return (
        f"{where}: column '{names[j]}' has {int(per_column[j])} NaN/inf value(s){others}, "
        f"first at row {row} {_ROW_NOTE} ({kind}); choose a fill policy with {_FILL_HINT}"
    )


def _apply_fill(values: np.ndarray, fill: str, names: list[str], where: str) -> tuple[np.ndarray, np.ndarray]:
    """Apply the fill policy; returns the new values and a boolean mask of the rows kept."""
    n = values.shape[0]
    keep = np.ones(n, dtype=bool)
    finite = np.isfinite(values)
    if finite.all():
        return values, keep
    if fill == "error":
        raise DataError(_first_nonfinite_report(values, names, where))
    if fill == "zero":
        return np.where(finite, values, 0.0), keep
    if fill == "drop":
        keep = finite.all(axis=1)
        return values[keep], keep

    empty = np.flatnonzero(~finite.any(axis=0))
    if empty.size:
        name = names[int(empty[0])]
        raise DataError(
            f"{where}: column '{name}' has no finite value at all, so --fill {fill} cannot fill it; "
            "drop the column from --features"
        )
    frame = pd.DataFrame(np.where(finite, values, np.nan))
    if fill == "ffill":
        frame = frame.ffill().bfill()
    elif fill == "interpolate":
        frame = frame.interpolate(method="linear", limit_direction="both", axis=0).ffill().bfill()
    else:  # pragma: no cover - validated by the caller
        raise ConfigError(f"unknown fill policy {fill!r}")
    return frame.to_numpy(dtype=np.float64), keep


# --------------------------------------------------------------------------------------------------
# public entry point


def _format_names(names: Sequence[object], limit: int = 40) -> str:
    shown = ", ".join(repr(str(n)) for n in list(names)[:limit])
    if len(names) > limit:
        shown += f", ... ({len(names)} in all)"
    return shown


def load_table(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    time_column: str | None = None,
    label_column: str | None = None,
    sep: str | None = None,
    fill: str = "error",
    min_rows: int = 1,
) -> Table:
    """Load a table of numeric features with optional time and label columns.

    Args:
        source: a CSV/CSV.GZ/Parquet path or a DataFrame (never modified).
        features: the feature columns, in order; default: every column except the time and label columns.
        time_column: a column kept as read in ``Table.time`` (not a feature).
        label_column: a 0/1 (or bool) column returned as int8 ``Table.labels`` (not a feature).
        sep: CSV delimiter (sniffed when None).
        fill: what to do with NaN/inf feature values, one of :data:`FILL_POLICIES`:
            ``error`` (raise), ``ffill`` (forward fill, then back fill a leading gap), ``interpolate``
            (linear, edges filled with the nearest value), ``zero``, ``drop`` (drop those rows from
            values, time and labels together).
        min_rows: the fewest rows accepted (before and after ``drop``).

    Raises:
        DataError: on any problem with the data, naming the source, the column and the row.
        ConfigError: ``fill`` is not a known policy or ``min_rows`` < 1.
    """
    if fill not in FILL_POLICIES:
        raise ConfigError(f"unknown fill policy {fill!r}; choose one of {', '.join(FILL_POLICIES)}")
    if int(min_rows) < 1:
        raise ConfigError(f"min_rows must be >= 1, got {min_rows}")
    if isinstance(features, str):
        features = [features]

    where = "<DataFrame>" if isinstance(source, pd.DataFrame) else str(source)
    frame = read_frame(source, sep=sep)

    by_name: dict[str, Any] = {}
    for col in frame.columns:
        key = str(col)
        if key in by_name:
            raise DataError(f"{where}: column name '{key}' appears more than once")
        by_name[key] = col
    available = list(by_name)

    requested: list[str] = []
    for name in (time_column, label_column):
        if name is not None:
            requested.append(str(name))
    if features is not None:
        requested.extend(str(f) for f in features)
    missing = [name for name in dict.fromkeys(requested) if name not in by_name]
    if missing:
        raise DataError(
            f"{where}: unknown column(s) {_format_names(missing)}; available columns: {_format_names(available)}"
        )

    if features is None:
        reserved = {str(c) for c in (time_column, label_column) if c is not None}
        feature_names = [name for name in available if name not in reserved]
    else:
        feature_names = [str(f) for f in features]
        dupes = sorted({f for f in feature_names if feature_names.count(f) > 1})
        if dupes:
            raise DataError(f"{where}: feature column(s) {_format_names(dupes)} requested more than once")
    if not feature_names:
        raise DataError(
            f"{where}: no feature columns (columns: {_format_names(available)}); "
            "the file needs at least one numeric column besides the time and label columns"
        )

    n_rows = int(frame.shape[0])
    if n_rows < min_rows:
        raise DataError(f"{where}: needs at least {min_rows} data row(s), got {n_rows}")

    labels: np.ndarray | None = None
    if label_column is not None:
        labels = _label_column(frame[by_name[str(label_column)]], str(label_column), where)

    columns = [_numeric_column(frame[by_name[name]], name, where) for name in feature_names]
    values64 = np.stack(columns, axis=1) if columns else np.zeros((n_rows, 0))

    # Values that are finite in float64 but overflow float32 would silently become inf.
    with np.errstate(over="ignore"):
        overflow = np.isfinite(values64) & ~np.isfinite(values64.astype(np.float32))
    if overflow.any():
        row, j = (int(v) for v in np.argwhere(overflow)[0])
        raise DataError(
            f"{where}: column '{feature_names[j]}' row {row} {_ROW_NOTE} has {values64[row, j]!r}, "
            "outside the float32 range; rescale the column"
        )

    filled, keep = _apply_fill(values64, fill, feature_names, where)
    if not keep.all():
        n_kept = int(keep.sum())
        if n_kept == 0:
            raise DataError(
                f"{where}: no usable rows left after --fill drop: every one of the {n_rows} rows has "
                f"a NaN/inf feature value; try --fill ffill|interpolate|zero or fewer --features"
            )
        if n_kept < min_rows:
            raise DataError(
                f"{where}: only {n_kept} of {n_rows} rows left after --fill drop, needs at least {min_rows}"
            )
        if labels is not None:
            labels = labels[keep]

    time: pd.Series | None = None
    if time_column is not None:
        time = frame[by_name[str(time_column)]]
        if not keep.all():
            time = time[keep]
        time = time.reset_index(drop=True)

    values = np.ascontiguousarray(filled, dtype=np.float32)
    return Table(values=values, feature_names=feature_names, time=time, labels=labels, source=where)
