"""``lstmkit train regress`` and how evaluate/predict read and show a forecaster's series."""
from __future__ import annotations

import argparse
import sys

from .base import TaskCommands
from .cell_args import add_cell_args, cell_config
from .common import add_training_args, checked, positive_int, probability, train_and_report, training_splits

TASK, KIND = "regress", "series"
_REPORTED = ("mae", "rmse", "naive_mae", "naive_rmse", "seasonal_naive_mae", "seasonal_naive_rmse")
season_length = checked(int, lambda v: v >= 0, "a season length in steps (0: none)")


def _columns(values) -> list[str]:
    """``--column a --column b`` and ``--column a,b`` alike -> ["a", "b"]."""
    return [name.strip() for value in values or [] for name in value.split(",") if name.strip()]


def _min_rows(args, season) -> tuple[int, str]:
    need = max(args.window, season or 0) + args.horizon
    why = f"a window of {args.window}" + (f", a season of {season}" if season else "") + \
        f", then {args.horizon} target step(s)"
    return need, why


def _series_data(args, columns: list[str]):
    from ..data.series import csv_columns, read_series, split_chronological

    if args.train and not args.corpus and not columns:
        columns = csv_columns(args.train)           # a CSV of one column is read without --column
        if len(columns) != 1:
            raise ValueError(f"--column NAME is required with --train when the CSV has several columns: "
                             f"{args.train} has {len(columns)} ({', '.join(columns)}); name the one(s) to read (the "
                             f"first is the target unless --target says otherwise)")
        if args.target and args.target not in columns:
            raise ValueError(f"--target {args.target!r} must be the CSV's one column, {columns[0]!r}")
    need, why = _min_rows(args, args.season)

    def last_part(data):                    # the most recent 15% of the steps
        parts = split_chronological(data, dev=0.15, test=0.0)
        return parts["train"], parts["dev"]

    return training_splits(args, KIND, TASK, lambda f: read_series(f, columns, min_rows=need, why=why), "steps",
                           corpora="co2|sunspots", hold_out=last_part)


def train(args) -> int:
    from ..tasks.regress import RegressConfig, RegressTask
    from ..train.trainer import seed_everything

    from .common import check_out

    check_out(args)
    cells = cell_config(args)
    columns = _columns(args.column)
    if args.target and columns and args.target not in columns:
        raise ValueError(f"--target {args.target!r} must be one of the --column names {columns}")
    train_data, dev, test = _series_data(args, columns)
    season = train_data.season if args.season is None else (args.season or None)
    config = RegressConfig(columns=columns, target=args.target, window=args.window, horizon=args.horizon,
                           season=season, normalize=args.normalize, relative=args.relative, loss=args.loss,
                           units=args.units, layers=args.layers, bidirectional=args.bidirectional,
                           dropout=args.dropout, cell=cells.cell, cell_options=cells.options()).check()
    seed_everything(args.seed)
    task = RegressTask.from_data(config, train_data)
    return train_and_report(args, task, train_data, dev, test, _REPORTED, "time steps",
                            lambda d: f"dev mae {d['mae']:.4f}, rmse {d['rmse']:.4f} (naive: mae "
                                      f"{d['naive_mae']:.4f}, rmse {d['naive_rmse']:.4f})")


def add_parser(sub) -> None:
    from ..nn import CellConfig
    from ..tasks.regress import RegressConfig

    model = RegressConfig()
    p = sub.add_parser("regress", help="numeric series: a window of the past -> the next H values (LSTM)",
                       description="Train a forecaster: windows of T steps of numeric CSV columns -> LSTM -> the "
                                   "next H values of the target column, beside the naive (last value) and "
                                   "seasonal-naive forecasts. Data: --train/--dev CSV files with a header, or "
                                   "--corpus co2|sunspots (statsmodels' data sets, split chronologically).")
    p.add_argument("--train", help="training series: CSV (UTF-8) with a header row")
    p.add_argument("--dev", help="dev series, for early stopping and model selection (default: the last 15%% of "
                                 "--train)")
    p.add_argument("--corpus", help="a built-in series instead of --train/--dev: co2 or sunspots")
    p.add_argument("--out", required=True, help="the run folder to create")
    g = p.add_argument_group("series")
    g.add_argument("--column", action="append", metavar="NAME",
                   help="input column; repeat it or separate names by commas for several (default: a corpus's series, "
                        "or the one column of a one-column CSV)")
    g.add_argument("--target", metavar="NAME", help="the column to forecast, one of --column (default: the first)")
    g.add_argument("--window", type=positive_int, default=model.window, help=f"T, steps read (default {model.window})")
    g.add_argument("--horizon", type=positive_int, default=model.horizon,
                   help=f"H, steps forecast (default {model.horizon})")
    g.add_argument("--season", type=season_length, default=None,
                   help="season length in steps, for the seasonal-naive baseline (default: the corpus's, 12 for "
                        "co2, 11 for sunspots; none for files; 0: none)")
    g.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=model.normalize,
                   help="z-scores with the training series' mean and std")
    g.add_argument("--relative", action=argparse.BooleanOptionalAction, default=model.relative,
                   help="read the window relative to its last value and predict the change")
    g.add_argument("--loss", choices=["mse", "mae"], default=model.loss)
    g = p.add_argument_group("model")
    g.add_argument("--units", type=positive_int, default=model.units, help="LSTM units per direction")
    g.add_argument("--layers", type=positive_int, default=model.layers)
    g.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=model.bidirectional)
    g.add_argument("--dropout", type=probability, default=model.dropout, help="between layers (--layers > 1)")
    add_cell_args(g, CellConfig.of(model))
    add_training_args(p, epochs=100, batch_size=16, patience=20)
    p.set_defaults(func=train)


def read_test(args, config: dict):
    from ..data.series import read_series

    m = config["model"]
    need = max(m["window"], m.get("season") or 0) + m["horizon"]
    return read_series(args.test, m["columns"], min_rows=need,
                       why=f"the run reads windows of {m['window']} and forecasts {m['horizon']} step(s)")


def print_metrics(metrics: dict, data) -> None:
    print(f"{data.source}: {metrics['n']:,} windows, horizon {metrics['horizon']}")
    rows = [("model", "mae", "rmse"), ("naive (last value)", "naive_mae", "naive_rmse")]
    if "seasonal_naive_mae" in metrics:
        rows.append((f"seasonal naive ({metrics['season']})", "seasonal_naive_mae", "seasonal_naive_rmse"))
    print(f"{'forecast':<24}{'MAE':>12}{'RMSE':>12}")
    for label, mae, rmse in rows:
        print(f"{label:<24}{metrics[mae]:>12.4f}{metrics[rmse]:>12.4f}")
    if metrics["naive_mae"] > 0:
        change = metrics["mae"] / metrics["naive_mae"] - 1
        print(f"model MAE {abs(change):.1%} {'below' if change <= 0 else 'above'} the naive forecast's")


def predict(args, config: dict) -> list[dict]:
    from ..data.series import read_series
    from ..tasks import load_run

    m = config["model"]
    if args.texts:
        raise ValueError("a regression run forecasts from a CSV file: give --file F, not TEXT arguments")
    stdin = None
    if not args.file:
        if sys.stdin is None or sys.stdin.isatty():
            raise ValueError(f"give --file F (or the CSV on standard input): a CSV with the column(s) "
                             f"{', '.join(m['columns'])}; its last {m['window']} rows are the input")
        stdin = sys.stdin.read()
        if not stdin.strip():
            raise ValueError(f"nothing to forecast: give --file F (or the CSV on standard input) with the "
                             f"column(s) {', '.join(m['columns'])}")
    data = read_series(args.file or "<stdin>", m["columns"], min_rows=m["window"],
                       why=f"the run reads the last {m['window']} rows", text=stdin)
    return load_run(args.run, args.device).predict_records([data])


def plain(rec: dict) -> str:
    return f"{rec['input']}\tforecast " + " ".join(f"{v:.6g}" for v in rec["forecast"])


COMMANDS = TaskCommands(TASK, add_train_parser=add_parser, predict=predict, read_test=read_test,
                        print_metrics=print_metrics, plain=plain,
                        explain_inputs=lambda args: list(args.texts) + ([args.file] if args.file else []))  # CSVs
