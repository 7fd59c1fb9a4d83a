"""Training into a run folder, for the CLI and for scripts (loading, evaluating and predicting with a run:
:mod:`lstmkit.tasks.loading`)."""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from ..data import TextDataset
from . import checkpoint
from .trainer import TrainConfig, fit


def _epoch_line(record: dict, metric: str) -> str:
    dev, unit = record["dev"], record.get("unit", "sentences")
    extra = f" macro-F1 {dev['macro_f1']:.4f}" if "macro_f1" in dev and metric != "macro_f1" else ""
    return (f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, dev {metric} {dev[metric]:.4f}"
            f"{extra} ({record['seconds']:.0f} s, {record[unit + '_per_s']:.0f} {unit}/s)"
            + ("  * best so far" if record["best"] else ""))


def train_run(task, train: TextDataset, dev: TextDataset, train_config: TrainConfig, out, log=print,
              extra: dict | None = None) -> dict:
    """Encode, train with early stopping, and write the best model into the run folder ``out``.

    ``metrics.jsonl`` gets one line per epoch (dev metrics without the confusion matrix); the best epoch's
    weights are saved as soon as they are found, so an interrupted run still leaves a usable model.
    """
    out = Path(out)
    with checkpoint.claim_run(out) as created:
        return _train_into(task, train, dev, train_config, out, log, extra, created)


def _train_into(task, train, dev, train_config, out: Path, log, extra, created: bool) -> dict:
    t0 = time.perf_counter()
    # a task may encode its training data with more than dev needs (a classifier's teacher probabilities)
    train_enc, dev_enc = task.encode_training(train), task.encode(dev)
    log(f"{task.name}: {len(train):,} training and {len(dev):,} dev examples, {task.describe()}; "
        f"{sum(p.numel() for p in task.model.parameters()):,} parameters (encoding took {time.perf_counter() - t0:.1f} s)")
    metric = task.primary_metric

    def on_epoch(record):
        line = {k: v for k, v in record.items() if k != "dev"}
        line["dev"] = {k: v for k, v in record["dev"].items() if k not in ("confusion", "per_class")}
        checkpoint.append_metrics(out, line)
        log(_epoch_line(record, metric))

    def on_best(record):
        checkpoint.save_run(out, task, train_config, extra)

    try:
        best = fit(task, train_enc, dev_enc, train_config, on_epoch=on_epoch, on_best=on_best)
    except BaseException:
        if created and not (out / checkpoint.WEIGHTS).exists():  # nothing usable: leave no half-made run
            shutil.rmtree(out, ignore_errors=True)
        raise
    best["seconds_total"] = round(time.perf_counter() - t0, 1)
    log(f"best epoch {best['epoch']}: dev {metric} {best['dev'][metric]:.4f}; "
        f"saved to {out} ({best['seconds_total']:.0f} s in all)")
    return best


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
