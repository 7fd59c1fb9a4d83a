"""Forecasting the built-in series: lstmkit's LSTM (the ``train regress`` defaults) against the naive (last value)
and seasonal-naive forecasts, on the test split (the last 15% of each series, never seen in training).

    python benchmarks/bench_regress.py                        # co2 and sunspots, horizons 1 and 12/3, 3 seeds
    python benchmarks/bench_regress.py --corpora co2 --seeds 1 --threads 2

Prints one table: the series, the horizon H, the test windows, MAE and RMSE (the series' units: ppm, sunspot
number) of the model (mean +- sd over the seeds) and of both baselines, the best epoch and the training time.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import numpy as np
import torch

from lstmkit.data import load_corpus
from lstmkit.tasks.regress import RegressConfig, RegressTask
from lstmkit.train.runs import train_run
from lstmkit.train.trainer import TrainConfig, seed_everything

HORIZONS = {"co2": (1, 12), "sunspots": (1, 3)}


def bench(name: str, horizon: int, seed: int, log) -> dict:
    splits = load_corpus(name)
    seed_everything(seed)
    task = RegressTask.from_data(RegressConfig(horizon=horizon, season=splits["train"].season), splits["train"])
    train_config = TrainConfig(epochs=100, batch_size=16, patience=20, seed=seed, progress=False, device="cpu")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        best = train_run(task, splits["train"], splits["dev"], train_config, f"{out}/run", log=log)
    seconds = time.perf_counter() - t0
    return {**task.evaluate(task.encode(splits["test"])), "epoch": best["epoch"], "seconds": seconds}


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", nargs="+", default=list(HORIZONS), choices=list(HORIZONS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (small LSTMs: 1 is fastest)")
    parser.add_argument("--verbose", action="store_true", help="the training log")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    log = print if args.verbose else (lambda message: None)
    head = (f"{'series (season)':<17}{'H':>3}{'test n':>8}  {'model MAE':>15}{'model RMSE':>15}  {'naive MAE':>10}"
            f"{'RMSE':>8}  {'seas. MAE':>10}{'RMSE':>8}  {'epoch':>6}{'train s':>9}")
    print(head)
    print("-" * len(head))
    for name in args.corpora:
        for horizon in HORIZONS[name]:
            runs = [bench(name, horizon, 13 + k, log) for k in range(args.seeds)]
            r = runs[0]
            mae, rmse = np.array([x["mae"] for x in runs]), np.array([x["rmse"] for x in runs])
            series = f"{name} ({r['season']})"
            print(f"{series:<17}{horizon:>3}{r['n']:>8}  {mae.mean():>8.3f} +-{mae.std():>5.3f}"
                  f"{rmse.mean():>8.3f} +-{rmse.std():>5.3f}  {r['naive_mae']:>10.3f}{r['naive_rmse']:>8.3f}  "
                  f"{r['seasonal_naive_mae']:>10.3f}{r['seasonal_naive_rmse']:>8.3f}  "
                  f"{np.mean([x['epoch'] for x in runs]):>6.0f}{np.mean([x['seconds'] for x in runs]):>9.1f}")
    print(f"\nmachine: {_cpu()}, {os.cpu_count()} CPU cores, torch "
          f"{torch.__version__} on CPU with {args.threads} thread(s); {args.seeds} seed(s) per row (mean +- sd); "
          f"defaults: window 24, 64 units, MSE, normalised on train, relative to the last value; "
          f"up to 100 epochs, patience 20")


if __name__ == "__main__":
    main()
