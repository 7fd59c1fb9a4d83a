"""Whole jobs on run folders, for the CLI and for scripts: train into a run, evaluate a run, predict with it."""
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


def describe(task) -> str:
    """What the task learns from: its vocabularies' sizes and its labels (a task may say it better itself)."""
    if hasattr(task, "describe"):
        return task.describe()
    parts = [f"vocabulary {len(v):,}" if role == "tokens" else f"{role} vocabulary {len(v):,}"
             for role, v in task.vocabs().items()]
    if getattr(task, "labels", None):
        parts.append(f"labels {task.labels}")
    return ", ".join(parts)


def train_run(task, train: TextDataset, dev: TextDataset, train_config: TrainConfig, out, log=print,
              extra: dict | None = None) -> dict:
    """Encode, train with early stopping, and write the best model into the run folder ``out``.

    ``metrics.jsonl`` gets one line per epoch (dev metrics without the confusion matrix); the best epoch's
    weights are saved as soon as they are found, so an interrupted run still leaves a usable model.
    """
    out = Path(out)
    checkpoint.check_new_run(out)
    t0 = time.perf_counter()
    # a task may encode its training data with more than dev needs (a classifier's teacher probabilities)
    train_enc, dev_enc = getattr(task, "encode_training", task.encode)(train), task.encode(dev)
    log(f"{task.name}: {len(train):,} training and {len(dev):,} dev examples, {describe(task)}; "
        f"{sum(p.numel() for p in task.model.parameters()):,} parameters (encoding took {time.perf_counter() - t0:.1f} s)")
    metric = task.primary_metric
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    (out / checkpoint.METRICS).unlink(missing_ok=True)

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


ENSEMBLE_KINDS = ("seq2seq", "classify")   # the kinds of run --ensemble joins


def load_task(run, ensemble=(), device: str = "cpu", rescore=(), inverse=()):
    """The run's task, its model on ``device``; with ``ensemble`` (more run folders of the same kind), one that
    predicts with all of them: a seq2seq ensemble decodes with their next-token probabilities averaged
    (``Seq2SeqTask.ensemble``), a classifier ensemble averages the class probabilities
    (``ClassifyTask.ensemble``); with ``rescore`` (more seq2seq runs, e.g. right-to-left ones) and ``inverse``
    (runs trained target -> source), one whose candidates every model re-ranks (``Seq2SeqTask.rescored``)."""
    task = checkpoint.load_run(run, device)
    joins = (("--ensemble", ensemble, ENSEMBLE_KINDS, lambda t, o: t.ensemble(o)),
             ("--rescore", rescore, ("seq2seq",), lambda t, o: t.rescored(o)),
             ("--rescore-inverse", inverse, ("seq2seq",), lambda t, o: t.rescored(inverse=o)))
    kind = getattr(task, "name", "?")
    for option, more, kinds, join in joins:
        if not more:
            continue
        if kind not in kinds:
            raise ValueError(f"{option} joins {' or '.join(kinds)} runs; {run} is a {kind} run")
        others = [checkpoint.load_run(r, device) for r in more]
        for r, t in zip(more, others):
            if getattr(t, "name", "?") != kind:
                raise ValueError(f"{option} joins runs of one kind: {run} is a {kind} run, {r} a "
                                 f"{getattr(t, 'name', '?')} run")
        try:
            task = join(task, others)         # the ensemble first, so its beam is what gets rescored
        except ValueError as e:
            raise ValueError(f"{option} {' '.join(map(str, more))} with {run}: {e}") from None
    return task


def evaluate_run(run, data, ensemble=(), device: str = "cpu", rescore=(), inverse=(), **options) -> dict:
    """The run's metrics on ``data``, computed on ``device``; ``options`` go to the task's ``evaluate`` (seq2seq:
    ``beam_size``); ``ensemble``: more runs of its kind predicting with it, ``rescore`` and ``inverse``: more
    re-ranking its candidates (see :func:`load_task`)."""
    task = load_task(run, ensemble, device, rescore, inverse)
    metrics = task.evaluate(task.encode(data), **options)
    if ensemble:
        metrics["members"] = 1 + len(ensemble)
    if rescore:
        metrics["rescorers"] = len(rescore)
    if inverse:
        metrics["inverse_rescorers"] = len(inverse)
    return metrics


def predict_run(run, texts: list[str], device: str = "cpu", ensemble=()) -> list[dict]:
    """One record per text, the task's natural fields (see each task's ``predict_records``), computed on
    ``device``; ``ensemble``: more runs predicting with it (see :func:`load_task`)."""
    return load_task(run, ensemble, device).predict_records(list(texts))


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
