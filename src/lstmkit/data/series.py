"""Numeric series for regression: CSV reading, windows over time, chronological splits, built-in series.

A :class:`SeriesDataset` is a table of values ``(S, F)`` (``S`` time steps, ``F`` columns) and ``start``, the
first step whose value may be a *target*; the steps before it are context only (a dev or test split keeps the
history before it, so its first windows can look back into train without ever predicting a train value).

Windows (shape legend: ``N`` windows, ``T`` window length, ``I`` input features, ``H`` horizon): the window
ending before step ``t`` reads rows ``t-T .. t-1`` of the input columns, ``(N, T, I)``, and its targets are
the target column at steps ``t .. t+H-1``, ``(N, H)``.

Built-in series (read from the installed statsmodels package's CSV files, never importing statsmodels):

- ``co2``: Mauna Loa atmospheric CO2 (ppm), weekly 1958-03 .. 2001-12 with gaps, as 526 monthly means;
  a week with no value is skipped, and the 5 months with no value at all are filled by linear interpolation
  between their neighbouring months. Season 12 (months).
- ``sunspots``: yearly mean sunspot numbers 1700 .. 2008 (309 years). Season 11 (the solar cycle, ~11 years).

Both split chronologically: the first 70% of the steps train, the next 15% dev, the last 15% test.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .corpora import package_dir
from .readers import csv_records, read_utf8


@dataclass
class SeriesDataset:
    """Values ``(S, F)`` with column names; steps ``start ..`` may be targets, earlier ones are context.

    ``labels``: one time label per step (a date, a year) or None; ``season``: the series' natural season
    length in steps when it has one (baselines use it).
    """

    values: np.ndarray
    columns: list[str]
    source: str = ""
    start: int = 0
    labels: list[str] | None = None
    season: int | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.values = np.asarray(self.values, dtype=np.float64)
        if self.values.ndim != 2 or self.values.shape[1] != len(self.columns):
            raise ValueError(f"SeriesDataset: values must be (S, F={len(self.columns)}) for columns "
                             f"{self.columns}, got {tuple(self.values.shape)}")
        if not 0 <= self.start <= len(self.values):
            raise ValueError(f"SeriesDataset: start must be in [0, {len(self.values)}], got {self.start}")

    def __len__(self) -> int:
        """The steps that may be targets (this split's own steps, without the context before ``start``)."""
        return len(self.values) - self.start

    def column(self, name: str) -> int:
        if name not in self.columns:
            raise ValueError(f"{self.source}: no column {name!r} (columns: {', '.join(self.columns)})")
        return self.columns.index(name)

    def matrix(self, names: list[str]) -> np.ndarray:
        """The named columns, in that order: ``(S, len(names))``."""
        return self.values[:, [self.column(n) for n in names]]

    def head(self, n: int) -> "SeriesDataset":
        """The first ``n`` target steps, with the context before them (``--limit N``)."""
        return self.part(self.start, min(self.start + n, len(self.values)), f"first {n}")

    def part(self, start: int, end: int, name: str) -> "SeriesDataset":
        """Steps ``start .. end-1`` as targets, with every step before ``start`` kept as context."""
        return SeriesDataset(self.values[:end], list(self.columns), f"{self.source}:{name}", start,
                             None if self.labels is None else self.labels[:end], self.season, list(self.notes))


def csv_columns(path) -> list[str]:
    """The column names in a CSV file's header row (UTF-8), in file order: what ``read_series`` can read.

    An empty file, or a blank header, is an error naming the file. Example: a file starting ``date,co2`` ->
    ``["date", "co2"]``; one starting ``value`` -> ``["value"]``, the one column a series file may have.
    """
    _, header = next(csv_records(read_utf8(path), path), (1, None))
    if not header or not any(h.strip() for h in header):
        raise ValueError(f"{path}:1: empty file; expected a header row naming the columns")
    return [h.strip() for h in header]


def read_series(path, columns: list[str], min_rows: int = 1, label_column: str | None = None,
                why: str = "", text: str | None = None) -> SeriesDataset:
    """Numeric ``columns`` of a CSV file (UTF-8, a header row naming the columns).

    Every cell of those columns must be a finite number: an empty or non-numeric cell is an error naming
    ``file:line`` and the column. ``min_rows``: fewer data rows is an error (``why`` says what needs them).
    ``label_column``: a column read as the time labels (dates), or None. ``text``: the CSV's text itself (e.g.
    standard input), ``path`` then only names it in messages. Example::

        >>> data = read_series("co2.csv", ["co2"], label_column="date")
        >>> data.values.shape            # (S, F)
        (2284, 1)
    """
    path = Path(path)
    if isinstance(columns, str) or not columns:
        raise ValueError(f"read_series: columns must be a non-empty list of names, got {columns!r}")
    records = csv_records(read_utf8(path) if text is None else text, path)
    _, header = next(records, (1, None))
    if not header or not any(h.strip() for h in header):
        raise ValueError(f"{path}:1: empty file; expected a header row naming the columns {columns}")
    header = [h.strip() for h in header]
    wanted = list(columns) + ([label_column] if label_column else [])
    for name in wanted:
        if name not in header:
            raise ValueError(f"{path}:1: no column {name!r} (columns: {', '.join(header)})")
        if header.count(name) > 1:
            raise ValueError(f"{path}:1: column {name!r} appears {header.count(name)} times in the header")
    where = [header.index(n) for n in columns]
    at_label = header.index(label_column) if label_column else None
    rows, labels, line = [], [], 1
    for line, record in records:
        if not record or not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            raise ValueError(f"{path}:{line}: {len(record)} cells, the header has {len(header)}")
        row = []
        for name, k in zip(columns, where):
            cell = record[k].strip()
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ValueError(f"{path}:{line}: column {name!r}: expected a finite number, got {cell!r}")
            row.append(value)
        rows.append(row)
        if at_label is not None:
            labels.append(record[at_label].strip())
    if len(rows) < min_rows:
        raise ValueError(f"{path}:{line}: {len(rows)} data rows, need at least {min_rows}"
                         + (f" ({why})" if why else ""))
    return SeriesDataset(np.array(rows, dtype=np.float64).reshape(len(rows), len(columns)), list(columns),
                         str(path), labels=labels if at_label is not None else None)


def first_target(data: SeriesDataset, window: int, season: int | None = None) -> int:
    """The first step a window may predict: after a full window, a full season (for the seasonal baseline)
    and the context before ``data.start``."""
    return max(data.start, window, season or 0)


def make_windows(values: np.ndarray, window: int, horizon: int, target: int = 0, first: int | None = None):
    """Every window of ``values`` ``(S, F)``: inputs ``(N, T=window, I=F)``, targets ``(N, H=horizon)`` of
    column ``target``, and ``t`` ``(N,)``, the step of each window's first target.

    Windows predict steps ``first ..`` (default ``window``) while their last target is inside the series.
    Example: ``values`` 0..5 (one column), window 3, horizon 2 -> inputs [[0,1,2], [1,2,3]], targets
    [[3,4], [4,5]], t [3, 4].
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"make_windows: values must be (S, F), got {tuple(values.shape)}")
    for name, v in (("window", window), ("horizon", horizon)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"make_windows: {name} must be a positive int, got {v!r}")
    first = window if first is None else first
    if first < window:
        raise ValueError(f"make_windows: first ({first}) must leave room for a window of {window} steps")
    S, F = values.shape
    t = np.arange(first, S - horizon + 1)                             # (N,)
    if len(t) == 0:
        return np.zeros((0, window, F), values.dtype), np.zeros((0, horizon), values.dtype), t
    inputs = values[t[:, None] + np.arange(-window, 0)[None, :]]       # (N, T) index -> (N, T, F)
    targets = values[t[:, None] + np.arange(horizon)[None, :], target]  # (N, H)
    return inputs, targets, t


def split_chronological(data: SeriesDataset, dev: float = 0.15, test: float = 0.15) -> dict:
    """``{"train", "dev", "test"}``: the first steps train, then dev, then test (``test`` may be 0: no test
    split, an empty one). Dev and test keep the history before them as context, never as targets."""
    S = len(data.values)
    n_test, n_dev = int(round(S * test)), int(round(S * dev))
    train_end, dev_end = S - n_test - n_dev, S - n_test
    if train_end < 1 or (dev > 0 and n_dev < 1):
        raise ValueError(f"{data.source}: {S} steps are too few to split {1 - dev - test:.0%}/{dev:.0%}/{test:.0%}")
    return {"train": data.part(0, train_end, "train"), "dev": data.part(train_end, dev_end, "dev"),
            "test": data.part(dev_end, S, "test")}


# -- built-in series ---------------------------------------------------------------------------------------------
def _statsmodels_csv(name: str) -> Path:
    return package_dir("statsmodels", name) / "datasets" / name / f"{name}.csv"


def co2() -> dict:
    """Mauna Loa CO2 as monthly means (weekly values averaged per month; empty months interpolated), split
    chronologically 70/15/15. Season 12."""
    path = _statsmodels_csv("co2")
    records = csv_records(read_utf8(path), path)
    header = [h.strip() for h in next(records, (1, []))[1]]
    if header != ["date", "co2"]:
        raise ValueError(f"{path}:1: expected the columns date,co2, got {','.join(header)}")
    sums: dict[tuple, list] = {}
    weeks = missing = 0
    for _, record in records:
        if not record:
            continue
        weeks += 1
        date, cell = record[0].strip(), record[1].strip()
        month = (int(date[:4]), int(date[4:6]))
        acc = sums.setdefault(month, [0.0, 0])
        if cell == "":
            missing += 1
            continue
        acc[0] += float(cell)
        acc[1] += 1
    (y0, m0), (y1, m1) = min(sums), max(sums)
    months = [(y, m) for y in range(y0, y1 + 1) for m in range(1, 13) if (y0, m0) <= (y, m) <= (y1, m1)]
    means = np.array([sums[k][0] / sums[k][1] if k in sums and sums[k][1] else np.nan for k in months])
    empty = np.isnan(means)
    steps = np.arange(len(means))
    means[empty] = np.interp(steps[empty], steps[~empty], means[~empty])
    note = (f"co2: {weeks:,} weeks ({missing} without a value) -> {len(months)} monthly means, "
            f"{int(empty.sum())} empty months interpolated")
    data = SeriesDataset(means[:, None], ["co2"], "co2", labels=[f"{y}-{m:02d}" for y, m in months], season=12,
                         notes=[note])
    return split_chronological(data)


def sunspots() -> dict:
    """Yearly sunspot numbers 1700 .. 2008, split chronologically 70/15/15. Season 11 (the solar cycle)."""
    path = _statsmodels_csv("sunspots")
    raw = read_series(path, ["SUNACTIVITY"], label_column="YEAR")
    data = SeriesDataset(raw.values, ["sunspots"], "sunspots", labels=raw.labels, season=11)
    return split_chronological(data)
