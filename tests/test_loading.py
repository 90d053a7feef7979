"""Tests for netgan_tf.data.loading: file formats, delimiter sniffing, validation errors, fill policies."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netgan_tf.data.loading import FILL_POLICIES, Table, load_table, read_frame
from netgan_tf.errors import ConfigError, DataError


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": ["2024-01-01 00:00", "2024-01-01 00:05", "2024-01-01 00:10", "2024-01-01 00:15"],
            "a": [1.0, 2.0, 3.0, 4.0],
            "b": [10, 20, 30, 40],
            "y": [0, 1, 0, 0],
        }
    )


def _check_table(table: Table) -> None:
    assert table.feature_names == ["a", "b"]
    assert table.values.dtype == np.float32
    np.testing.assert_array_equal(table.values, [[1, 10], [2, 20], [3, 30], [4, 40]])
    assert table.labels is not None and table.labels.dtype == np.int8
    np.testing.assert_array_equal(table.labels, [0, 1, 0, 0])
    assert table.time is not None and list(table.time) == list(_frame()["ts"])


# ---------------------------------------------------------------------------------------------- reading


def test_csv(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    _frame().to_csv(path, index=False)
    table = load_table(path, time_column="ts", label_column="y")
    _check_table(table)
    assert table.source == str(path)


def test_csv_gz(tmp_path: Path) -> None:
    path = tmp_path / "x.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("ts;a;b;y\n" + "".join(f"{t};{a};{b};{y}\n" for t, a, b, y in _frame().itertuples(index=False)))
    _check_table(load_table(path, time_column="ts", label_column="y"))


def test_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = tmp_path / "x.parquet"
    _frame().to_parquet(path, index=False)
    _check_table(load_table(path, time_column="ts", label_column="y"))
    pq = tmp_path / "x.pq"
    _frame().to_parquet(pq, index=False)
    assert list(read_frame(pq).columns) == ["ts", "a", "b", "y"]


def test_dataframe_is_copied_and_not_modified() -> None:
    df = _frame()
    df.loc[1, "a"] = np.nan
    before = df.copy()
    table = load_table(df, time_column="ts", label_column="y", fill="drop")
    pd.testing.assert_frame_equal(df, before)
    assert table.source == "<DataFrame>"
    assert table.values.shape == (3, 2)
    copy = read_frame(df)
    copy.loc[0, "a"] = 99.0
    assert df.loc[0, "a"] == 1.0


@pytest.mark.parametrize("sep", [";", "\t", "|", ","])
def test_sniffs_separator(tmp_path: Path, sep: str) -> None:
    path = tmp_path / "x.csv"
    _frame().to_csv(path, index=False, sep=sep)
    frame = read_frame(path)
    assert list(frame.columns) == ["ts", "a", "b", "y"]
    _check_table(load_table(path, time_column="ts", label_column="y"))


def test_sniffs_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("a  b\n1  2\n3   4\n5 6\n")
    frame = read_frame(path)
    assert list(frame.columns) == ["a", "b"]
    np.testing.assert_array_equal(frame.to_numpy(), [[1, 2], [3, 4], [5, 6]])


def test_explicit_sep(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a;b\n1,5;2\n")
    frame = read_frame(path, sep=";")
    assert list(frame.columns) == ["a", "b"]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match="nope.csv") as info:
        read_frame(path)
    assert "not found" in str(info.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match=r"empty\.csv.*empty"):
        load_table(path)


def test_unparsable_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(b"this is not gzip data at all")
    with pytest.raises(DataError, match=r"bad\.csv\.gz"):
        read_frame(path)
    pq = tmp_path / "bad.parquet"
    pq.write_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"bad\.parquet"):
        read_frame(pq)


# ---------------------------------------------------------------------------------------------- columns


def test_default_features_exclude_time_and_label() -> None:
    table = load_table(_frame(), time_column="ts", label_column="y")
    assert table.feature_names == ["a", "b"]
    assert load_table(_frame(), features=["b"], time_column="ts").feature_names == ["b"]
    assert load_table(_frame(), features=["b", "a"]).values[0].tolist() == [10.0, 1.0]


def test_unknown_columns_are_listed() -> None:
    with pytest.raises(DataError) as info:
        load_table(_frame(), features=["a", "zz"], label_column="yy")
    msg = str(info.value)
    assert "'zz'" in msg and "'yy'" in msg
    assert "available" in msg and "'ts'" in msg and "'b'" in msg


def test_non_numeric_column_names_column_row_and_value() -> None:
    df = _frame().drop(columns="ts")
    df["c"] = ["1.5", "2", "oops", "4"]
    with pytest.raises(DataError) as info:
        load_table(df, label_column="y")
    msg = str(info.value)
    assert "'c'" in msg and "row 2 (0-based, header excluded)" in msg and "'oops'" in msg
    assert "--features" in msg and "--time-column" in msg


def test_time_column_as_feature_is_rejected_with_hint(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    _frame().to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        load_table(path, label_column="y")
    msg = str(info.value)
    assert "'ts'" in msg and "row 0 (0-based, header excluded)" in msg and "--time-column" in msg
    assert str(path) in msg


def test_numeric_strings_are_converted() -> None:
    df = pd.DataFrame({"a": ["1.5", " 2 ", "", "4e1"]}, dtype=object)
    table = load_table(df, fill="zero")
    np.testing.assert_allclose(table.values[:, 0], [1.5, 2.0, 0.0, 40.0])


def test_nan_error_names_column_count_row_and_hint() -> None:
    df = _frame()
    df["b"] = [1.0, np.nan, np.inf, 2.0]
    with pytest.raises(DataError) as info:
        load_table(df, time_column="ts", label_column="y")
    msg = str(info.value)
    assert "'b'" in msg and "2 NaN/inf" in msg and "row 1 (0-based, header excluded)" in msg
    assert "--fill ffill|interpolate|zero|drop" in msg


def test_bad_labels() -> None:
    df = _frame()
    df["y"] = [0, 1, 2, 0]
    with pytest.raises(DataError) as info:
        load_table(df, time_column="ts", label_column="y")
    msg = str(info.value)
    assert "'y'" in msg and "row 2 (0-based, header excluded)" in msg
    df["y"] = [0.0, 1.0, np.nan, 0.0]
    with pytest.raises(DataError, match="row 2"):
        load_table(df, time_column="ts", label_column="y")


def test_bool_and_float_labels() -> None:
    df = _frame()
    df["y"] = [False, True, True, False]
    table = load_table(df, time_column="ts", label_column="y")
    assert table.labels is not None and table.labels.tolist() == [0, 1, 1, 0]
    df["y"] = [0.0, 0.0, 1.0, 1.0]
    table = load_table(df, time_column="ts", label_column="y")
    assert table.labels is not None and table.labels.dtype == np.int8 and table.labels.tolist() == [0, 0, 1, 1]


def test_too_few_rows() -> None:
    with pytest.raises(DataError, match=r"at least 10 .*got 4"):
        load_table(_frame(), time_column="ts", label_column="y", min_rows=10)


def test_header_only_file(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("a,b\n")
    with pytest.raises(DataError, match=r"h\.csv.*got 0"):
        load_table(path)


def test_no_feature_columns() -> None:
    with pytest.raises(DataError, match="no feature columns"):
        load_table(_frame()[["ts", "y"]], time_column="ts", label_column="y")


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="fill"):
        load_table(_frame(), fill="mean")
    with pytest.raises(ConfigError, match="min_rows"):
        load_table(_frame(), min_rows=0)


# ---------------------------------------------------------------------------------------------- fill


def _gappy() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "t": [0, 1, 2, 3, 4, 5],
            "a": [np.nan, 1.0, np.nan, 3.0, np.inf, 5.0],
            "b": [1.0, 2.0, 3.0, 4.0, 5.0, np.nan],
            "y": [1, 0, 0, 1, 0, 1],
        }
    )


def test_fill_policies_listed() -> None:
    assert FILL_POLICIES == ("error", "ffill", "interpolate", "zero", "drop")


def test_fill_ffill() -> None:
    table = load_table(_gappy(), time_column="t", label_column="y", fill="ffill")
    np.testing.assert_array_equal(table.values[:, 0], [1, 1, 1, 3, 3, 5])
    np.testing.assert_array_equal(table.values[:, 1], [1, 2, 3, 4, 5, 5])
    assert table.labels is not None and table.labels.tolist() == [1, 0, 0, 1, 0, 1]


def test_fill_interpolate() -> None:
    table = load_table(_gappy(), time_column="t", label_column="y", fill="interpolate")
    np.testing.assert_allclose(table.values[:, 0], [1, 1, 2, 3, 4, 5])
    np.testing.assert_allclose(table.values[:, 1], [1, 2, 3, 4, 5, 5])


def test_fill_zero() -> None:
    table = load_table(_gappy(), time_column="t", label_column="y", fill="zero")
    np.testing.assert_array_equal(table.values[:, 0], [0, 1, 0, 3, 0, 5])
    np.testing.assert_array_equal(table.values[:, 1], [1, 2, 3, 4, 5, 0])


def test_fill_drop_keeps_time_and_labels_aligned() -> None:
    table = load_table(_gappy(), time_column="t", label_column="y", fill="drop")
    np.testing.assert_array_equal(table.values, [[1, 2], [3, 4]])
    assert table.time is not None and table.time.tolist() == [1, 3]
    assert table.labels is not None and table.labels.tolist() == [0, 1]


def test_fill_drop_all_rows() -> None:
    df = pd.DataFrame({"a": [np.nan, 1.0], "b": [2.0, np.nan]})
    with pytest.raises(DataError, match="no usable rows"):
        load_table(df, fill="drop")
    with pytest.raises(DataError, match="only 3 of 6 rows"):
        load_table(_gappy().drop(columns="b"), time_column="t", label_column="y", fill="drop", min_rows=4)


def test_fill_all_nan_column() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, np.nan]})
    with pytest.raises(DataError, match="'b'"):
        load_table(df, fill="ffill")
