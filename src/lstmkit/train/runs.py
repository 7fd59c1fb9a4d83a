"""Training into a run folder, for the CLI and for scripts (loading, evaluating and predicting with a run:
:mod:`lstmkit.tasks.loading`)."""
from __future__ import annotations

import contextlib
import shutil
import sys
import time
from pathlib import Path

from ..data import TextDataset
from . import checkpoint, distributed
from .resume import CHECKPOINT, Checkpoints, contradictions
from .trainer import TrainConfig, fit, resolve_device


def _epoch_line(record: dict, metric: str) -> str:
    dev, unit = record["dev"], record.get("unit", "sentences")
    extra = f" macro-F1 {dev['macro_f1']:.4f}" if "macro_f1" in dev and metric != "macro_f1" else ""
    return (f"epoch {record['epoch']}: train loss {record['train_loss']:.4f}, dev {metric} {dev[metric]:.4f}"
            f"{extra} ({record['seconds']:.0f} s, {record[unit + '_per_s']:.0f} {unit}/s)"
            + ("  * best so far" if record["best"] else ""))


def train_run(task, train: TextDataset, dev: TextDataset, train_config: TrainConfig, out, log=print,
              extra: dict | None = None, mode: str = "new", free_options=(), on_record=None) -> dict:
    """Encode, train with early stopping, and write the best model into the run folder ``out``.

    ``metrics.jsonl`` gets one line per epoch (dev metrics with the confusion matrix, not the per-class table it
    gives); the best epoch's weights are saved as soon as they are found, so an interrupted run still leaves a
    usable model, and a checkpoint (:mod:`lstmkit.train.resume`) is kept as the training goes. ``mode``:
    ``"new"`` (``out`` must be new or empty), ``"force"`` (an old run there is replaced), ``"resume"`` (continue
    the run's training from its last checkpoint, or from the start when it has none yet; ``extra["options"]``
    must then equal the run's, but for the ``free_options``). ``on_record(line)`` gets each epoch's
    ``metrics.jsonl`` line as it is written (a TensorBoard logger's).

    Under torchrun every rank calls this with the same arguments: rank 0 claims, writes and logs, the others
    train their shares (:mod:`lstmkit.train.distributed`); after an elastic restart (``TORCHELASTIC_RESTART_COUNT``
    > 0) the training resumes from the run's last checkpoint by itself, whatever ``mode`` says.
    """
    out = Path(out)
    group = distributed.setup(resolve_device(train_config.device))
    if group is not None and group.restart:
        mode = "resume"       # torchrun restarted the job after a failure: go on from the last checkpoint
    main = group is None or group.main
    with contextlib.ExitStack() as stack:
        with distributed.rank0_first(group):      # every rank fails alike where rank 0's claim fails
            created = stack.enter_context(checkpoint.claim_run(out, mode)) if main else False
        best = _train_into(task, train, dev, train_config, out, log if main else _silent, extra or {}, created,
                           mode, set(free_options), group, on_record)
    if group is not None:
        distributed.close()     # the group ends with the training (after a failure: at exit, or settle())
    return best


def _silent(message: str) -> None:
    """The log of ranks other than 0."""


def _train_into(task, train, dev, train_config, out: Path, log, extra, created: bool, mode: str, free: set,
                group=None, on_record=None) -> dict:
    t0 = time.perf_counter()
    main = group is None or group.main
    options = extra.get("options")
    with distributed.rank0_first(group):
        saves = Checkpoints(out, every=train_config.checkpoint_every, options=options,
                            best_file=out / checkpoint.WEIGHTS, resume=mode == "resume" and main)
        if mode == "resume" and main:
            _check_resume(out, saves, options, free)   # before any change to the folder
            start = saves.saved[1]["position"]["epoch"] if saves.saved else 1
            checkpoint.keep_metrics(out, start)
            log(f"resuming {out} at epoch {start} step {saves.saved[1]['position']['step']}" if saves.saved
                else f"{out} has no checkpoint yet: training from the start")
    if group is not None:
        size = train_config.batch_size * train_config.accumulate
        log(f"torchrun: {group.world} processes ({distributed.backend()}), each training about "
            f"{size / group.world:g} of every batch of {size}"
            + (f"; restart {group.restart}" if group.restart else ""))
    # a task may encode its training data with more than dev needs (a classifier's teacher probabilities)
    train_enc, dev_enc = task.encode_training(train), task.encode(dev)
    trained = sum(p.numel() for p in task.model.parameters() if p.requires_grad)
    fixed = sum(p.numel() for p in task.model.parameters()) - trained
    log(f"{task.name}: {len(train):,} training and {len(dev):,} dev examples, {task.describe()}; {trained:,} "
        f"parameters{f' (and {fixed:,} fixed)' if fixed else ''} (encoding took {time.perf_counter() - t0:.1f} s)")
    metric = task.primary_metric

    def on_epoch(record):
        line = {k: v for k, v in record.items() if k != "dev"}
        line["dev"] = {k: v for k, v in record["dev"].items() if k != "per_class"}
        checkpoint.append_metrics(out, line)
        if on_record is not None:
            on_record(line)
        log(_epoch_line(record, metric))

    def on_best(record):
        checkpoint.save_run(out, task, train_config, extra)

    try:
        best = fit(task, train_enc, dev_enc, train_config, on_epoch=on_epoch, on_best=on_best, checkpoints=saves)
    except BaseException:
        # nothing usable nor resumable: leave no half-made run
        if main and created and not (out / checkpoint.WEIGHTS).exists() and not (out / CHECKPOINT).exists():
            shutil.rmtree(out, ignore_errors=True)
        raise
    if main:
        checkpoint.mark_finished(out)
        saves.finish()
    best["seconds_total"] = round(time.perf_counter() - t0, 1)
    if saves.saves:
        best["seconds_checkpoints"] = round(saves.seconds_saving, 2)
    log(f"best epoch {best['epoch']}: dev {metric} {best['dev'][metric]:.4f}; "
        f"saved to {out} ({best['seconds_total']:.0f} s in all, {saves.saves} checkpoints in "
        f"{saves.seconds_saving:.2f} s)")
    if group is not None:
        distributed.barrier()     # the run folder is whole before any rank goes on
    return best


def _check_resume(out: Path, saves: Checkpoints, options, free: set) -> None:
    """A resumed training must be the saved one: the same options (but ``free``), and not finished."""
    config = checkpoint.read_config(out) if (out / checkpoint.CONFIG).exists() else {}
    if config.get("finished"):
        raise ValueError(f"--resume {out}: this run finished its training; nothing to continue (use --force to "
                         f"train it again)")
    saved = saves.saved[1].get("options") if saves.saved else config.get("options")
    if saved is None:           # nothing saved yet (or no options to compare): the training starts afresh
        return
    differ = contradictions(saved, options, free)
    if differ:
        shown = ", ".join(f"--{k.replace('_', '-')} {(saved or {}).get(k)!r} (now {(options or {}).get(k)!r})"
                          for k in differ)
        raise ValueError(f"--resume {out}: options differ from the run's: {shown}; leave them out or as they were")


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
