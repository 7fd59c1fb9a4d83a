"""Numeric series: CSV reading (errors name file:line), windows by hand, chronological splits, co2/sunspots."""
import csv
import sys

import numpy as np
import pytest

from lstmkit.data import load_corpus
from lstmkit.data.corpora import package_dir
from lstmkit.data.series import (SeriesDataset, csv_columns, first_target, make_windows, read_series,
                                 split_chronological)


def _write(tmp_path, text, name="s.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- reading ---------------------------------------------------------------------------------------------------
def test_read_series_picks_columns_in_the_order_asked(tmp_path):
    path = _write(tmp_path, "date,a,b\n2001,1,10\n\n2002,2.5,-20\n2003,3e1,30\n")
    data = read_series(path, ["b", "a"], label_column="date")
    assert data.values.shape == (3, 2)
    np.testing.assert_array_equal(data.values, [[10, 1], [-20, 2.5], [30, 30]])
    assert data.columns == ["b", "a"] and data.labels == ["2001", "2002", "2003"] and len(data) == 3


@pytest.mark.parametrize("cell", ["x", "", "nan", "inf"])
def test_a_cell_that_is_not_a_finite_number_names_file_line_and_column(tmp_path, cell):
    path = _write(tmp_path, f"a,b\n1,2\n3,4\n5,{cell}\n")
    with pytest.raises(ValueError, match=rf"s\.csv:4: column 'b': expected a finite number, got '{cell}'"):
        read_series(path, ["a", "b"])


def test_missing_column_lists_the_header(tmp_path):
    path = _write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"s\.csv:1: no column 'c' \(columns: a, b\)"):
        read_series(path, ["c"])


def test_too_few_rows_and_ragged_rows_name_the_line(tmp_path):
    path = _write(tmp_path, "a\n1\n2\n")
    with pytest.raises(ValueError, match=r"s\.csv:3: 2 data rows, need at least 5 \(a window of 4\)"):
        read_series(path, ["a"], min_rows=5, why="a window of 4")
    with pytest.raises(ValueError, match=r"s\.csv:3: 1 cells, the header has 2"):
        read_series(_write(tmp_path, "a,b\n1,2\n3\n"), ["a"])
    with pytest.raises(ValueError, match=r"s\.csv:1: empty file"):
        read_series(_write(tmp_path, ""), ["a"])


def test_csv_columns_are_the_header_in_file_order(tmp_path):
    assert csv_columns(_write(tmp_path, "\ufeffdate, a ,b\n2001,1,2\n")) == ["date", "a", "b"]
    assert csv_columns(_write(tmp_path, "value\n1\n2\n")) == ["value"]
    assert csv_columns(_write(tmp_path, "value\n")) == ["value"]          # the header alone: rows are read_series's
    for text in ("", "\n1\n", " , \n1,2\n"):
        with pytest.raises(ValueError, match=r"s\.csv:1: empty file; expected a header row naming the columns"):
            csv_columns(_write(tmp_path, text))


# -- windows ---------------------------------------------------------------------------------------------------
def test_windows_by_hand():
    values = np.arange(6.0)[:, None]                       # (S=6, F=1): 0 1 2 3 4 5
    x, y, t = make_windows(values, window=3, horizon=2)
    assert x.shape == (2, 3, 1) and y.shape == (2, 2)      # (N, T, I), (N, H)
    np.testing.assert_array_equal(x[:, :, 0], [[0, 1, 2], [1, 2, 3]])
    np.testing.assert_array_equal(y, [[3, 4], [4, 5]])
    np.testing.assert_array_equal(t, [3, 4])


def test_multivariate_windows_target_one_column_and_start_later():
    values = np.stack([np.arange(8.0), 100 + np.arange(8.0)], axis=1)   # (8, 2)
    x, y, t = make_windows(values, window=2, horizon=1, target=1, first=5)
    assert x.shape == (3, 2, 2)
    np.testing.assert_array_equal(t, [5, 6, 7])
    np.testing.assert_array_equal(x[0], [[3, 103], [4, 104]])
    np.testing.assert_array_equal(y[:, 0], [105, 106, 107])
    x, y, t = make_windows(values, window=8, horizon=1)     # the window eats the whole series
    assert x.shape == (0, 8, 2) and y.shape == (0, 1) and len(t) == 0
    with pytest.raises(ValueError, match="window must be a positive int, got 0"):
        make_windows(values, window=0, horizon=1)
    with pytest.raises(ValueError, match=r"first \(1\) must leave room for a window of 2"):
        make_windows(values, window=2, horizon=1, first=1)


def test_chronological_split_keeps_context_but_never_targets_across_splits():
    data = SeriesDataset(np.arange(100.0)[:, None], ["v"], "toy", labels=[str(k) for k in range(100)])
    parts = split_chronological(data, dev=0.2, test=0.1)
    train, dev, test = parts["train"], parts["dev"], parts["test"]
    assert (len(train), len(dev), len(test)) == (70, 20, 10)
    assert train.values[-1, 0] == 69 and dev.values[-1, 0] == 89 and test.values[-1, 0] == 99
    assert (dev.start, test.start) == (70, 90) and dev.labels[dev.start] == "70"
    # windows of 12 steps: dev/test read back into earlier splits, but their targets are their own steps
    _, y_dev, _ = make_windows(dev.values, 12, 3, first=first_target(dev, 12))
    _, y_test, _ = make_windows(test.values, 12, 3, first=first_target(test, 12))
    assert y_dev.min() == 70 and y_dev.max() == 89
    assert y_test.min() == 90 and y_test.max() == 99


# -- built-in series -------------------------------------------------------------------------------------------
def _co2_weeks():
    path = package_dir("statsmodels", "co2") / "datasets" / "co2" / "co2.csv"
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_co2_monthly_means_and_interpolated_gaps_by_hand():
    splits = load_corpus("co2")
    train, test = splits["train"], splits["test"]
    assert "statsmodels" not in sys.modules                 # read as files, never imported
    assert len(test.values) == 526 and test.labels[0] == "1958-03" and test.labels[-1] == "2001-12"
    assert np.isfinite(test.values).all() and test.season == 12
    weeks = _co2_weeks()

    def month_mean(ym):
        vals = [float(w["co2"]) for w in weeks if w["date"].startswith(ym) and w["co2"]]
        return sum(vals) / len(vals) if vals else None

    series = dict(zip(test.labels, test.values[:, 0]))
    assert series["1958-05"] == pytest.approx(month_mean("195805"))
    assert series["1990-07"] == pytest.approx(month_mean("199007"))
    assert month_mean("195806") is None                      # a month without a single value: interpolated
    assert series["1958-06"] == pytest.approx((month_mean("195805") + month_mean("195807")) / 2)
    assert train.labels[-1] < splits["dev"].labels[splits["dev"].start] < test.labels[test.start]
    assert len(train) + len(splits["dev"]) + len(test) == 526


def test_sunspots_years_and_values():
    splits = load_corpus("sunspots")
    test = splits["test"]
    assert len(test.values) == 309 and test.labels[0] == "1700" and test.labels[-1] == "2008"
    np.testing.assert_array_equal(test.values[:3, 0], [5, 11, 16])
    assert test.season == 11 and splits["train"].labels[-1] == "1916" and test.labels[test.start] == "1963"
